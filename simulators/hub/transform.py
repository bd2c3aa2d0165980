"""What the hub changes in a request it forwards, and in the answer it relays, per its persona.

Always: a `response_url` in the body, and `Link`/`Location` in the answer, point at the hub (so the
result, the next page or the object come back through it). Per persona: a page cap on list GETs,
hub-scoped Session/CDR ids (a credit CDR's `credit_reference_id` too), and Session PATCH turned
into a PUT of the merged object.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from emsp.timeutil import parse_utc
from emsp.wire import HttpResponse, dumps, loads, query_int
from simulators.hub.envelope import HubRefusal, Party, party
from simulators.hub.ids import IdRewriter
from simulators.hub.persona import HubPersona
from simulators.hub.registry import Connection
from simulators.hub.urls import HubUrls, Target


@dataclass(frozen=True, slots=True)
class Forward:
    method: str
    target: Target
    body: str | None
    object_key: str  # which object the request is about (store-and-forward keeps order per object)


class Transformer:
    def __init__(self, persona: HubPersona, urls: HubUrls, ids: IdRewriter) -> None:
        self._urls = urls
        self._page_cap = persona.page_cap
        self._ids = ids if persona.hub_ids else None
        self._patch_as_put = persona.session_patch == "as_put"
        self._sessions: dict[tuple[Party, str], dict[str, Any]] = {}  # last whole Session, for PATCH
        self._patched: dict[tuple[Party, str], dict[str, Any]] = {}  # the last PATCH merged into it

    @property
    def ids(self) -> IdRewriter | None:
        return self._ids

    def request(
        self, sender: Connection, sender_party: Party, method: str, target: Target, text: str | None
    ) -> Forward:
        body = _parse(text)
        changed = False
        if isinstance(body, dict) and isinstance(body.get("response_url"), str):
            # commands / chargingprofiles: the async result must come back through the hub.
            body["response_url"] = self._urls.from_party(sender, body["response_url"])
            changed = True
        segments = [s for s in target.suffix.split("/") if s]
        if target.module == "sessions" and target.interface == "RECEIVER" and len(segments) == 3:
            method, body, target = self._session_push(method, body, target, segments)
            changed = True
        elif target.module == "cdrs" and target.interface == "RECEIVER" and method == "POST":
            changed = self._cdr_post(body, sender_party) or changed
        elif target.module == "commands" and self._ids is not None and isinstance(body, dict):
            changed = self._session_id_inward(body) or changed
        if method == "GET" and target.interface == "SENDER" and not segments:
            target = self._cap_page(target)
        out = dumps(body) if changed and body is not None else text
        return Forward(method, target, out, _object_key(target, segments, body))

    def response(
        self, receiver: Connection, target: Target, method: str, response: HttpResponse
    ) -> HttpResponse:
        headers = dict(response.headers)
        for name in list(headers):
            if name.lower() == "link":
                headers[name] = self._urls.link_header(receiver, headers[name])
            elif name.lower() == "location":
                headers[name] = self._urls.from_party(receiver, headers[name])
        body = response.body
        pulled = method == "GET" and target.interface == "SENDER" and target.module in ("sessions", "cdrs")
        if self._ids is not None and pulled and body:
            body = self._pulled_ids(target.module, body)
        return HttpResponse(response.status, headers, body)

    # ----------------------------------------------------------------- knobs
    def _cap_page(self, target: Target) -> Target:
        if self._page_cap is None:
            return target
        query = dict(parse_qsl(target.query))
        try:  # as the eMSP and the CPO read it: ASCII digits only (int() also took "٣", "1_0", " 7 ")
            asked = query_int(query, "limit", self._page_cap)
        except ValueError:
            asked = self._page_cap
        query["limit"] = str(min(asked, self._page_cap))
        return replace(target, query=urlencode(query))

    def _session_push(
        self, method: str, body: Any, target: Target, segments: list[str]
    ) -> tuple[str, Any, Target]:
        owner, session_id = party(segments[0], segments[1]), segments[2]
        key = (owner, session_id)
        if not isinstance(body, dict):
            raise HubRefusal(2001, "a Session push needs a Session object as its body")
        if method == "PUT":
            # A sender's resend of an older Session (its answer was lost, a newer update got through
            # meanwhile) is passed on, but the next PATCH is merged into the newest one, not into it.
            base = self._sessions.get(key)
            if base is None or not _older(body, base):
                self._sessions[key] = dict(body)
                self._patched.pop(key, None)
        elif method == "PATCH" and self._patch_as_put:
            base = self._sessions.get(key)
            if base is None:
                raise HubRefusal(
                    2001, f"this hub takes whole Sessions only (PUT): it has no Session {session_id} to patch"
                )
            if _older(body, base) or body == self._patched.get(key):
                # A repeat of a PATCH merged already (the sender resent it), or an older one: merged
                # again, its charging_periods would be added twice. The Session as it stands goes on.
                body = dict(base)
            else:
                self._patched[key] = dict(body)
                body = _merge_session(base, body)
                self._sessions[key] = body
            method = "PUT"
        if self._ids is not None:
            hub_id = self._ids.outward("session", owner, session_id)
            if "id" in body:
                body["id"] = hub_id
            segments = [*segments[:2], hub_id]
            target = replace(target, suffix="/" + "/".join(segments))
        return method, body, target

    def _cdr_post(self, body: Any, sender_party: Party) -> bool:
        if self._ids is None or not isinstance(body, dict):
            return False
        owner = _owner(body, sender_party)
        if isinstance(body.get("id"), str):
            body["id"] = self._ids.outward("cdr", owner, body["id"])
        if isinstance(body.get("session_id"), str):
            body["session_id"] = self._ids.outward("session", owner, body["session_id"])
        if isinstance(body.get("credit_reference_id"), str):
            # A credit CDR names the CDR it credits: the eMSP only knows that one by the hub's id.
            body["credit_reference_id"] = self._ids.outward("cdr", owner, body["credit_reference_id"])
        return True

    def _session_id_inward(self, body: dict[str, Any]) -> bool:
        assert self._ids is not None
        known = self._ids.inward("session", str(body.get("session_id", "")))
        if known is None:
            return False
        body["session_id"] = known[1]
        return True

    def _pulled_ids(self, module: str, text: str) -> str:
        assert self._ids is not None
        envelope = _parse(text)
        items = envelope.get("data") if isinstance(envelope, dict) else None
        if not isinstance(items, list):
            return text
        for item in items:
            if not isinstance(item, dict):
                continue
            owner = _owner(item, ("", ""))
            if isinstance(item.get("id"), str):
                item["id"] = self._ids.outward("cdr" if module == "cdrs" else "session", owner, item["id"])
            if module == "cdrs" and isinstance(item.get("session_id"), str):
                item["session_id"] = self._ids.outward("session", owner, item["session_id"])
        return dumps(envelope)


def _object_key(target: Target, segments: list[str], body: Any) -> str:
    """The object a request is about: its URL (client owned objects: country/party/id), or for a
    POST to the list (a CDR) the id in its body, so two CDRs are two objects."""
    if not segments and isinstance(body, dict) and isinstance(body.get("id"), str):
        segments = [str(body.get("country_code", "")), str(body.get("party_id", "")), body["id"]]
    return f"{target.module}:{target.interface}:{'/'.join(segments[:3])}"


def _parse(text: str | None) -> Any:
    if not text:
        return None
    try:
        return loads(text)
    except ValueError:
        raise HubRefusal(2001, "the request body is not JSON", http=400) from None


def _owner(item: dict[str, Any], fallback: Party) -> Party:
    country, party_id = item.get("country_code"), item.get("party_id")
    if isinstance(country, str) and isinstance(party_id, str):
        return party(country, party_id)
    return fallback


def _older(update: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Is `update` older (last_updated) than the Session `stored`? Unknown when either lacks one."""
    try:
        return parse_utc(str(update["last_updated"])) < parse_utc(str(stored["last_updated"]))
    except (KeyError, ValueError):
        return False


def _merge_session(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A PATCH applied to the whole Session: fields replaced, except that `charging_periods` are added
    to the existing ones (mod_sessions, PATCH method)."""
    merged = dict(base) | {k: v for k, v in patch.items() if k != "charging_periods"}
    added = patch.get("charging_periods")
    if isinstance(added, list) and added:
        merged["charging_periods"] = [*(base.get("charging_periods") or []), *added]
    return merged
