"""The kinds of finding the eMSP records about a partner's conduct (kept, never failing a request).

Two families, one row per (partner, party, kind) with a count and the first example:

- *tolerated*: the spec does not allow it, and the eMSP accepted it only because the operator's
  configuration of this partner says so (`tolerate:`, emsp.ocpi.tolerance); without that option
  the same request is refused with the OCPI status the spec pairs with it;
- *noticed*: valid requests the eMSP must accept, but that say something about the partner
  (an update older than the stored object, a CDR sent twice...).

What the spec itself allows is accepted from everyone and is no finding: a DateTime without a
zone designator (UTC) or with fractional seconds, a lowercase country code (CiString is
case-insensitive), a Price without incl_vat, fields the spec does not define, the raw token of
2.1.1, no routing headers between two single-party platforms.
"""

from __future__ import annotations

TOLERATED: dict[str, str] = {
    "plain_token": "Authorization header carried the raw credentials token (2.2.1 on wants it Base64)",
    "token_b_as_c": "called with its own token B instead of the token C we gave it",
    "trailing_slash": "request URL ended in a slash the endpoint URL does not have",
    "datetime_offset": "DateTime with a UTC offset (OCPI DateTimes are UTC: Z or no designator)",
    "local_time": "DateTime in the partner's local time without a designator (read in its configured zone)",
    "total_cost_number": "a cost given as a bare number where the version wants a Price object",
}

NOTICED: dict[str, str] = {
    "routing_headers_missing": "a hub or multi-party partner left out the OCPI-from/to-* routing headers",
    "stale_update": "object older (last_updated) than the one stored: accepted, not applied",
    "patch_after_final": "Session PATCH after the session was already COMPLETED or INVALID",
    "duplicate_cdr": "CDR id received again",
    "second_cdr_for_session": "CDR with a new id for a session whose earlier CDR was not credited",
    "command_result_changed": "a second CommandResult with another result: the first one kept",
    "zero_cost_cdr": "CDR with energy but a total_cost of zero",
    "cdr_totals_mismatch": (
        "CDR totals contradict each other: total_energy vs its periods' energy, a Price's incl_vat below "
        "its excl_vat, a cost part above total_cost"
    ),
    "session_left_pending": "CDR for a session the partner never moved out of PENDING",
    "credit_unknown_cdr": "credit CDR whose credit_reference_id names no CDR received from that party",
    "foreign_token": "Session or CDR for a token another eMSP issued (cdr_token party), not one of ours",
    # Settlement (emsp.settlement.settle): the CDR is stored and has its line, priced as said there.
    "cdr_currency_mismatch": "CDR in another currency than a tariff it is priced with: not repriced",
    "negative_energy_cdr": "CDR with a negative ENERGY volume (fed back to the grid): that energy not priced",
    # Pulling the partner's Sender lists (emsp.ocpi.pull): its pagination did not hold.
    "pagination_link_missing": "a list page had no Link header though X-Total-Count said more remained",
    "pagination_no_progress": "a list page brought no object not seen already (offset ignored?)",
    "pagination_loop": "a Link pointed at a page already fetched",
    "pagination_page_cap": "a pull stopped at its page limit",
}

KINDS: tuple[str, ...] = (*TOLERATED, *NOTICED)


def describe(kind: str) -> str:
    return TOLERATED.get(kind) or NOTICED.get(kind) or kind
