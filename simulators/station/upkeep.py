"""A station's upkeep, version-neutral: its local authorization list, firmware and log/diagnostics
jobs that progress over time, installed certificates, display messages and variable monitors.

The version's handlers (`v16_upkeep`, `v201_upkeep`) read the CSMS's requests into these and choose
the wire names; this module keeps the state and the timeline of a job's status notifications.

A job is a list of steps, each a CALL the station sends at an instant (FirmwareStatusNotification
Downloading, then Downloaded ...). The station runs due steps from its own scheduler
(`VirtualStation._due`, rank 6), so both runtimes send them at the same instants. A step may wait
for the station to be idle (installing firmware never cuts a charging session short: 1.6 §5.19 and
2.0.1 L01.FR.06 let a station finish its transactions first) and may end in a reboot.

Nothing here is a real download, signature check or upload: a virtual station has no file to move.
The durations are fixed (below) so runs stay deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulators.ocppj import Payload

DOWNLOAD = timedelta(seconds=30)  # fixed: a virtual station has nothing to download
INSTALL = timedelta(seconds=20)
UPLOAD = timedelta(seconds=10)
BUSY_RETRY = timedelta(seconds=60)  # a step that waits for idle looks again after this
ZERO = timedelta(0)
DOWNLOADING = [(ZERO, "Downloading", False), (DOWNLOAD, "Downloaded", False)]  # (delay, status, idle)
UPLOADING = [(ZERO, "Uploading", False), (UPLOAD, "Uploaded", False)]
LOCAL_LIST_MAX = 1000  # entries the station can hold (1.6 LocalAuthListMaxLength)
SEND_LIST_MAX = 100  # entries one SendLocalList may carry (1.6 SendLocalListMaxLength)


@dataclass(slots=True)
class Step:
    """A CALL to send `delay` after the job's previous step; `when_idle`: not while a transaction
    runs (then `BUSY_RETRY` later); `then`: run once it is queued (e.g. the reboot after installing)."""

    delay: timedelta
    action: str
    payload: Payload
    when_idle: bool = False
    then: Callable[[datetime], None] | None = None


@dataclass(slots=True)
class Job:
    """Steps sent one after the other; `due`: when the first of them goes. A step that waits for
    idle delays every later one with it, so their order on the wire is always the job's."""

    name: str  # "firmware", "log", "diagnostics"
    due: datetime
    steps: list[Step]
    last: str = "Idle"  # the status it last sent (what a TriggerMessage for its notification reports)


@dataclass(slots=True)
class LocalList:
    """1.6 §5.15 / 2.0.1 D01: a version and the tokens' authorization info. Version 0: empty.
    Tokens compare without case (1.6 idTag CiString20, 2.0.1 idToken "case insensitive"): an entry
    keeps the spelling it was first given."""

    version: int = 0
    entries: dict[str, Payload] = field(default_factory=dict)  # token -> idTagInfo / idTokenInfo

    def update(self, version: int, full: bool, items: list[tuple[str, Payload | None]]) -> str:
        """Apply a SendLocalList: "Accepted", "VersionMismatch" or "Failed" (too large)."""
        if len(items) > SEND_LIST_MAX:
            return "Failed"
        if not full and version <= self.version:
            return "VersionMismatch"  # a differential update must move the version forward
        entries: dict[str, Payload] = {} if full else dict(self.entries)
        for token, info in items:
            key = _entry_key(entries, token)
            if info is None:
                entries.pop(key, None)  # no info in a differential update: remove the entry
            else:
                entries[key] = info
        if len(entries) > LOCAL_LIST_MAX:
            return "Failed"
        self.version, self.entries = (version if entries or not full else 0), entries
        return "Accepted"

    def info_of(self, token: str) -> Payload | None:
        return self.entries.get(_entry_key(self.entries, token))

    def remove(self, token: str) -> None:
        self.entries.pop(_entry_key(self.entries, token), None)

    def status_of(self, token: str) -> str | None:
        info = self.info_of(token)
        return None if info is None else str(info.get("status"))


def _entry_key(entries: dict[str, Payload], token: str) -> str:
    """The key under which `entries` holds `token` whatever its case (`token` when none)."""
    if token in entries:
        return token  # the usual case, without a scan
    folded = token.casefold()
    return next((key for key in entries if key.casefold() == folded), token)


@dataclass(slots=True)
class Certificate:
    kind: str  # the version's certificate type (e.g. CentralSystemRootCertificate, CSMSRootCertificate)
    pem: str
    hash_data: Payload


def certificate_hash_data(pem: str) -> Payload | None:
    """CertificateHashDataType of a PEM certificate (issuer name and key hashed, serial number), or
    None when it is not a certificate. SHA256 as both versions allow."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        cert = x509.load_pem_x509_certificate(pem.encode("utf-8"))
    except ValueError:
        return None
    key = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": hashlib.sha256(cert.issuer.public_bytes()).hexdigest(),
        "issuerKeyHash": hashlib.sha256(key).hexdigest(),
        "serialNumber": format(cert.serial_number, "x"),
    }


@dataclass(slots=True)
class Upkeep:
    local_list: LocalList = field(default_factory=LocalList)
    local_list_enabled: bool = True
    local_authorize_offline: bool = True
    firmware_version: str | None = None  # reported at boot once an update installed one
    jobs: list[Job] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    messages: dict[int, Payload] = field(default_factory=dict)  # display message id -> message
    monitors: dict[int, Payload] = field(default_factory=dict)  # monitor id -> SetMonitoringData
    monitoring_level: int = 9
    network_profiles: dict[int, Payload] = field(default_factory=dict)  # 2.0.1 configuration slot -> data
    request_ids: dict[str, int] = field(default_factory=dict)  # job name -> 2.0.1/1.6-security requestId
    boot_reason: str | None = None  # 2.0.1: why the next boot happens when it is not a plain reset
    published: dict[str, list[str]] = field(default_factory=dict)  # 2.0.1 L03: checksum -> its URIs

    def start(self, name: str, at: datetime, steps: list[Step]) -> None:
        """Run a job from `at` (its first step `steps[0].delay` later); one job per name: a new
        firmware update replaces the one under way (1.6 §5.19 / 2.0.1 L01.FR.24 cancel it)."""
        self.jobs = [j for j in self.jobs if j.name != name]
        request_id = steps[0].payload.get("requestId") if steps else None
        if isinstance(request_id, int):
            self.request_ids[name] = request_id
        if steps:
            self.jobs.append(Job(name, at + steps[0].delay, steps))

    def running(self, name: str) -> bool:
        return any(j.name == name for j in self.jobs)

    def current(self, name: str) -> str:
        """The status of the job `name` for a triggered notification: its last one, Idle if none runs."""
        return next((j.last for j in self.jobs if j.name == name), "Idle")

    def triggered(self, name: str) -> Payload:
        """A triggered status notification of job `name`: its status, and its requestId while it
        runs (2.0.1 L01.FR.20 / N01: the id is left out only when no job is under way)."""
        if not self.running(name):
            return {"status": "Idle"}
        request_id = self.request_ids.get(name)
        return {"status": self.current(name), **({"requestId": request_id} if request_id is not None else {})}

    def next_at(self) -> datetime | None:
        return min((j.due for j in self.jobs), default=None)

    def take_due(self, now: datetime, idle: bool) -> Step | None:
        """The step due first at or before `now` (None if none). A step that waits for idle while a
        transaction runs is put off by `BUSY_RETRY` (returns None: look again)."""
        due = [j for j in self.jobs if j.due <= now]
        if not due:
            return None
        job = min(due, key=lambda j: j.due)  # ties: the job started first (list order, stable)
        step = job.steps[0]
        if step.when_idle and not idle:
            job.due = job.due + BUSY_RETRY
            return None
        job.steps.pop(0)
        job.last = str(step.payload.get("status", job.last))
        if job.steps:
            job.due = job.due + job.steps[0].delay
        else:
            self.jobs.remove(job)
        return step

    def covers(self, token: str) -> bool:
        """The local list allows this token (offline authorization, 1.6 LocalAuthorizeOffline,
        2.0.1 C13 / OfflineTxForUnknownIdEnabled not modelled: unknown tokens wait for the CSMS)."""
        return self.local_list_enabled and self.local_list.status_of(token) == "Accepted"


def steps(action: str, statuses: list[tuple[timedelta, str, bool]], extra: Payload) -> list[Step]:
    """`action` with each status, `delay` after the previous one; `extra` goes into every payload
    (e.g. the 2.0.1 requestId). The bool: the step waits for idle."""
    return [Step(delay, action, {"status": status, **extra}, idle) for delay, status, idle in statuses]


def csr_pem(station_id: str, organization: str) -> str:
    """A certificate signing request for the station (SignCertificate). The key is Ed25519 derived
    from the station id, whose signatures are deterministic: runs stay byte-identical. Not a secret
    anyone should trust: a virtual station's key is only as private as its id."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(station_id.encode("utf-8")).digest())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, station_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    request = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, None)
    return request.public_bytes(Encoding.PEM).decode("ascii")


def firmware_name(location: str) -> str:
    """The version a firmware image installs, read from its file name (…/fw-2.1.bin -> fw-2.1): a
    virtual station has no image to look into; the boot then reports it (firmwareVersion, 50 chars)."""
    name = location.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    return (name.rsplit(".", 1)[0] or "updated")[:50]


def add_certificate(upkeep: Upkeep, kind: str, pem: str) -> bool:
    """Keep a certificate the CSMS sent (InstallCertificate, CertificateSigned); False: no certificate."""
    hashed = certificate_hash_data(pem)
    if hashed is not None:
        upkeep.certificates.append(Certificate(kind, pem, hashed))
    return hashed is not None


# Handlers both versions share: the requests and answers of these two are alike in 1.6 (security
# extension) and 2.0.1 (A05, M04). Signatures as the version handler tables want them.
def install_certificate(st: Any, p: Payload, now: datetime) -> Payload:
    return {
        "status": "Accepted"
        if add_certificate(st.upkeep, p["certificateType"], p["certificate"])
        else "Rejected"
    }


def delete_certificate(st: Any, p: Payload, now: datetime) -> Payload:
    upkeep: Upkeep = st.upkeep
    kept = [c for c in upkeep.certificates if c.hash_data != p["certificateHashData"]]
    if len(kept) == len(upkeep.certificates):
        return {"status": "NotFound"}
    upkeep.certificates = kept
    return {"status": "Accepted"}


def get_log(st: Any, p: Payload, now: datetime) -> Payload:
    """GetLog (1.6 security extension, 2.0.1 N01): upload at once, LogStatusNotification per step."""
    upkeep: Upkeep = st.upkeep
    status = "AcceptedCanceled" if upkeep.running("log") else "Accepted"
    upkeep.start("log", now, steps("LogStatusNotification", UPLOADING, {"requestId": p["requestId"]}))
    kind = "security" if p["logType"] == "SecurityLog" else "diagnostics"
    return {"status": status, "filename": f"{st.station_id}-{kind}.log"}
