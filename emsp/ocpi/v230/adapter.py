from emsp.ocpi.v221.adapter import V221Adapter

VERSION = "2.3.0"


class V230Adapter(V221Adapter):
    version = VERSION


ADAPTER = V230Adapter()
