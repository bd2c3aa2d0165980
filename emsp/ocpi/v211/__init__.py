from emsp.ocpi.v211.adapter import ADAPTER, VERSION

__all__ = ["ADAPTER", "VERSION"]
