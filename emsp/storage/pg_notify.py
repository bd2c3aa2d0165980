"""Cross-process cache invalidation on PostgreSQL: LISTEN/NOTIFY when partners or tokens change.

Several eMSP processes may serve one database, each with in-memory caches (credentials, the token
index). A transaction that changes a partner or token row through the ORM also sends a notification
naming what changed (PostgreSQL delivers it only if that transaction commits); every served process
listens on a connection of its own, in a daemon thread, and drops the matching cache. The signal
reaches the other processes a moment after the commit: a request they serve within that moment may
still be answered from the old entry. SQLite serves one process and needs none of this.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from emsp.storage.tables import PartnerRow, TokenRow

CHANNEL = "emsp_changes"
_KINDS: tuple[tuple[type, str], ...] = ((PartnerRow, "partners"), (TokenRow, "tokens"))
_SENT = "emsp.notified"
_notify = text(f"select pg_notify('{CHANNEL}', :kind)")


def install(factory: sessionmaker[Session]) -> None:
    """Make every transaction of `factory`'s sessions that changes partners or tokens notify."""
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "after_commit", _after_end)
    event.listen(factory, "after_rollback", _after_end)


def _after_flush(session: Session, _context: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    sent: set[str] = session.info.setdefault(_SENT, set())
    for row_type, kind in _KINDS:
        if kind not in sent and any(isinstance(o, row_type) for o in changed):
            session.connection().execute(_notify, {"kind": kind})  # queued; sent at commit
            sent.add(kind)


def _after_end(session: Session) -> None:
    session.info.pop(_SENT, None)


def libpq_dsn(url: URL) -> str:
    """The SQLAlchemy URL as a libpq URI (keeps options such as `-csearch_path=...`)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """Calls `on_change(kind)` from its own thread for every change another process committed.

    On (re)connecting it calls `on_change` for every kind: what changed while it was not listening
    is unknown, so every cache starts over."""

    def __init__(self, engine: Engine, on_change: Callable[[str], None]) -> None:
        self._dsn = libpq_dsn(engine.url)
        self._on_change = on_change
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emsp-change-listener", daemon=True)

    def start(self, timeout: float = 5.0) -> bool:
        """Start listening; True once the LISTEN is in place (False: not within `timeout`)."""
        self._thread.start()
        return self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    for _, kind in _KINDS:
                        self._on_change(kind)
                    self._ready.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._on_change(note.payload)
            except psycopg.Error:
                self._stop.wait(0.5)  # the database went away: listen again once it is back
