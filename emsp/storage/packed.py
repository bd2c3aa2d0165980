"""Outbox payloads and CDR documents stored compactly on SQLite: raw deflate against a preset dictionary.

Every event of a run stays in the outbox (the `/api/v1/events` stream, the NATS publisher and crash
recovery read it), ~12 rows per charging session of ~400 bytes of JSON each: in the in-memory
database of `sim` that was the largest share of what a run kept per session. A lone ~400-byte JSON
text barely compresses, but these share nearly all their text (keys, shapes) with the events the
bus writes, which the dictionary below holds: each compresses ~4x, for a few microseconds.

On SQLite the payload is written as a BLOB: a format byte, then the deflated text. A TEXT value
(a database written before, or by hand) is read as it is, so old databases need no migration. Other
backends store the text unchanged (PostgreSQL compresses large values itself). Readers always get
back the exact text that was written: deflate is lossless and the dictionary only primes its window.

CDRs (one per session, ~1.5 KiB of canonical OCPI JSON, written once, read when settled) are packed
the same way against the OCPI CDR shape (format 2), and so are Sessions against the Session shape
(format 3): their document (~740 bytes at the end of a charge, ~200 packed) is rewritten on every
PATCH, the request path's hottest statement, and packing costs ~15 us of CPU there (~1% of what a
charging session costs the sim) for ~550 bytes of ~1.2 KiB per stored session.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

_RAW_DEFLATE = -15  # no zlib header or checksum: the format byte says how to read the rest
# zlib's default level: on texts this small setting the dictionary is most of the CPU, and level 6
# packs ~11% (events) to ~17% (CDRs) smaller than level 1 for about the same (~10-20 us per text).
_LEVEL = 6

# Format 1's dictionary: the shapes of emsp.bus's events (values generic). Never change it: rows
# written with it must stay readable. A better one is a new format byte beside it.
_DICTIONARY_1 = (
    b'{"partner":"emsp","uid":"","type":"RFID","contract_id":"","valid":true,"whitelist":"ALLOWED",'
    b'"last_updated":"2026-01-01T00:00:00+00:00","change":1}'
    b'{"partner":"","party":{"country_code":"","party_id":""},"tariff_id":"","last_updated":""}'
    b'{"partner":"","party":{"country_code":"","party_id":""},"cdr_id":"-CDR","session_id":"",'
    b'"line_no":1,"currency":"EUR","energy_kwh":"","amount_excl_vat":"","amount_incl_vat":""}'
    b'{"partner":"","cdr":{"partner":"","party":{"country_code":"","party_id":""},"cdr_id":"-CDR",'
    b'"session_id":"","token_uid":"","contract_id":"","authorization_reference":"","location_id":"",'
    b'"total_energy_kwh":"","total_cost":{"excl_vat":"","incl_vat":"","currency":"EUR"},'
    b'"start":"2026-01-01T00:00:00+00:00","end":"2026-01-01T00:00:00+00:00",'
    b'"received_at":"2026-01-01T00:00:00.000000+00:00","credit":false}}'
    b'{"partner":"","session":{"partner":"","party":{"country_code":"","party_id":""},"session_id":"",'
    b'"status":"COMPLETED","token_uid":"","contract_id":"","authorization_reference":"",'
    b'"location_id":"","kwh":"0","start":"2026-01-01T00:00:00+00:00","end":null,'
    b'"last_updated":"2026-01-01T00:00:00.000000+00:00"},"created":true,"ended":true}'
    b'{"partner":"","session":{"partner":"","party":{"country_code":"","party_id":""},"session_id":"",'
    b'"status":"ACTIVE","token_uid":"","contract_id":"","authorization_reference":"",'
    b'"location_id":"","kwh":"","start":"2026-01-01T00:00:00+00:00","end":null,'
    b'"last_updated":"2026-01-01T00:00:00.000000+00:00"},"created":false,"ended":false}'
)
# Format 2's dictionary: the canonical (OCPI 2.2.1) CDR document's shape. Never change it either.
_DICTIONARY_2 = (
    b'{"tariffs":[{"country_code":"","party_id":"","id":"","currency":"EUR","type":"REGULAR",'
    b'"tariff_alt_text":[{"language":"en","text":" EUR/kWh plus  EUR per charging hour, excl. VAT"}],'
    b'"elements":[{"price_components":[{"type":"ENERGY","price":0.00,"vat":19.0,"step_size":1},'
    b'{"type":"TIME","price":0.00,"vat":19.0,"step_size":60},{"type":"PARKING_TIME","price":0.00,'
    b'"vat":19.0,"step_size":60},{"type":"FLAT","price":0.00,"vat":19.0,"step_size":1}],'
    b'"restrictions":{"start_time":"","end_time":"","day_of_week":["MONDAY"]}}],'
    b'"last_updated":"2026-01-01T00:00:00Z"}],"signed_data":{},"remark":"","invoice_reference_id":"",'
    b'"credit":false,"credit_reference_id":"","home_charging_compensation":false,'
    b'{"country_code":"","party_id":"","id":"-CDR","start_date_time":"2026-01-01T00:00:00Z",'
    b'"end_date_time":"2026-01-01T00:00:00Z","session_id":"","cdr_token":{"country_code":"",'
    b'"party_id":"","uid":"","type":"RFID","contract_id":""},"auth_method":"AUTH_REQUEST",'
    b'"cdr_location":{"id":"","name":"","address":"","city":"","postal_code":"","country":"",'
    b'"coordinates":{"latitude":"","longitude":""},"evse_uid":"","evse_id":"","connector_id":"1",'
    b'"connector_standard":"IEC_62196_T2","connector_format":"SOCKET","connector_power_type":"AC_3_PHASE"},'
    b'"currency":"EUR","charging_periods":[{"start_date_time":"2026-01-01T00:00:00Z","dimensions":'
    b'[{"type":"ENERGY","volume":0.0000},{"type":"TIME","volume":0.0000},{"type":"PARKING_TIME",'
    b'"volume":0.0000}],"tariff_id":""}],"last_updated":"2026-01-01T00:00:00.000Z",'
    b'"authorization_reference":"","total_cost":{"excl_vat":0.0000,"incl_vat":0.0000},'
    b'"total_fixed_cost":{"excl_vat":0.0000,"incl_vat":0.0000},"total_energy":0.0000,'
    b'"total_energy_cost":{"excl_vat":0.0000,"incl_vat":0.0000},"total_time":0.0000,'
    b'"total_time_cost":{"excl_vat":0.0000,"incl_vat":0.0000},"total_parking_time":0.0000,'
    b'"total_parking_cost":{"excl_vat":0.0000,"incl_vat":0.0000}}'
)
# Format 3's dictionary: the canonical (OCPI 2.2.1) Session document's shape. Never change it either.
_DICTIONARY_3 = (
    b'"meter_id":"","signed_data":{},"total_cost":{"excl_vat":0.0000,"incl_vat":0.0000},'
    b'{"type":"PARKING_TIME","volume":0.0000},{"type":"MAX_CURRENT","volume":0.0000},'
    b'{"type":"POWER","volume":0.0000},{"type":"CURRENT","volume":0.0000},'
    b'"status":"ACTIVE","status":"PENDING","status":"INVALID","status":"RESERVATION",'
    b'{"country_code":"","party_id":"","id":"","start_date_time":"2026-01-01T00:00:00Z","kwh":0.000,'
    b'"cdr_token":{"country_code":"","party_id":"","uid":"","type":"RFID","contract_id":""},'
    b'"auth_method":"AUTH_REQUEST","location_id":"","evse_uid":"","connector_id":"1","currency":"EUR",'
    b'"status":"COMPLETED","last_updated":"2026-01-01T00:00:00.000Z","authorization_reference":"",'
    b'"end_date_time":"2026-01-01T00:00:00Z","charging_periods":[{"start_date_time":"2026-01-01T00:00:00Z",'
    b'"dimensions":[{"type":"ENERGY","volume":0.0000},{"type":"TIME","volume":0.0000}],"tariff_id":""}],'
    b'"total_cost":{"excl_vat":0.0000,"incl_vat":0.0000}}'
)
EVENTS, CDRS, SESSIONS = b"\x01", b"\x02", b"\x03"  # the format byte: which dictionary
_DICTIONARIES = {EVENTS: _DICTIONARY_1, CDRS: _DICTIONARY_2, SESSIONS: _DICTIONARY_3}


class Plain(str):
    """Text a PackedText column stores as it is (TEXT, read back the same on every backend).

    For a value that is rewritten soon: a session's document changes with every PATCH until the
    session ends, and packing each version (~20 us) bought nothing but the memory of a row about to
    be replaced. The sessions receiver writes its document Plain while the session runs; the final
    one, kept for good, is packed as before."""

    __slots__ = ()


def _bind_value(text: str, packed_format: bytes) -> Any:
    return str(text) if type(text) is Plain else pack(text, packed_format)


def pack(text: str, packed_format: bytes = EVENTS) -> bytes:
    zdict = _DICTIONARIES[packed_format]
    packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, _RAW_DEFLATE, zdict=zdict)
    return packed_format + packer.compress(text.encode("utf-8")) + packer.flush()


def unpack(stored: str | bytes) -> str:
    if isinstance(stored, str):
        return stored  # written as text (before packing, or by hand)
    zdict = _DICTIONARIES.get(stored[:1])
    if zdict is None:
        raise ValueError(f"unknown packed payload format {stored[:1]!r}")
    unpacker = zlib.decompressobj(_RAW_DEFLATE, zdict=zdict)
    return (unpacker.decompress(stored[1:]) + unpacker.flush()).decode("utf-8")


class PackedText(TypeDecorator[str]):
    """Text, packed on SQLite (see the module doc); the same text comes back on every backend.

    `packed_format`: the dictionary this column's values are written with (any is read)."""

    impl = Text
    cache_ok = True

    def __init__(self, packed_format: bytes = EVENTS) -> None:
        super().__init__()
        self.packed_format = packed_format

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return None if value is None else str(value)  # a Plain value: the driver's own str
        return _bind_value(value, self.packed_format)

    def direct_bind_processor(self, dialect: Dialect) -> Callable[[str], Any] | None:
        """The bind processor's value in one step (emsp.storage.direct): packed on SQLite, where
        the impl (Text) converts nothing further."""
        if dialect.name != "sqlite" or self.impl_instance.dialect_impl(dialect).bind_processor(dialect):
            return None
        return functools.partial(_bind_value, packed_format=self.packed_format)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else unpack(value)
