"""An eMSP core that is dropped is freed: nothing process-wide (SQLAlchemy's event registry) keeps
it, its engine and its database alive. A process that builds many cores - a test worker, an
in-process suite, a sweep - must not grow with each one."""

from __future__ import annotations

import gc
import weakref

from emsp_helpers import T0, FakePricer, V, register

from emsp.core import EmspCore, EmspSettings


def _used_core() -> weakref.ref[EmspCore]:
    """A core that registered a partner and answered an authorization (every session listener ran)."""
    core = EmspCore(EmspSettings(), pricer=FakePricer())
    cpo = register(core)
    core.issue_token("RFID1", contract_id="NL-EMS-C1", now=T0)
    assert cpo.call("POST", f"{V}/tokens/RFID1/authorize?type=RFID").status == 200
    return weakref.ref(core)


def test_a_dropped_core_is_freed_and_the_next_one_still_works() -> None:
    first = _used_core()
    gc.collect()
    assert first() is None
    second = _used_core()  # a later core is unaffected by the first one's listeners being gone
    gc.collect()
    assert second() is None
