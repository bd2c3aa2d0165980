"""Whether a tariff has restrictions decides if a meter sample's PATCH cuts the periods again
(OcpiCpo._patch_periods); it is worked out once per Tariff, and again for a tariff published anew."""

from __future__ import annotations

from test_cpo_versions import TARIFF, make_cpo

RESTRICTED = TARIFF | {
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": 0.40, "step_size": 1}],
            "restrictions": {"start_time": "07:00", "end_time": "19:00"},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]},
    ]
}


def test_a_tariff_published_again_under_its_id_is_read_again() -> None:
    cpo = make_cpo("2.2.1")
    plain = cpo.tariff("STD")
    assert cpo._has_restrictions("STD", plain) is False
    assert cpo._has_restrictions("STD", plain) is False  # the second time from what was kept
    restricted = cpo._parse_tariff(RESTRICTED)
    assert cpo._has_restrictions("STD", restricted) is True
    assert cpo._has_restrictions("STD", plain) is False
