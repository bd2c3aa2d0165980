"""The scenario timeline: things that happen to the world at a time, or during a window.

Both runtimes implement every event type defined here, from the same validated models. Instants are
aware datetimes inside the scenario's [start, end]; windows are `from`/`until` pairs. What each
event means on the wire:

- `tariff_change`: at `at`, CPO `cpo` publishes a new version of tariff `tariff` (prices from `file`,
  `last_updated` = `at`) under the tariff id `new_id` (default `<tariff>-<yyyymmddHHMM>`), and points
  its connectors at it. A new id keeps the old version addressable: mod_cdrs ChargingPeriod.tariff_id
  names a tariff by id only, so two versions under one id could not be told apart by the eMSP.
  Sessions in progress follow the CPO's `mid_session_tariff` policy (`price_at_start`: the whole
  session under the old version; `split_periods`: periods from `at` on reference the new one).
- `link`: during the window, the OCPP (stations <-> CSMS) or OCPI (CPO <-> eMSP) link of a CPO has
  these properties instead of its own. `loss` is the chance a message needs a TCP retransmission
  (it arrives one retransmission timeout later; nothing is lost), `duplicate` the chance an OCPI
  request is delivered twice (a client retry whose first response was lost), `reorder` the chance an
  OCPI request does not wait for the ones sent before it (HTTP requests on separate connections).
- `outage`: during the window, party `party` (`emsp` or a CPO id) is unreachable: requests to it are
  refused (`refused`: connection refused) or answered `503` (`http_503`). The mock CPO retries its own
  requests with backoff, in order, and loses none.
- `station_offline`: during the window, the stations lose their OCPP-J connection. They queue
  transaction-related messages (1.6: StartTransaction, StopTransaction and transaction MeterValues;
  2.0.1 E04: TransactionEvent, marked `offline: true`) and deliver them in order on reconnect.
  Drivers do not start new sessions there meanwhile.
- `token_block`: at `at`, the eMSP blocks the token of known driver number `driver` (0-based, in the
  order drivers are drawn); the CPO learns it by the eMSP's Tokens push and later authorizations
  are refused.
- `ocpp_call`: at `at`, the mock CSMS sends the CSMS-initiated CALL `action` with `payload` to each of
  `stations` (e.g. UpdateFirmware, SendLocalList, SetChargingProfile, Reset); the payload must be
  schema-valid for every named station's OCPP version. A station offline then gets it on reconnect.
  What they answered is counted in the summary (`ocpp_calls.<action>`).
- `cdr_hold`: CDRs the CPO would send during the window are held and POSTed all at once at `until`
  (an end-of-day batch); `late` is the share that misses the batch and is POSTed `late_minutes` later,
  `duplicate` the share of the batch (the CDRs not late) POSTed twice (a re-run of the batch job):
  of all held CDRs, about `duplicate * (1 - late)` go twice. `late: 1` leaves no batch to duplicate,
  so `duplicate` is refused with it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bench.field_error import FieldError
from bench.no_boolean_numbers import NoBooleanNumbers

TariffPolicy = Literal["price_at_start", "split_periods"]
Share = Annotated[float, Field(ge=0, le=1)]
MAX_LINK_MS = 3_600_000  # the longest latency or jitter of a link: an hour (bench/scenario.py LinkSpec)


class _Event(NoBooleanNumbers, BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    @field_validator("at", "start", "end", mode="after", check_fields=False)
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (e.g. 2026-03-02T07:30:00Z)")
        try:
            return value.astimezone(UTC)
        except OverflowError:  # pydantic turns only ValueError into a field error
            raise ValueError("out of the range of a datetime in UTC") from None


class Window(_Event):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="until")

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise FieldError(("until", "from"), "`until` must be after `from`")
        return self

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


class TariffChange(_Event):
    type: Literal["tariff_change"]
    at: datetime
    cpo: str
    tariff: str  # id of one of the CPO's tariffs (or of an earlier change's new_id)
    file: str  # OCPI Tariff JSON, relative to the scenario file
    new_id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9._-]{1,36}$")] = None

    def published_id(self) -> str:
        return self.new_id or f"{self.tariff}-{self.at:%Y%m%d%H%M}"


class LinkChange(Window):
    type: Literal["link"]
    cpo: str
    link: Literal["ocpp", "ocpi"]
    latency_ms: Annotated[float, Field(ge=0, le=MAX_LINK_MS)] = 20.0
    jitter_ms: Annotated[float, Field(ge=0, le=MAX_LINK_MS)] = 0.0
    loss: Share = 0.0
    duplicate: Share = 0.0
    reorder: Share = 0.0

    @model_validator(mode="after")
    def _ocpp_is_one_stream(self) -> LinkChange:
        if self.link == "ocpp" and (self.duplicate or self.reorder):
            # One WebSocket over TCP per station: it neither duplicates nor reorders frames.
            raise ValueError("duplicate and reorder apply to OCPI links only (OCPP-J is one TCP stream)")
        return self


class Outage(Window):
    type: Literal["outage"]
    party: str  # "emsp" or a CPO id
    mode: Literal["refused", "http_503"] = "http_503"


class StationOffline(Window):
    type: Literal["station_offline"]
    stations: Annotated[list[str], Field(min_length=1)]


class TokenBlock(_Event):
    type: Literal["token_block"]
    at: datetime
    driver: Annotated[int, Field(ge=0)]


class CdrHold(Window):
    type: Literal["cdr_hold"]
    cpo: str
    duplicate: Share = 0.0
    late: Share = 0.0
    late_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 60  # up to a week


class CdrCorrection(_Event):
    """The CPO corrects a share of the CDRs it sent so far: a credit CDR for each and a replacement
    (how, the CPO's dialect says: `credit_cdrs`). Which ones is drawn from the seed."""

    type: Literal["cdr_correction"]
    at: datetime
    cpo: str
    share: Share = 0.1  # of the CDRs sent before `at`; at least one when > 0


class OcppCall(_Event):
    type: Literal["ocpp_call"]
    at: datetime
    stations: Annotated[list[str], Field(min_length=1)]
    action: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,64}$")]
    payload: dict[str, Any] = {}


Event = Annotated[
    TariffChange | LinkChange | Outage | StationOffline | TokenBlock | CdrHold | CdrCorrection | OcppCall,
    Field(discriminator="type"),
]

EVENT_TYPES = (
    "tariff_change",
    "link",
    "outage",
    "station_offline",
    "token_block",
    "cdr_hold",
    "cdr_correction",
    "ocpp_call",
)
