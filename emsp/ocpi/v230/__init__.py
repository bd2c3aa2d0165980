from emsp.ocpi.v230.adapter import ADAPTER, VERSION

__all__ = ["ADAPTER", "VERSION"]
