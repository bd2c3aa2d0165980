"""The Location header of a CDR POST is a URL where a GET finds that CDR (mod_cdrs, POST), whatever
legal CiString the id is: each path segment percent-encoded (RFC 3986 §3.3), dot-segments too
(review 4, G6). Before, `a/b`, `a?b`, `a#b`, `..` gave URLs that named no CDR, `a b` no URI."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from emsp_helpers import Client, V, cdr

IDS = ["a/b", "a?b", "a#b", "a b", "..", ".", "50%", "x/../y", "CDR-1"]


@pytest.mark.parametrize("cdr_id", IDS)
def test_the_location_of_a_posted_cdr_resolves_to_it(cpo: Client, cdr_id: str) -> None:
    posted = cpo.call("POST", f"{V}/cdrs", cdr(cdr_id))
    assert (posted.status, posted.json()["status_code"]) == (201, 1000)
    location = posted.header("Location")
    assert location is not None and " " not in location
    parts = urlsplit(location)
    assert parts.query == "" and parts.fragment == ""  # all of the id stayed in the path
    segments = parts.path.split("/")
    assert segments[-3:-1] == ["DE", "CPA"] and "." not in segments and ".." not in segments
    got = cpo.call("GET", location)
    assert (got.status, got.json()["status_code"]) == (200, 1000)
    assert got.json()["data"]["id"] == cdr_id
