"""Billing on one backend: accounts, drivers, vehicles and contracts; retail pricing over wholesale
CDRs; credit and rebill; jurisdiction plug-ins (VAT, price display, invoice fields, CDR evidence).

Reads canonical objects only (like `emsp.settlement`); imports no OCPI version package.
"""

# The hub fee joins every hub-routed session's cost lines (registered once, on first import).
from emsp.billing import hub_fees as _hub_fees  # noqa: F401
