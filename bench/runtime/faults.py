"""Faults of the bench itself (exit 3): a run that could not complete is never the eMSP's failure."""

from __future__ import annotations

import traceback
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent.parent
_PACKAGES = ("bench", "simulators", "emsp")


class SimRuntimeError(RuntimeError):
    """The `sim` runtime could not complete the run: an actor raised inside the simulation."""


def describe_fault(exc: BaseException) -> str:
    """One line: the exception and the innermost project frame it came from (`csms.py:79 in on_frame`)."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            relative = Path(frame.filename).resolve().relative_to(_ROOT)
        except ValueError:
            continue
        if relative.parts and relative.parts[0] in _PACKAGES:
            where = f" in {relative.as_posix()}:{frame.lineno} ({frame.name})"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}{where}" if text else f"{type(exc).__name__}{where}"
