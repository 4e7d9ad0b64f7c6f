"""The sample staff the development sign-in offers: the catalog's centers' officers, department
heads and leaders, and the roles make run prints tokens for (onestop.dev.launcher.DEV_STAFF)."""
from __future__ import annotations

import shlex

CONSOLE_ROLES = ("counter_staff", "officer", "department_head", "center_leader", "auditor", "operator")


def _launcher_staff() -> list[dict]:
    from onestop.dev.launcher import DEV_STAFF  # read when the page is made, not at import

    out = []
    for role, user, extra in DEV_STAFF:
        words = shlex.split(extra)
        centers = [words[i + 1] for i, w in enumerate(words) if w == "--center"]
        department = next((words[i + 1] for i, w in enumerate(words) if w == "--department"), None)
        if role in CONSOLE_ROLES:
            out.append({"user": user, "role": role, "centers": centers, "department": department, "name": user})
    return out


def sample_staff(catalog) -> list[dict]:
    """Every sample staff member, each once: {"user", "role", "centers", "department", "name"}."""
    people = _launcher_staff()
    for center in sorted(catalog.centers.values(), key=lambda c: c.id):
        for s in center.staff:
            people.append({"user": s.id, "role": s.role, "centers": [center.id], "department": s.department,
                           "name": s.name})
        for o in center.officers:
            people.append({"user": o.id, "role": "officer", "centers": [center.id], "department": o.department,
                           "name": o.name})
    seen, unique = set(), []
    for person in people:
        if person["user"] not in seen:
            seen.add(person["user"])
            unique.append(person)
    return unique


def find(catalog, user: str) -> dict | None:
    return next((p for p in sample_staff(catalog) if p["user"] == user), None)
