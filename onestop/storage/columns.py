"""The index columns of the embedded SQLite store, and what SQL can pre-select with them.

Each indexed field (and ``_id``) is a column whose values SQL orders and
compares the way MongoDB orders BSON values: numbers are stored as numbers,
the other types as text tagged with MongoDB's canonical type order
(``15|`` string, ``35|`` ObjectId, ``40|`` boolean, ``45|`` date as fixed-width
UTC ISO text to the millisecond), null or missing as NULL. SQLite orders NULL
< numbers < text, so one ORDER BY on these columns is MongoDB's order, types
included. A list, a sub-document or a NaN in an indexed field is refused with a
ValueError (no field of ours holds one there; MongoDB would index each element).

`where` turns the part of a filter that it can say exactly (equality and $in
on these scalars, ranges with MongoDB's type bracketing) into SQL; the rest is
left to the Python matcher, so SQL may return too many candidates, never too
few. Equality follows the matcher's rules, which are Python's: ``True == 1``.
"""
from __future__ import annotations

from datetime import datetime, timezone

from bson import ObjectId

from onestop.storage.documents import MISSING, is_condition

STRING, OBJECT_ID, BOOLEAN, DATE = "15|", "35|", "40|", "45|"
RANGES = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
INT64 = (-(2 ** 63), 2 ** 63 - 1)


def column(field: str) -> str:
    """The quoted SQL name of a field's column (``_id`` is the primary key ``id``)."""
    return "id" if field == "_id" else quote(f"k:{field}")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def encode(value, field: str = "_id"):
    """A field's value as its column holds it; ValueError for what no column can hold."""
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool):
        return f"{BOOLEAN}{int(value)}"
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise ValueError(f"the indexed field {field!r} holds {value}, beyond a 64-bit integer")
        return value
    if isinstance(value, float):
        if value != value:
            raise ValueError(f"the indexed field {field!r} holds NaN, which the embedded store does not index")
        return value
    if isinstance(value, str):
        return STRING + value
    if isinstance(value, datetime):
        return DATE + _iso(value)
    if isinstance(value, ObjectId):
        return OBJECT_ID + str(value)
    raise ValueError(f"the indexed field {field!r} holds a {type(value).__name__} ({value!r:.60}); an indexed field "
                     "of the embedded store holds a string, number, boolean, date, ObjectId or null")


def _iso(moment: datetime) -> str:
    """Fixed-width UTC text to the millisecond, as BSON keeps a date (naive = UTC, as in BSON)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.replace(tzinfo=None, microsecond=moment.microsecond // 1000 * 1000).isoformat(
        timespec="milliseconds")


def decode(stored):
    """A column's value back as the value it encodes (for distinct)."""
    if not isinstance(stored, str):
        return stored
    tag, text = stored[:3], stored[3:]
    if tag == STRING:
        return text
    if tag == DATE:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    if tag == BOOLEAN:
        return text == "1"
    return ObjectId(text)


def _equal(value) -> list | None:
    """The column values the matcher takes as equal to `value`; None when SQL cannot say
    (a list or sub-document: array and document equality are the matcher's)."""
    if isinstance(value, (list, dict)):
        return None
    try:
        stored = encode(value)
    except ValueError:
        return None
    if isinstance(value, bool):
        return [stored, int(value)]  # the matcher's True == 1 == 1.0
    if isinstance(value, (int, float)) and value in (0, 1):
        return [stored, f"{BOOLEAN}{int(value)}"]
    return [stored]


def _equality(col: str, value) -> tuple[str, list] | None:
    values = _equal(value)
    return None if values is None else _membership(col, values)


def _membership(col: str, values: list) -> tuple[str, list]:
    known = list(dict.fromkeys(v for v in values if v is not None))
    parts = [f"{col} IN ({', '.join('?' * len(known))})"] if known else []
    if None in values:
        parts.append(f"{col} IS NULL")
    if not parts:
        return "0", []  # $in: [] matches nothing
    return ("(" + " OR ".join(parts) + ")") if len(parts) > 1 else parts[0], known


def _in(col: str, candidates: list) -> tuple[str, list] | None:
    values = []
    for candidate in candidates:
        equal = _equal(candidate)
        if equal is None:
            return None
        values.extend(equal)
    return _membership(col, values)


def _range(col: str, op: str, bound) -> tuple[str, list] | None:
    """A range within the bound's own type, as MongoDB brackets types; None for other bounds."""
    sign = RANGES[op]
    if isinstance(bound, (int, float)) and not isinstance(bound, bool) and bound == bound:
        return (f"{col} {sign} ?", [bound]) if sign[0] == "<" else (f"{col} {sign} ? AND {col} < ''", [bound])
    if isinstance(bound, (str, datetime)):
        tag = STRING if isinstance(bound, str) else DATE
        if sign[0] == "<":
            return f"{col} {sign} ? AND {col} >= ?", [encode(bound), tag]
        return f"{col} {sign} ? AND {col} < ?", [encode(bound), tag[:2] + "}"]
    return None


def _field(col: str, value) -> tuple[list, list, bool]:
    if not is_condition(value):
        found = _equality(col, value)
        return ([found[0]], found[1], True) if found else ([], [], False)
    clauses, params, exact = [], [], True
    for op, arg in value.items():
        found = _in(col, arg) if op == "$in" else _range(col, op, arg) if op in RANGES else None
        if found is None:
            exact = False
            continue
        clauses.append(found[0])
        params.extend(found[1])
    return clauses, params, exact


def where(spec: dict, fields: set) -> tuple[list, list, bool]:
    """(SQL conditions to AND, their parameters, whether they say all the filter says)
    for a checked filter (documents.check_filter), over `_id` and these indexed fields."""
    clauses, params, exact = [], [], True
    for key, value in spec.items():
        if key == "$or":
            found = _any(value, fields)
        elif key == "_id" or key in fields:
            found = _field(column(key), value)
        else:
            found = ([], [], False)
        clauses += found[0]
        params += found[1]
        exact = exact and found[2]
    return clauses, params, exact


def _any(branches: list, fields: set) -> tuple[list, list, bool]:
    said = [where(branch, fields) for branch in branches]
    if any(not c and e for c, _, e in said):  # a branch that matches everything
        return [], [], True
    if any(not c for c, _, _ in said):  # a branch SQL cannot narrow: neither can the $or
        return [], [], False
    sql = " OR ".join("(" + " AND ".join(c) + ")" for c, _, _ in said)
    return [f"({sql})"], [p for _, ps, _ in said for p in ps], all(e for _, _, e in said)
