"""Calibration-law (Eichrecht) signed meter data, as a station sends it and a CSMS reads it.

A station that signs adds, to the meter value ending a transaction, an OCMF-like record of the
transaction's start and stop registers: OCPP 1.6 as a SampledValue with `format: SignedData` (the
value is the signed record), OCPP 2.0.1 as the `signedMeterValue` of the energy sample. The CSMS
hands the records to the CPO, which carries them in the OCPI CDR's `signed_data` (2.2.1 SignedData).

THE SIGNATURE IS NOT REAL: it is a SHA-256 digest of the payload, so it is deterministic and a
transparency tool would reject it. It stands for the evidence a DE jurisdiction asks for, no more.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from emsp.timeutil import format_utc
from simulators.ocppj.codec import OcppVersion, Payload
from simulators.ocppj.meter import ENERGY

ENCODING = "OCMF"
ENCODING_VERSION = "1.0"
SIGNING_METHOD = "FAKE-SHA256"  # not a real signature scheme (see the module docstring)
PUBLIC_KEY = "emsp-bench-fake-key"


def ocmf_record(
    station_id: str,
    transaction_id: str,
    started_at: datetime,
    start_wh: int,
    ended_at: datetime,
    stop_wh: int,
) -> tuple[str, str]:
    """(plain OCMF-like payload, signed record "OCMF|payload|{SD: digest}")."""
    payload = json.dumps(
        {
            "FV": ENCODING_VERSION,
            "GI": "emsp-bench virtual meter",
            "GS": station_id,
            "TX": transaction_id,
            "RD": [
                {"TM": format_utc(started_at), "TX": "B", "RV": start_wh, "RI": "1-b:1.8.0", "RU": "Wh"},
                {"TM": format_utc(ended_at), "TX": "E", "RV": stop_wh, "RI": "1-b:1.8.0", "RU": "Wh"},
            ],
        },
        separators=(",", ":"),
        sort_keys=True,
    )
    digest = hashlib.sha256(payload.encode()).hexdigest()
    return (
        payload,
        f"OCMF|{payload}|{json.dumps({'SA': SIGNING_METHOD, 'SD': digest}, separators=(',', ':'))}",
    )


def sign_final(version: OcppVersion, value: Payload, record: str) -> Payload:
    """The Transaction.End meter value with the signed record added (a copy)."""
    sampled = [dict(s) for s in value.get("sampledValue", [])]
    if version == "1.6":
        sampled.append(
            {
                "value": record,
                "context": "Transaction.End",
                "format": "SignedData",
                "measurand": ENERGY,
                "unit": "Wh",
            }
        )
    else:
        for sample in sampled:
            if sample.get("measurand", ENERGY) == ENERGY:
                sample["signedMeterValue"] = {
                    "signedMeterData": record,
                    "signingMethod": SIGNING_METHOD,
                    "encodingMethod": ENCODING,
                    "publicKey": PUBLIC_KEY,
                }
                break
    return {**value, "sampledValue": sampled}


def read_signed(version: OcppVersion, value: Mapping[str, Any]) -> list[str]:
    """The signed records in one MeterValue (1.6 SignedData samples, 2.0.1 signedMeterValue)."""
    out: list[str] = []
    for sample in value.get("sampledValue", []):
        if version == "1.6":
            if sample.get("format") == "SignedData" and isinstance(sample.get("value"), str):
                out.append(sample["value"])
        else:
            signed = sample.get("signedMeterValue")
            if isinstance(signed, Mapping) and isinstance(signed.get("signedMeterData"), str):
                out.append(signed["signedMeterData"])
    return out


def ocpi_signed_data(records: list[str]) -> dict[str, Any] | None:
    """The OCPI 2.2.1 SignedData of a CDR from the station's signed records (None: none)."""
    if not records:
        return None
    values = []
    for record in records:
        _, _, rest = record.partition("|")
        plain, _, _ = rest.rpartition("|")
        blob = base64.b64encode(record.encode()).decode()  # SignedValue.signed_data: base64
        values.append({"nature": "End", "plain_data": plain[:512], "signed_data": blob[:5000]})
    return {
        "encoding_method": ENCODING,
        "encoding_method_version": 1,
        "public_key": base64.b64encode(PUBLIC_KEY.encode()).decode(),
        "signed_values": values,
    }
