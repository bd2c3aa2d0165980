"""OCPI 2.2.1: wire models (`schemas`, `types`) and their mapping to the canonical model (`adapter`)."""

from emsp.ocpi.v221.adapter import ADAPTER, VERSION

__all__ = ["ADAPTER", "VERSION"]
