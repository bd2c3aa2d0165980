"""emsp.json_text's list of texts its encoders wrote (what the sim's wire trace takes as written)."""

from __future__ import annotations

import pytest

from emsp import json_text
from emsp.json_text import written_compact, wrote_compact


def test_the_latest_texts_stay_listed_when_the_list_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    # Emptied when full, the list forgot the texts just written and swung between empty and ~1 MB.
    monkeypatch.setattr(json_text, "_written", {})
    monkeypatch.setattr(json_text, "_WRITTEN_MAX", 3)
    texts = [wrote_compact(f'{{"n": {n}}}') for n in range(5)]
    assert [written_compact(text) for text in texts] == [False, False, True, True, True]
    assert len(json_text._written) == 3


def test_an_equal_text_from_elsewhere_is_not_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_text, "_written", {})
    wrote_compact("".join(['{"a":', " 1}"]))
    assert not written_compact("".join(['{"a":', " 1}"]))
