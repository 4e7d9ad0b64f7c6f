"""MongoDB's document semantics in plain Python, for the embedded SQLite store.

The SQLite store (onestop/storage/sqlite.py) keeps documents as BSON and
decides every match, update and projection in Python, here: which filters and
updates it accepts (exactly the operators the services use; anything else is
a NotImplementedError that names it, never a guess), how an update changes a
document (with the server's rules and its errors), what an upsert starts
from, what a projection keeps, how documents sort. Matching itself is
mongomock's matcher (``mongomock.filtering.filter_applies``), a well-kept
implementation of MongoDB's query semantics.
"""
from __future__ import annotations

from collections.abc import Mapping

from mongomock.filtering import filter_applies, resolve_sort_key
from pymongo.errors import OperationFailure, WriteError

FIELD_OPERATORS = ("$in", "$lt", "$lte", "$gt", "$gte", "$ne", "$exists", "$size")
UPDATE_OPERATORS = ("$set", "$unset", "$inc", "$push", "$pull", "$setOnInsert")
MISSING = object()


def is_condition(value) -> bool:
    """``{"$lt": 5}`` is a condition; ``{"a": 1}`` (or ``{}``) is a sub-document to equal."""
    return isinstance(value, Mapping) and any(str(k).startswith("$") for k in value)


def check_filter(spec, where: str = "filter") -> None:
    """Raise NotImplementedError naming an operator this store does not implement,
    ValueError for a malformed one (as the server refuses it)."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"{where} must be a mapping (a dict), got {type(spec).__name__}")
    for key, value in spec.items():
        if key == "$or":
            if not isinstance(value, list) or not value:
                raise ValueError(f"$or in {where} needs a non-empty list of filters, got {value!r}")
            for branch in value:
                check_filter(branch, "$or")
        elif key.startswith("$"):
            raise NotImplementedError(f"the embedded store does not implement the query operator {key} "
                                      f"(in {where}); it implements $or and, on fields: {', '.join(FIELD_OPERATORS)}")
        elif is_condition(value):
            check_condition(key, value)


def check_condition(field: str, condition: Mapping) -> None:
    for op, arg in condition.items():
        if op not in FIELD_OPERATORS:
            raise NotImplementedError(f"the embedded store does not implement the query operator {op} "
                                      f"(on {field!r}); it implements {', '.join(FIELD_OPERATORS)} and $or")
        if op == "$in" and not isinstance(arg, list):
            raise ValueError(f"$in on {field!r} needs a list, got {arg!r}")
        if op == "$size" and (not isinstance(arg, int) or isinstance(arg, bool) or arg < 0):
            raise ValueError(f"$size on {field!r} needs a whole number of at least 0, got {arg!r}")


def matches(spec: Mapping, doc: dict) -> bool:
    return filter_applies(spec, doc)


# --- paths ----------------------------------------------------------------------------

def value_at(doc, path: str):
    """The value at a dotted path through sub-documents, MISSING if there is none;
    ValueError when the path crosses an array (an index column holds one value)."""
    value = doc
    for part in path.split("."):
        if isinstance(value, list):
            raise ValueError(f"the path {path!r} crosses an array; an indexed field holds one value")
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _parent(doc: dict, path: str, create: bool):
    """(the sub-document holding the path's last part, that part); None when it does not exist."""
    *parents, last = path.split(".")
    node = doc
    for i, part in enumerate(parents):
        child = node.get(part, MISSING)
        if child is MISSING:
            if not create:
                return None
            child = node[part] = {}
        if isinstance(child, list):
            raise NotImplementedError(f"the embedded store does not update paths through arrays ({path!r})")
        if not isinstance(child, dict):
            if not create:
                return None
            raise WriteError(f"Cannot create field {path.split('.')[i + 1]!r} in element {{{part}: {child!r}}}",
                             code=28)
        node = child
    return node, last


# --- updates --------------------------------------------------------------------------

def check_update(update) -> None:
    if not isinstance(update, Mapping):
        raise TypeError(f"update must be a mapping (a dict), got {type(update).__name__}")
    if not update:
        raise ValueError("update cannot be empty")
    for op, fields in update.items():
        if not str(op).startswith("$"):
            raise ValueError(f"update only works with $ operators (got the field {op!r}); use replace_one to replace")
        if op not in UPDATE_OPERATORS:
            raise NotImplementedError(f"the embedded store does not implement the update operator {op}; "
                                      f"it implements {', '.join(UPDATE_OPERATORS)}")
        if not isinstance(fields, Mapping):
            raise WriteError(f"Modifiers operate on fields but we found type {type(fields).__name__} instead: "
                             f"{{{op}: {fields!r}}}", code=9)
        for path, arg in fields.items():
            _check_argument(op, path, arg)


def _check_argument(op: str, path: str, arg) -> None:
    """Up front, as the server checks an update before it looks for a match."""
    if op == "$push" and is_condition(arg) and set(arg) != {"$each"}:
        raise NotImplementedError(f"the embedded store implements $push with $each only, not {sorted(arg)} "
                                  f"(on {path!r})")
    if op == "$pull" and isinstance(arg, Mapping):
        if is_condition(arg):
            check_condition(path, arg)
        else:
            check_filter(arg, f"$pull on {path!r}")


def _changes(update: Mapping, inserting: bool) -> list:
    """(path, operator, argument) of every change, in MongoDB's order (by path, so new
    fields are appended in lexicographic order), after the server's conflict check."""
    changes = [(path, op, arg) for op, fields in update.items() for path, arg in fields.items()
               if op != "$setOnInsert" or inserting]
    changes.sort(key=lambda c: c[0].split("."))
    for (a, _, _), (b, _, _) in zip(changes, changes[1:]):
        if b == a or b.startswith(a + "."):
            raise WriteError(f"Updating the path {b!r} would create a conflict at {a!r}", code=40)
    return changes


def apply_update(doc: dict, update: Mapping, *, inserting: bool = False) -> dict:
    """Apply an update document to `doc` in place (and return it), as MongoDB does."""
    before_id = doc.get("_id", MISSING)
    for path, op, arg in _changes(update, inserting):
        APPLIERS[op](doc, path, arg)
    if before_id is not MISSING and doc.get("_id", MISSING) != before_id:
        raise WriteError("Performing an update on the path '_id' would modify the immutable field '_id'", code=66)
    return doc


def _set(doc, path, value):
    node, last = _parent(doc, path, create=True)
    node[last] = value


def _unset(doc, path, _value):
    found = _parent(doc, path, create=False)
    if found:
        found[0].pop(found[1], None)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _inc(doc, path, amount):
    if not _number(amount):
        raise WriteError(f"Cannot increment with non-numeric argument: {{{path}: {amount!r}}}", code=14)
    node, last = _parent(doc, path, create=True)
    current = node.get(last, MISSING)
    if current is MISSING:
        node[last] = amount
    elif not _number(current):
        raise WriteError(f"Cannot apply $inc to a value of non-numeric type. {{_id: {doc.get('_id')!r}}} has the "
                         f"field {last!r} of non-numeric type {type(current).__name__}", code=14)
    else:
        node[last] = current + amount


def _push(doc, path, value):
    values = [value]
    if is_condition(value):
        if not isinstance(value["$each"], list):
            raise WriteError(f"The argument to $each in $push must be an array but it was of type "
                             f"{type(value['$each']).__name__}", code=2)
        values = value["$each"]
    node, last = _parent(doc, path, create=True)
    current = node.setdefault(last, [])
    if not isinstance(current, list):
        raise WriteError(f"The field {path!r} must be an array but is of type {type(current).__name__} in "
                         f"document {{_id: {doc.get('_id')!r}}}", code=2)
    current.extend(values)


def _pull(doc, path, condition):
    found = _parent(doc, path, create=False)
    current = found[0].get(found[1], MISSING) if found else MISSING
    if current is MISSING:
        return
    if not isinstance(current, list):
        raise WriteError("Cannot apply $pull to a non-array value", code=2)
    if isinstance(condition, Mapping) and not is_condition(condition):  # a filter on each element, as a document
        pulled = lambda item: isinstance(item, dict) and filter_applies(condition, item)  # noqa: E731
    else:
        pulled = lambda item: filter_applies({"v": condition}, {"v": item})  # noqa: E731
    current[:] = [item for item in current if not pulled(item)]


APPLIERS = {"$set": _set, "$setOnInsert": _set, "$unset": _unset, "$inc": _inc, "$push": _push, "$pull": _pull}


def upsert_seed(spec: Mapping) -> dict:
    """The document an upsert starts from: the filter's equalities (dotted paths
    become sub-documents); conditions and $or add nothing."""
    doc: dict = {}
    for key, value in spec.items():
        if not key.startswith("$") and not is_condition(value):
            _set(doc, key, value)
    return doc


def id_first(doc: dict) -> dict:
    """MongoDB keeps `_id` as a document's first field."""
    return {"_id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}


def check_replacement(replacement) -> None:
    if not isinstance(replacement, Mapping):
        raise TypeError(f"replacement must be a mapping (a dict), got {type(replacement).__name__}")
    if any(str(k).startswith("$") for k in replacement):
        raise ValueError("replacement can not include $ operators")


def replaced(old_id, replacement: Mapping) -> dict:
    """The new document of a replace: the replacement under the old `_id` (which it may not change)."""
    if "_id" in replacement and replacement["_id"] != old_id:
        raise WriteError("After applying the update, the (immutable) field '_id' was found to have been altered "
                         f"to _id: {replacement['_id']!r}", code=66)
    return {"_id": old_id, **{k: v for k, v in replacement.items() if k != "_id"}}


# --- projections -----------------------------------------------------------------------

def projection_plan(projection) -> tuple[bool, dict] | None:
    """(inclusion?, tree of paths) of a projection, None for the whole document.

    >>> projection_plan({"outbox.at": 1})
    (True, {'outbox': {'at': True}, '_id': True})
    >>> projection_plan({"_id": 0})
    (False, {'_id': True})
    """
    if projection is None or (isinstance(projection, (Mapping, list, tuple)) and not projection):
        return None
    if isinstance(projection, (list, tuple)):
        projection = {field: 1 for field in projection}
    if not isinstance(projection, Mapping):
        raise TypeError(f"projection must be a mapping or a list of field names, got {type(projection).__name__}")
    for field, flag in projection.items():
        if not isinstance(flag, (bool, int, float)) or str(field).startswith("$"):
            raise NotImplementedError(f"the embedded store implements projections of 0 and 1 only, not "
                                      f"{{{field!r}: {flag!r}}}")
    others = {bool(flag) for field, flag in projection.items() if field != "_id"}
    if len(others) > 1:
        raise OperationFailure("Cannot do exclusion and inclusion in one projection (except on _id)", code=31254)
    include = others.pop() if others else bool(projection.get("_id", 1))
    tree: dict = {}
    for field, flag in projection.items():
        if field == "_id" and bool(flag) != include:
            continue
        _plant(tree, field)
    if include and projection.get("_id", 1):
        tree.setdefault("_id", True)
    return include, tree


def _plant(tree: dict, field: str) -> None:
    *parents, last = field.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
        if node is True:
            raise OperationFailure(f"Path collision at {field}", code=31250)
    if last in node:
        raise OperationFailure(f"Path collision at {field}", code=31250)
    node[last] = True


def project(doc: dict, plan: tuple[bool, dict] | None) -> dict:
    """What a projection keeps of a document, in the document's own field order."""
    if plan is None:
        return doc
    include, tree = plan
    return _keep(doc, tree, include)


def _keep(doc: dict, tree: dict, include: bool) -> dict:
    out = {}
    for key, value in doc.items():
        sub = tree.get(key)
        if sub is None or sub is True:  # not named, or named to the end
            if (sub is True) == include:
                out[key] = value
        elif isinstance(value, (dict, list)):
            out[key] = _keep(value, sub, include) if isinstance(value, dict) else _keep_items(value, sub, include)
        elif not include:  # a path into a value that has no fields: nothing to take out
            out[key] = value
    return out


def _keep_items(items: list, tree: dict, include: bool) -> list:
    """Inside an array a dotted path reaches each sub-document; other values are
    dropped by an inclusion and kept by an exclusion, as MongoDB does."""
    out = []
    for item in items:
        if isinstance(item, (dict, list)):
            out.append(_keep(item, tree, include) if isinstance(item, dict) else _keep_items(item, tree, include))
        elif not include:
            out.append(item)
    return out


# --- sorting ---------------------------------------------------------------------------

def sort_spec(key_or_list, direction=None) -> list[tuple[str, int]]:
    """pymongo's forms: "field", ("field", -1), or a list of (field, direction)."""
    if isinstance(key_or_list, str):
        pairs = [(key_or_list, 1 if direction is None else direction)]
    elif isinstance(key_or_list, (list, tuple)) and key_or_list and all(
            isinstance(p, (list, tuple)) and len(p) == 2 for p in key_or_list):
        pairs = [tuple(p) for p in key_or_list]
    else:
        raise TypeError(f"sort takes a field name or a list of (field, direction) pairs, got {key_or_list!r}")
    for field, way in pairs:
        if not isinstance(field, str) or field.startswith("$"):
            raise NotImplementedError(f"the embedded store sorts by field names only, not {field!r}")
        if way not in (1, -1) or isinstance(way, bool):
            raise ValueError(f"a sort direction is 1 (ASCENDING) or -1 (DESCENDING), got {way!r} for {field!r}")
    return pairs


class SortKey:
    """A document's place in a sort, compared the way MongoDB orders values
    (mongomock's BSON comparison: types first, then values; missing as null);
    ties keep the order the documents came in (`seq`), as a stable sort does."""

    __slots__ = ("keys", "directions", "seq", "doc")

    def __init__(self, doc: dict, pairs: list, seq: int):
        self.keys = [resolve_sort_key(field, doc) for field, _ in pairs]
        self.directions = [way for _, way in pairs]
        self.seq, self.doc = seq, doc

    def __lt__(self, other: "SortKey") -> bool:
        for mine, theirs, way in zip(self.keys, other.keys, self.directions):
            if mine < theirs:
                return way > 0
            if theirs < mine:
                return way < 0
        return self.seq < other.seq
