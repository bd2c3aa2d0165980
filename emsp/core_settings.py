"""The eMSP core's settings (what `EmspCore` is built from; also read by the OCPI layer and services)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from emsp.services.fraud import FraudConfig


@dataclass(frozen=True)
class EmspSettings:
    country_code: str = "NL"
    party_id: str = "EMS"
    business_name: str = "emsp-bench eMSP"
    base_url: str = (
        "http://emsp.local/ocpi"  # public base of the OCPI API; /versions is base_url + "/versions"
    )
    database_url: str = "sqlite://"  # in-memory by default; a file or postgresql URL works too
    page_limit: int = 100  # X-Limit of paginated GETs
    max_body_bytes: int = 4 * 1024 * 1024  # larger request bodies are refused with HTTP 413
    max_pending_per_partner: int = 1000  # bus bound per partner queue
    fetch_timeout: timedelta = timedelta(seconds=30)  # a handshake's partner must answer within this
    # True: `handle()` drains the outbox after each response (sim, live bench runs, tests: deterministic).
    # False: a served process drains it from a background worker (`drain_outbox`).
    inline_drain: bool = True
    max_attempts: int = 5  # a failing handler's event is dead-lettered after this many attempts
    fraud: FraudConfig = field(default_factory=FraudConfig)  # thresholds of the fraud rules (FRAUD.md)
    # Pulls from the CPOs' Sender interfaces (emsp.ocpi.pull): an initial sync after registration,
    # a catch-up from the last sync after a link outage (`link_restored`) and every `pull_every`.
    pull_initial: bool = True
    pull_every: timedelta | None = None
    pull_retry_after: timedelta = timedelta(minutes=1)
    pull_max_pages: int = 1000
    # Keys the credentials tokens the eMSP issues (HMAC): random per core unless given. None: the
    # unkeyed, predictable form, for in-bench worlds only (bench/world.py; byte-identical runs).
    token_secret: bytes | None = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
