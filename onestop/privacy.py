"""Who may read and erase a citizen's personal data on request (docs/privacy.md).

Intake and notification both answer the operators' export and erasure; the
rule of who may call them lives here, once, until onestop.web.access holds
every endpoint's roles.
"""
from __future__ import annotations

from onestop.web.auth import Principal, require_role

# Answering a citizen's access or erasure request is the platform operators' work (onestop privacy ...).
PRIVACY_ROLES = ("operator",)


def privacy_officer(principal: Principal) -> Principal:
    """`principal` if it may export and erase personal data, else Forbidden naming the role needed."""
    return require_role(principal, *PRIVACY_ROLES)
