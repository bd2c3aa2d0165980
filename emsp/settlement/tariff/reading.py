"""How a tariff is *read*: the spec's reading, and the readings partners are known to apply instead.

The eMSP always prices with SPEC_READING. A simulated CPO may price its own CDRs with another
reading (its dialect), so that the eMSP's exact re-pricing disagrees with the CPO's total the way it
does with partners in the field. Each field names one question and the spec's answer is its default:

- cost_rounding: money is rounded once, on the dimension totals (`on_total`), or each priced
  component line is rounded to cents first and then summed (`per_component`);
- step_size: applied once on the session's total volume per dimension (mod_cdrs, step_size: "on
  the total"), or on every charging period's volume (`per_period`);
- min_duration_from: min_duration/max_duration count from the session start (mod_tariffs,
  TariffRestrictions) or from the moment energy first flowed (`charging_start`);
- end_time_midnight: an end_time of 00:00 is the end of the day (mod_tariffs: "To stop at end of
  the day use: 00:00"), or the start of it (`start_of_day`): a window ending at 00:00 then ends
  before it begins and never applies;
- restriction_clock: start_time/end_time/day_of_week/dates are local time of the Location (`local`)
  or, wrongly, UTC;
- midnight_wrap: a window whose end_time is before its start_time runs past midnight (mod_tariffs:
  "the tariff is valid from start_time until end_time the next day"), or never applies (`unsupported`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Reading:
    cost_rounding: Literal["on_total", "per_component"] = "on_total"
    step_size: Literal["on_total", "per_period"] = "on_total"
    min_duration_from: Literal["session_start", "charging_start"] = "session_start"
    end_time_midnight: Literal["end_of_day", "start_of_day"] = "end_of_day"
    restriction_clock: Literal["local", "utc"] = "local"
    midnight_wrap: Literal["supported", "unsupported"] = "supported"


SPEC_READING = Reading()
