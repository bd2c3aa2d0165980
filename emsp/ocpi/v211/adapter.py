from emsp.ocpi.v221.adapter import V221Adapter

VERSION = "2.1.1"


class V211Adapter(V221Adapter):
    version = VERSION


ADAPTER = V211Adapter()
