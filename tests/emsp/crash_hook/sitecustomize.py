"""The crash test's hook, for the served eMSP it starts (tests/emsp/test_crash.py) and nothing else.

Python imports `sitecustomize` at start-up from its path: the crash test puts this directory on the
served process's PYTHONPATH, so the real `emsp-bench serve emsp` runs with the hook, while the
service itself has no such hook, no option and no endpoint for it (off by default, not reachable
from outside). With CRASH_TEST_KILL_AFTER_CDR_COMMIT=<cdr id> the process SIGKILLs itself right
after the transaction that stored that CDR committed: before the answer and before any handler ran
(the window the durable outbox closes).
"""

from __future__ import annotations

import os

_CDR_ID = os.environ.get("CRASH_TEST_KILL_AFTER_CDR_COMMIT")

if _CDR_ID:
    import signal
    from collections.abc import Iterable
    from typing import Any

    from emsp.bus import CdrReceived
    from emsp.outbox import Outbox

    _committed = Outbox.committed

    def _committed_then_killed(self: Outbox, events: Iterable[Any]) -> None:
        events = list(events)
        if any(isinstance(e, CdrReceived) and e.cdr.cdr_id == _CDR_ID for e in events):
            os.kill(os.getpid(), signal.SIGKILL)
        _committed(self, events)

    Outbox.committed = _committed_then_killed  # type: ignore[method-assign]
