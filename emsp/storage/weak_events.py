"""SQLAlchemy event listeners that do not keep their owner alive.

A listener on a sessionmaker lands on that sessionmaker's Session class, in a registry SQLAlchemy
keeps for the whole process, whose entry the listener itself then keeps alive: a bound method there
pins its object and through it the whole eMSP core with its engine and database, for ever. A
process that builds many cores (a test worker, an in-process suite, a sweep) grew with each one,
and every later garbage collection scanned them all.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event


def listen_weakly(target: Any, identifier: str, method: Callable[..., Any]) -> None:
    """`event.listen(target, identifier, method)` for a bound method, holding its object weakly:
    once the object is gone, the listener does nothing."""
    # The object by a plain weak reference and the function apart: what WeakMethod does, without
    # its Python-level __call__ on every commit of every unit.
    owner = weakref.ref(method.__self__)  # type: ignore[attr-defined]
    function = method.__func__  # type: ignore[attr-defined]

    def call(*args: Any, **kwargs: Any) -> Any:
        obj = owner()
        return None if obj is None else function(obj, *args, **kwargs)

    event.listen(target, identifier, call)
