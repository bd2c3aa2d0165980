"""The timeline's effects on a mock CPO's OCPI role: a new version of a tariff (with the CPO's
policy for sessions in progress), CDR corrections (credit and replacement), and the end-of-day CDR
batch. The base of `OcpiCpo` (simulators/cpo/ocpi_cpo.py), which owns the sessions and the batch."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from emsp.timeutil import format_utc
from simulators.cpo.cdr_batch import CdrBatch
from simulators.cpo.corrections import credit_cdr, replacement_cdr
from simulators.cpo.ocpi_objects import CpoSession
from simulators.cpo.ocpi_party import CpoOutput, OcpiParty
from simulators.cpo.tariff_switch import TariffChange


class CpoTimeline(OcpiParty):
    # Set by OcpiCpo: transactions in progress, each tariff_change as published, the held CDRs.
    _sessions: dict[tuple[str, str], CpoSession]
    _tariff_changes: list[TariffChange]
    _batch: CdrBatch

    def publish_tariff(
        self, old_id: str, new_id: str, tariff: Mapping[str, Any], policy: str, now: datetime
    ) -> CpoOutput:
        """A new version of `old_id`, under `new_id`: PUT it, repoint the connectors that used the old one.

        Sessions in progress under `old_id` keep it (`price_at_start`) or switch now (`split_periods`).
        """
        data = dict(tariff) | {
            "country_code": self.country_code,
            "party_id": self.party_id,
            "id": new_id,
            "last_updated": format_utc(now),
        }
        self._tariff_json[new_id] = data
        self._tariffs[new_id] = self._parse_tariff(data)
        self._tariff_changes.append((now, old_id, new_id, policy))
        if policy == "split_periods":
            for session in self._sessions.values():
                current = session.tariff_switches[-1][1] if session.tariff_switches else session.tariff_id
                if current == old_id:
                    session.tariff_switches.append((now, new_id))
                    self.truth.tariff_switches[session.session_id] = list(session.tariff_switches)
        moved = [site for site in self._sites if site.tariff_id == old_id]
        self._sites = [replace(s, tariff_id=new_id) if s.tariff_id == old_id else s for s in self._sites]
        for site in self._sites:
            for station in site.stations:
                self._station_site[station.station_id] = site
        if not self._registered:
            return CpoOutput()  # the handshake will push the current tariffs and locations
        out = CpoOutput(requests=[self._put_tariff(new_id, now)])
        for site in self._sites:
            if site.location_id in {m.location_id for m in moved}:
                out.requests.append(self._put_location(site, now))
        return out

    def correct_cdrs(self, now: datetime, *, share: float, rng: random.Random) -> CpoOutput:
        """Correct a share (at least one when > 0) of the CDRs sent so far: a credit CDR and a
        replacement each, as the dialect's `credit_cdrs` says (simulators/cpo/corrections.py)."""
        candidates = [c for c in self.truth.cdrs if c.session_id not in self.truth.corrections]
        if share <= 0 or not candidates:
            return CpoOutput()
        chosen = sorted(rng.sample(range(len(candidates)), max(1, round(share * len(candidates)))))
        style = self.dialect.credit_cdrs
        out = CpoOutput()
        for index in chosen:
            sent = candidates[index]
            original = self.published.get("cdrs", sent.cdr_id)
            if original is None:
                continue
            bodies = (
                [] if style == "none" else [credit_cdr(original, now, reference=style == "with_reference")]
            )
            bodies.append(replacement_cdr(original, now))
            self.truth.corrections[sent.session_id] = {
                "with_reference": "credit_and_rebill",
                "without_reference": "credit_and_rebill_without_reference",
                "none": "rebill_only",
            }[style]
            for body in bodies:
                self.published.put("cdrs", body["id"], body)
                url = self._endpoint("cdrs")
                request = self._send(
                    "cdr", "POST", url, now, body=body, correlation=sent.session_id, cdr_id=body["id"]
                )
                out.requests.append(request)
        return out

    def hold_cdrs(self) -> None:
        self._batch.hold()

    def release_cdrs(
        self, now: datetime, *, duplicate: float = 0.0, late: float = 0.0, rng: random.Random | None = None
    ) -> CpoOutput:
        """POST the held CDRs at once (CdrBatch: some twice, some later); a later call sends the late ones."""
        out = CpoOutput()
        for cdr, correlation in self._batch.release(duplicate=duplicate, late=late, rng=rng):
            out.requests.append(
                self._send(
                    "cdr",
                    "POST",
                    self._endpoint("cdrs"),
                    now,
                    body=cdr,
                    correlation=correlation,
                    cdr_id=cdr["id"],
                )
            )
        return out
