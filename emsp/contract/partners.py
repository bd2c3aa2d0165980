"""`/api/v1/partners`: who may connect as which parties (the operator decides), and registering
with a partner ourselves (credentials handshake, the eMSP as Sender)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from emsp.contract.common import invalid
from emsp.contract.deps import Run, now
from emsp.contract.guard import CONFLICT, NOT_FOUND
from emsp.contract.partner_models import (
    FindingOut,
    PartnerIn,
    PartnerOut,
    Party,
    PullOut,
    RegisterIn,
    RegistrationOut,
    Tolerate,
)
from emsp.core import EmspCore, RegistrationRefused
from emsp.findings import describe
from emsp.handshakes import RegistrationOutcome
from emsp.ocpi.tolerance import tolerance_of_json
from emsp.services import findings
from emsp.services.partners import PartnerConfigError, PartyRole, parties_of
from emsp.storage.tables import FindingRow, PartnerRow
from emsp.timeutil import format_utc
from emsp.wire import loads

Now = Annotated[datetime, Depends(now)]
REGISTER_TIMEOUT_S = 30.0  # wall seconds the partner gets to answer our handshake (then 3001)


def _asdict(party: PartyRole) -> dict[str, str]:
    return {"country_code": party.country_code, "party_id": party.party_id, "role": party.role}


def partner_out(row: PartnerRow) -> PartnerOut:
    # An unregistered partner has no version and no endpoints in use, as OCPI sees it too
    # (emsp.ocpi.credentials_cache); a row unregistered by an older eMSP may still hold them.
    endpoints = loads(row.endpoints_json or "[]") if row.registered else []
    return PartnerOut(
        id=row.partner_id,
        parties=[Party.model_validate(_asdict(p)) for p in parties_of(row)],
        hub=row.hub,
        registered=row.registered,
        version=row.version if row.registered else None,
        versions_url=row.versions_url,
        endpoints=sorted({str(e.get("identifier")) for e in endpoints}),
        tolerate=Tolerate.model_validate(tolerance_of_json(row.tolerate_json).as_doc()),
    )


def finding_out(row: FindingRow) -> FindingOut:
    return FindingOut(
        kind=row.kind, what=describe(row.kind), country_code=row.country_code, party_id=row.party_id,
        count=row.count, first_seen=format_utc(row.at), last_seen=format_utc(row.last_at or row.at),
        example=row.detail, module=row.module, object_id=row.object_id,
    )  # fmt: skip


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(prefix="/partners", tags=["partners"])

    def read(partner_id: str) -> PartnerOut | None:
        with core.db.unit() as db:
            row = db.get(PartnerRow, partner_id)
            return None if row is None else partner_out(row)

    def unknown(partner_id: str) -> HTTPException:
        return HTTPException(status.HTTP_404_NOT_FOUND, f"no partner {partner_id!r}")

    @router.get("", response_model=list[PartnerOut])
    async def list_partners(run: Run) -> list[PartnerOut]:
        def work() -> list[PartnerOut]:
            with core.db.unit() as db:
                rows = db.scalars(select(PartnerRow).order_by(PartnerRow.partner_id)).all()
                return [partner_out(r) for r in rows]

        return await run(work)

    @router.get("/{partner_id}", response_model=PartnerOut, responses=NOT_FOUND)
    async def get_partner(partner_id: str, run: Run) -> PartnerOut:
        found = await run(lambda: read(partner_id))
        if found is None:
            raise unknown(partner_id)
        return found

    @router.get("/{partner_id}/findings", response_model=list[FindingOut], responses=NOT_FOUND)
    async def partner_findings(partner_id: str, run: Run) -> list[FindingOut]:
        """What the eMSP tolerated or noticed from this partner: per party and kind, counted, with
        the first example (oldest first)."""

        def work() -> list[FindingOut] | None:
            with core.db.unit() as db:
                if db.get(PartnerRow, partner_id) is None:
                    return None
                return [finding_out(r) for r in findings.rows(db, partner_id)]

        found = await run(work)
        if found is None:
            raise unknown(partner_id)
        return found

    def configure(body: PartnerIn, *, exists: bool) -> PartnerOut | None:
        """Store the partner's configuration if it `exists` already (or not); None otherwise."""
        if (read(body.id) is not None) != exists:
            return None
        parties = [(p.country_code, p.party_id, p.role) for p in body.parties]
        tolerate = body.tolerate.model_dump(exclude_defaults=True)
        core.register_partner(body.id, body.token_a, parties=parties, hub=body.hub, tolerate=tolerate)
        found = read(body.id)
        assert found is not None
        return found

    @router.post(
        "",
        response_model=PartnerOut,
        status_code=status.HTTP_201_CREATED,
        responses=CONFLICT,
    )
    async def add_partner(body: PartnerIn, run: Run) -> PartnerOut:
        """Configure a new partner (same rules as the config file). An id already configured is
        409: replacing a partner's parties is a PUT, never a side effect of adding one."""
        try:
            added = await run(lambda: configure(body, exists=False))
        except PartnerConfigError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        if added is None:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"partner {body.id!r} exists; PUT /partners/{body.id} replaces it"
            )
        return added

    @router.put("/{partner_id}", response_model=PartnerOut, responses={**NOT_FOUND, **CONFLICT})
    async def replace_partner(partner_id: str, body: PartnerIn, run: Run) -> PartnerOut:
        """Replace a configured partner's token A, parties and hub flag (its registration stays)."""
        if body.id != partner_id:
            raise invalid(f"body id {body.id!r} is not the path's {partner_id!r}", loc=("body", "id"))
        try:
            replaced = await run(lambda: configure(body, exists=True))
        except PartnerConfigError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        if replaced is None:
            raise unknown(partner_id)
        return replaced

    @router.post(
        "/{partner_id}/register",
        response_model=RegistrationOut,
        responses={**NOT_FOUND, **CONFLICT},
    )
    async def register(partner_id: str, body: RegisterIn, run: Run, at: Now) -> RegistrationOut:
        """Register with the partner: GET its versions and details with its token, POST our
        credentials, keep the token it returns. 200 with `registered: false` and the OCPI status
        code when the partner's side failed (3001 unreachable, 3002 no common version)."""
        try:
            run_id = await run(lambda: core.start_registration(partner_id, body.versions_url, body.token, at))
        except RegistrationRefused as exc:
            code = status.HTTP_404_NOT_FOUND if "no partner" in str(exc) else status.HTTP_409_CONFLICT
            raise HTTPException(code, str(exc)) from exc
        outcome = await _outcome(run, core, run_id, at)
        partner = await run(lambda: read(partner_id))
        assert partner is not None
        return RegistrationOut(
            registered=outcome.registered,
            status_code=outcome.status_code,
            message=outcome.message,
            partner=partner,
        )

    @router.post("/{partner_id}/pull", response_model=PullOut, status_code=202, responses={**NOT_FOUND})
    async def pull(partner_id: str, run: Run, at: Now) -> PullOut:
        """Catch up with a registered partner now: GET its Sender lists (Locations, Tariffs, Sessions,
        CDRs) from the last complete pull on, page by page, storing what we lack (emsp.ocpi.pull)."""
        if await run(lambda: read(partner_id)) is None:
            raise unknown(partner_id)
        return PullOut(started=await run(lambda: core.pull_from(partner_id, at, "operator")))

    return router


async def _outcome(run: Run, core: EmspCore, run_id: str, at: datetime) -> RegistrationOutcome:
    """Wait for the handshake (the service's outbound pump sends its calls meanwhile)."""
    outcome = await run.poll(lambda: core.take_registration(run_id), REGISTER_TIMEOUT_S)
    if outcome is None:
        await run(lambda: core.abort_deferred(run_id, at, f"no answer within {REGISTER_TIMEOUT_S:g} s"))
        outcome = await run(lambda: core.take_registration(run_id))
        if outcome is None:  # cannot happen: abort always finishes the registration
            raise RuntimeError(f"registration {run_id} vanished")
    return outcome
