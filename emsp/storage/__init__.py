"""Persistence of the eMSP core (SQLAlchemy 2.0)."""

from emsp.storage.db import Database, next_value

__all__ = ["Database", "next_value"]
