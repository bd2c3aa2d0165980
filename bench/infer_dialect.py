"""`emsp-bench infer-dialect TRACE`: the dialect profile a CPO's wire conduct shows (issue 9 part 4).

Reads a wire trace (the run directory's `trace.jsonl`, or a recorded one in the same contract:
one JSON object per message, `t`, `proto`, `src`, `dst`, `kind`, `method`, `url`, `headers`,
`status`, `body`) and applies one rule per observable knob of simulators/dialects (the catalogue in
KNOBS.md) to what the partner sent. A knob is written only when the trace shows it; each one with
its evidence: the trace line number and an excerpt. A knob the trace cannot show (tariff readings,
`ack_data` on a trace where it never answered) is left out, so the profile's default applies.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlsplit

import simplejson

from emsp.timeutil import parse_utc


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based line of the trace file
    data: dict[str, Any]

    @property
    def path(self) -> str:
        return urlsplit(str(self.data.get("url", ""))).path

    @property
    def module(self) -> str:
        """The OCPI module of a request URL (.../ocpi/2.2.1/<module>/...), or ""."""
        parts = [p for p in self.path.split("/") if p]
        for index, part in enumerate(parts[:-1]):
            if re.fullmatch(r"\d\.\d(\.\d)?", part):
                return parts[index + 1]
        return ""

    def header(self, name: str) -> str | None:
        headers = self.data.get("headers") or {}
        for key, value in headers.items():
            if key.lower() == name.lower():
                return str(value)
        return None

    @property
    def body(self) -> Any:
        return self.data.get("body")


@dataclass(frozen=True, slots=True)
class Evidence:
    knob: str
    value: Any
    line: int
    excerpt: str


@dataclass
class Observed:
    """The partner's messages: its requests to the eMSP, and the eMSP's calls to it with answers."""

    partner: str
    requests: list[Line] = field(default_factory=list)  # partner -> eMSP
    answers: list[tuple[Line, Line | None]] = field(default_factory=list)  # eMSP -> partner, and reply


def read_trace(path: Path) -> Iterator[Line]:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                yield Line(number, simplejson.loads(text, use_decimal=True))


def partners_in(lines: Iterable[Line]) -> list[str]:
    """Actors that sent OCPI requests (in order of their first request)."""
    seen: dict[str, None] = {}
    for line in lines:
        if str(line.data.get("proto", "")).startswith("ocpi") and line.data.get("kind") == "request":
            seen.setdefault(str(line.data.get("src")), None)
    return list(seen)


def observe(lines: list[Line], partner: str) -> Observed:
    observed = Observed(partner)
    open_calls: dict[str, Line] = {}
    for line in lines:
        d = line.data
        if not str(d.get("proto", "")).startswith("ocpi"):
            continue
        if d.get("kind") == "request" and d.get("src") == partner:
            observed.requests.append(line)
        elif d.get("kind") == "request" and d.get("dst") == partner:
            key = line.header("X-Request-ID") or str(line.number)
            open_calls[key] = line
            observed.answers.append((line, None))
        elif d.get("kind") == "response" and d.get("src") == partner:
            key = line.header("X-Request-ID") or ""
            request = open_calls.pop(key, None)
            if request is not None:
                index = next(i for i, (r, _) in enumerate(observed.answers) if r is request)
                observed.answers[index] = (request, line)
    return observed


def _excerpt(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else simplejson.dumps(value, use_decimal=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?P<frac>\.\d+)?(?P<zone>Z|[+-]\d{2}:\d{2})?")


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)
    else:
        yield key, value


def _functional(line: Line) -> bool:
    return line.module not in ("", "versions", "credentials", "hubclientinfo")


# ----------------------------------------------------------------------------------- the rules


def auth_rules(o: Observed) -> list[Evidence]:
    out: list[Evidence] = []
    token_b: str | None = None
    for line in o.requests:
        value = line.header("Authorization") or ""
        raw = value.partition(" ")[2].strip()
        if line.module == "credentials" and isinstance(line.body, dict) and "token" in line.body:
            token_b = str(line.body["token"])
        if not raw or str(line.data.get("proto")) == "ocpi2.1.1":
            continue  # 2.1.1 is the raw token by spec
        try:
            decoded = base64.b64decode(raw, validate=True).decode("utf-8")
            plain = not decoded.isprintable()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            decoded, plain = raw, True
        if plain and not any(e.knob == "authorization_header" for e in out):
            out.append(
                Evidence("authorization_header", "plain", line.number, f"Authorization: Token {raw[:6]}...")
            )
        mixed = token_b is not None and _functional(line) and token_b in (raw, decoded)
        if mixed and not any(e.knob == "token_after_registration" for e in out):
            out.append(Evidence("token_after_registration", "token_b", line.number, "its token B"))
    if o.requests and not any(e.knob == "authorization_header" for e in out):
        first = next((r for r in o.requests if str(r.data.get("proto")) != "ocpi2.1.1"), None)
        if first is not None:
            out.append(Evidence("authorization_header", "base64", first.number, "Base64 token"))
    return out


def url_rules(o: Observed) -> list[Evidence]:
    out: list[Evidence] = []
    slash = next((r for r in o.requests if r.path.endswith("/")), None)
    if slash is not None:
        out.append(
            Evidence("url_trailing_slash", True, slash.number, f"{slash.data.get('method')} {slash.path}")
        )
    functional = [r for r in o.requests if _functional(r) and str(r.data.get("proto")) != "ocpi2.1.1"]
    bare = next((r for r in functional if r.header("OCPI-from-party-id") is None), None)
    if bare is not None:
        out.append(
            Evidence("routing_headers", "missing", bare.number, f"{bare.data.get('method')} {bare.path}")
        )
    elif functional:
        out.append(Evidence("routing_headers", "sent", functional[0].number, "OCPI-from/to-* present"))
    return out


def body_rules(o: Observed) -> list[Evidence]:
    out: dict[str, Evidence] = {}
    fractions: Counter[str] = Counter()
    for line in o.requests:
        if not isinstance(line.body, dict | list):
            continue
        for key, value in _strings(line.body):
            if isinstance(value, str):
                match = _DATETIME.fullmatch(value)
                if match is not None:
                    zone = match["zone"]
                    form = (
                        "z"
                        if zone == "Z"
                        else "none"
                        if zone is None
                        else "plus_offset"
                        if zone in ("+00:00", "-00:00")
                        else "local"
                    )
                    out.setdefault(
                        f"zone:{form}", Evidence("timestamp_zone", form, line.number, f"{key}: {value}")
                    )
                    digits = len(match["frac"] or ".") - 1
                    frac = "none" if digits == 0 else "millis" if digits <= 3 else "micros"
                    fractions[frac] += 1
                    out.setdefault(
                        f"frac:{frac}", Evidence("timestamp_fraction", frac, line.number, f"{key}: {value}")
                    )
                if key == "country_code" and value != value.upper():
                    out.setdefault(
                        "cc", Evidence("country_code_case", "lower", line.number, f"country_code: {value}")
                    )
        body = line.body if isinstance(line.body, dict) else {}
        extension = next((k for k in body if str(k).startswith("x_")), None)
        if extension is not None:
            out.setdefault("ext", Evidence("extension_fields", True, line.number, f"{extension}: ..."))
        cost = body.get("total_cost")
        if (
            isinstance(cost, int | Decimal)
            and not isinstance(cost, bool)
            and str(line.data.get("proto")) != "ocpi2.1.1"
        ):
            out.setdefault("num", Evidence("total_cost_format", "number", line.number, f"total_cost: {cost}"))
        if isinstance(cost, dict) and "excl_vat" in cost and "incl_vat" not in cost:
            out.setdefault(
                "vat", Evidence("incl_vat", "omitted", line.number, f"total_cost: {_excerpt(cost)}")
            )
        if line.module == "cdrs" and "tariffs" in body:
            out.setdefault("tar", Evidence("cdr_embeds_tariffs", True, line.number, "CDR with tariffs"))
    result: list[Evidence] = []
    for knob, prefix in (("timestamp_zone", "zone:"), ("timestamp_fraction", "frac:")):
        found = [e for k, e in out.items() if k.startswith(prefix)]
        off_spec = [e for e in found if e.value != ("z" if knob == "timestamp_zone" else "none")]
        result.extend(off_spec[:1] or found[:1])
    result.extend(e for k, e in out.items() if ":" not in k)
    if any(r.module == "cdrs" and r.data.get("method") == "POST" for r in o.requests) and "tar" not in out:
        first = next(r for r in o.requests if r.module == "cdrs" and r.data.get("method") == "POST")
        result.append(Evidence("cdr_embeds_tariffs", False, first.number, "CDR without tariffs"))
    return result


def _when(line: Line) -> datetime:
    return parse_utc(str(line.data["t"]))


def session_rules(o: Observed) -> list[Evidence]:
    out: list[Evidence] = []
    sessions = [r for r in o.requests if r.module == "sessions" and r.data.get("method") in ("PUT", "PATCH")]
    if not sessions:
        return out
    by_id: dict[str, list[Line]] = defaultdict(list)
    for line in sessions:
        by_id[line.path.rstrip("/").rsplit("/", 1)[-1]].append(line)
    patches = [s for s in sessions if s.data.get("method") == "PATCH"]
    most = max(by_id.values(), key=len)
    if patches:
        out.append(Evidence("session_updates", "every_sample", patches[0].number, f"PATCH {patches[0].path}"))
    elif max(len(v) for v in by_id.values()) > 2:
        out.append(
            Evidence("session_updates", "put_only", most[1].number, f"{len(most)} PUTs of one session")
        )
    else:
        out.append(Evidence("session_updates", "none", most[0].number, "a Session at start and at end only"))
    for session_id, lines in by_id.items():
        final = next(
            (
                i
                for i, s in enumerate(lines)
                if isinstance(s.body, dict) and s.body.get("status") in ("COMPLETED", "INVALID")
            ),
            None,
        )
        late = (
            next((s for s in lines[final + 1 :] if s.data.get("method") == "PATCH"), None)
            if final is not None
            else None
        )
        if late is not None:
            out.append(
                Evidence(
                    "stale_patch_after_final", True, late.number, f"PATCH {session_id} after its final PUT"
                )
            )
            break
    statuses = {
        sid: [s.body.get("status") for s in lines if isinstance(s.body, dict) and s.body.get("status")]
        for sid, lines in by_id.items()
    }
    pending = next((sid for sid, st in statuses.items() if st and set(st) == {"PENDING"}), None)
    if pending is not None:
        out.append(
            Evidence(
                "session_left_pending", True, by_id[pending][0].number, f"session {pending} only ever PENDING"
            )
        )
    full = next(
        (p for p in patches if isinstance(p.body, dict) and len(p.body.get("charging_periods") or []) > 1),
        None,
    )
    if full is not None:
        out.append(
            Evidence(
                "charging_periods_patch",
                "full_list",
                full.number,
                f"PATCH with {len(full.body['charging_periods'])} periods",
            )
        )
    return out


def cdr_rules(o: Observed) -> list[Evidence]:
    out: list[Evidence] = []
    posts = [
        r
        for r in o.requests
        if r.module == "cdrs" and r.data.get("method") == "POST" and isinstance(r.body, dict)
    ]
    if not posts:
        return out
    ids = Counter(str(p.body.get("id")) for p in posts)
    repeats = [p for p in posts if ids[str(p.body.get("id"))] > 1]
    share = Decimal(sum(c - 1 for c in ids.values())) / Decimal(len(ids))
    if repeats:
        second = [p for p in posts if ids[str(p.body.get("id"))] > 1][-1]
        out.append(
            Evidence(
                "duplicate_cdrs",
                float(round(share, 2)),
                second.number,
                f"CDR {second.body.get('id')} POSTed again",
            )
        )
    delays = []
    for post in posts:
        end = post.body.get("end_date_time")
        if isinstance(end, str):
            try:
                delays.append((_when(post) - parse_utc(end)).total_seconds() / 60)
            except ValueError:
                continue
    if delays and median(delays) >= 1:
        minutes = round(median(delays))
        out.append(
            Evidence(
                "cdr_delay_minutes", minutes, posts[0].number, f"CDR POSTed {minutes} min after end_date_time"
            )
        )
    for post in posts:
        periods = post.body.get("charging_periods") or []
        energy = sum(
            (
                Decimal(str(d.get("volume")))
                for p in periods
                if isinstance(p, dict)
                for d in p.get("dimensions") or []
                if isinstance(d, dict) and d.get("type") == "ENERGY"
            ),
            Decimal(0),
        )
        total = post.body.get("total_energy")
        if periods and isinstance(total, int | Decimal) and abs(Decimal(total) - energy) > Decimal("0.001"):
            out.append(
                Evidence("cdr_totals_mismatch", True, post.number, f"total_energy {total}, periods {energy}")
            )
            break
    completed = {
        r.path.rstrip("/").rsplit("/", 1)[-1]: r for r in o.requests
        if r.module == "sessions" and isinstance(r.body, dict) and r.body.get("status") == "COMPLETED"
        and _zero(r.body.get("total_cost"))
    }  # fmt: skip
    billed = {str(p.body.get("session_id")) for p in posts}
    withheld = next((line for sid, line in completed.items() if sid not in billed), None)
    if withheld is not None:
        out.append(Evidence("zero_cost_cdrs", "withheld", withheld.number, "a zero-cost session got no CDR"))
    return out


def _zero(cost: Any) -> bool:
    if isinstance(cost, dict):
        cost = cost.get("excl_vat", cost.get("before_taxes"))
    return isinstance(cost, int | Decimal) and not isinstance(cost, bool) and Decimal(cost) == 0


def pagination_rules(o: Observed) -> list[Evidence]:
    """From the eMSP's GETs of the partner's Sender lists, and its answers."""
    out: list[Evidence] = []
    for request, answer in o.answers:
        if answer is None or request.data.get("method") != "GET" or not _functional(request):
            continue
        data = answer.body.get("data") if isinstance(answer.body, dict) else None
        if not isinstance(data, list):
            continue
        limit = answer.header("X-Limit")
        query = urlsplit(str(request.data.get("url"))).query
        asked = re.search(r"(?:^|&)limit=(\d+)", query)
        if (
            limit
            and asked
            and int(limit) < int(asked.group(1))
            and not any(e.knob == "page_cap" for e in out)
        ):
            out.append(
                Evidence("page_cap", int(limit), answer.number, f"X-Limit {limit} for limit={asked.group(1)}")
            )
        total = answer.header("X-Total-Count")
        link = answer.header("Link")
        offset = re.search(r"(?:^|&)offset=(\d+)", query)
        more = total is not None and int(total) > (int(offset.group(1)) if offset else 0) + len(data)
        if more and link is None and not any(e.knob == "pagination_link" for e in out):
            out.append(
                Evidence("pagination_link", "missing", answer.number, f"X-Total-Count {total}, no Link")
            )
        if link and "limit=" not in link and not any(e.knob == "pagination_link" for e in out):
            out.append(Evidence("pagination_link", "without_limit", answer.number, _excerpt(link)))
        if (
            not data
            and offset
            and int(offset.group(1)) > 0
            and not any(e.knob == "empty_last_page" for e in out)
        ):
            out.append(Evidence("empty_last_page", True, answer.number, "an empty page after the last"))
    return out


RULES: tuple[Callable[[Observed], list[Evidence]], ...] = (
    auth_rules, url_rules, body_rules, session_rules, cdr_rules, pagination_rules,
)  # fmt: skip


def infer(lines: list[Line], partner: str) -> list[Evidence]:
    observed = observe(lines, partner)
    evidence: list[Evidence] = []
    for rule in RULES:
        evidence.extend(rule(observed))
    return evidence


def as_profile(evidence: list[Evidence], name: str, source: str) -> str:
    """The profile YAML: each knob with its evidence as a comment (trace line: excerpt)."""
    out = [
        f"# Inferred by emsp-bench infer-dialect from {source}",
        f"name: {name}",
        f"description: Inferred from {Path(source).name}",
    ]
    for e in evidence:
        value = "true" if e.value is True else "false" if e.value is False else e.value
        excerpt = e.excerpt.replace("\n", " ")
        out.append(f"{e.knob}: {value}  # line {e.line}: {excerpt}")
    return "\n".join(out) + "\n"
