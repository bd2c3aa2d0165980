"""Eichrecht signed meter data: station -> OCPP wire (1.6 SignedData, 2.0.1 signedMeterValue) ->
CSMS -> OCPI SignedData; deterministic (a fake signature, never a real one)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from simulators.ocppj.meter import meter_value, read_sample
from simulators.ocppj.signed import ocmf_record, ocpi_signed_data, read_signed, sign_final

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_signed_record_round_trip(version: str) -> None:
    plain, record = ocmf_record("CS-1", "42", T0, 1000, T0 + timedelta(hours=1), 12345)
    assert record == ocmf_record("CS-1", "42", T0, 1000, T0 + timedelta(hours=1), 12345)[1]  # deterministic
    value = sign_final(version, meter_value(version, T0, 12345, None, "Transaction.End"), record)  # type: ignore[arg-type]
    assert read_sample(version, value)[0] == 12345  # the register still reads as before
    assert read_signed(version, value) == [record]  # type: ignore[arg-type]
    signed = ocpi_signed_data([record])
    assert signed is not None and signed["encoding_method"] == "OCMF"
    [one] = signed["signed_values"]
    assert one["nature"] == "End" and one["plain_data"] == plain and len(one["plain_data"]) <= 512
    assert base64.b64decode(one["signed_data"]).decode() == record


def test_no_records_no_signed_data() -> None:
    assert ocpi_signed_data([]) is None
    assert read_signed("1.6", meter_value("1.6", T0, 1, None, "Transaction.End")) == []
