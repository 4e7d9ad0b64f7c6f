"""Routing's pure rules: which department, which officer."""
from __future__ import annotations


def choose_officer(candidates: list, loads: dict):
    """The least-loaded officer; ties go to the lowest id so the choice is stable.

    >>> from collections import namedtuple
    >>> O = namedtuple("O", "id")
    >>> choose_officer([O("b"), O("a"), O("c")], {"a": 2, "b": 1}).id
    'c'
    """
    if not candidates:
        return None
    return min(candidates, key=lambda officer: (loads.get(officer.id, 0), officer.id))
