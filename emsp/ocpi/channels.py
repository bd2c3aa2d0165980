"""Which partner carries our calls to a party: the one resolver below the services.

A party (country_code, party_id) is reached bilaterally when a registered partner that is not a hub
is configured for it; else through a registered hub partner whose configured parties list it (the
operator's configuration decides: transport_and_format, Message Routing); else through a hub that
reported it in its HubClientInfo. Through a hub every call carries the routing headers naming the
party (OCPI-to-*) and us (OCPI-from-*). A party a hub reports as anything but CONNECTED is not
called (mod_hub_client_info: OFFLINE, PLANNED and SUSPENDED parties cannot be reached); when it is
CONNECTED again we catch up by a pull. Token pushes, commands and pulls all ask here, so services
never know which channel a party is on.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.ocpi.adapter import Settings
from emsp.storage.tables import ClientInfoRow, PartnerRow
from emsp.wire import loads

Party = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Channel:
    partner_id: str
    hub: bool
    party: Party
    status: str | None  # the hub's ClientInfo status of the party; None: not reported (bilateral)

    @property
    def callable(self) -> bool:
        return self.status in (None, "CONNECTED")

    @property
    def name(self) -> str:
        """`bilateral` or the hub partner's id (summary figures per channel)."""
        return self.partner_id if self.hub else "bilateral"

    def headers(self, settings: Settings) -> dict[str, str]:
        """Routing headers for a call to the party on this channel (transport_and_format)."""
        cc, pid = self.party
        return {
            "OCPI-from-country-code": settings.country_code,
            "OCPI-from-party-id": settings.party_id,
            "OCPI-to-country-code": cc,
            "OCPI-to-party-id": pid,
        }


def _configured(row: PartnerRow, role: str | None = None) -> list[Party]:
    entries = loads(row.parties_json or "[]")
    return [(cc, pid) for cc, pid, r in entries if role is None or r == role]


def _registered(db: Session) -> list[PartnerRow]:
    return list(
        db.scalars(
            select(PartnerRow).where(PartnerRow.registered.is_(True)).order_by(PartnerRow.partner_id)
        ).all()
    )


def _status(db: Session, hub_id: str, party: Party) -> str | None:
    row = db.get(ClientInfoRow, (hub_id, *party))
    return None if row is None else row.status


def resolve(db: Session, country_code: str, party_id: str) -> Channel | None:
    """The channel to the party now, or None when no registered partner reaches it."""
    party = (country_code.upper(), party_id.upper())
    partners = _registered(db)
    for row in partners:
        if not row.hub and party in _configured(row):
            return Channel(row.partner_id, False, party, None)
    for row in partners:
        if row.hub and party in _configured(row):
            return Channel(row.partner_id, True, party, _status(db, row.partner_id, party))
    for row in partners:
        if row.hub and (status := _status(db, row.partner_id, party)) is not None:
            return Channel(row.partner_id, True, party, status)
    return None


def cpo_channels(db: Session, partner: PartnerRow) -> list[Channel]:
    """The CPO parties `partner` is the channel for (configured, or for a hub also reported in its
    ClientInfo), each with its channel; empty for a bilateral partner without configured CPOs."""
    parties = _configured(partner, "CPO")
    if partner.hub:
        reported = db.scalars(
            select(ClientInfoRow)
            .where(ClientInfoRow.partner == partner.partner_id, ClientInfoRow.role == "CPO")
            .order_by(ClientInfoRow.country_code, ClientInfoRow.party_id)
        ).all()
        parties += [(r.country_code, r.party_id) for r in reported]
    parties = list(dict.fromkeys(parties))
    out = []
    for cc, pid in parties:
        channel = resolve(db, cc, pid)
        if channel is not None and channel.partner_id == partner.partner_id:
            out.append(channel)
    return out
