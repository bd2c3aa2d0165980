"""The `emsp-bench` entry point: imports the CLI (a second or more of imports) under a Ctrl-C guard.

Ctrl-C during those imports would otherwise print a traceback of whatever module was loading; it is
an interrupt like any other (DESIGN: exit 130), said in one line. SIGTERM (CI cancel, docker stop)
is handled as Ctrl-C from the first import on (bench/cli_signals.py).
"""

from __future__ import annotations

import sys

INTERRUPTED = 130


def main() -> None:
    from bench.cli_signals import sigterm_as_interrupt

    with sigterm_as_interrupt():
        try:
            from bench.cli import main as cli_main
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(INTERRUPTED) from None
        cli_main()
