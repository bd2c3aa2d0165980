"""The contract layer: the partner-agnostic API (`/api/v1`) the rest of an operator's platform uses.

Its models (`models.py`) are its own: never OCPI wire models, never storage rows.
"""
