"""Hash indexes for the embedded store (mongomock), so it stays usable as it grows.

mongomock answers every query, even ``{"_id": x}``, and every unique-index
check by scanning the whole collection: a demo or a test run slows down
quadratically. This keeps, per collection, a hash index for each top-level
field, and each set of fields, that equality queries have used, maintained
where mongomock writes (its CollectionStore), and narrows a query to the
candidates of its narrowest index; mongomock's own matcher still decides on
each candidate, so an index can only return too many candidates, never too
few. A count of nothing but equalities on strings, integers and booleans is
the size of its bucket, without looking at the documents. A query with no
equality but a range on a field of numbers or datetimes (routing's due
timers) takes its candidates from a sorted index of that field.

A field that holds a list or a sub-document anywhere is not indexed (array
equality has other rules); its queries scan as before.
"""
from __future__ import annotations

import bisect
import math
from datetime import datetime

from mongomock import collection as _collection
from mongomock import store as _store
from mongomock.filtering import filter_applies

_MISSING = object()
_patched = False


class _Index:
    """A hash index over one field or several (a compound key), built lazily.
    Keys compare as mongomock's matcher does (Python equality: True == 1)."""

    def __init__(self, fields: tuple, documents):
        self.fields, self.buckets, self.usable = fields, {}, True
        for doc in documents.values():
            self.add(doc)

    def _key(self, doc):
        key = []
        for field in self.fields:
            value = doc.get(field, _MISSING)
            if isinstance(value, (list, dict)):
                self.usable = False
                return _MISSING
            try:
                hash(value)
            except TypeError:
                self.usable = False
                return _MISSING
            if value is _MISSING:
                return _MISSING
            key.append(value)
        return tuple(key)

    def add(self, doc):
        key = self._key(doc)
        if key is not _MISSING:
            self.buckets.setdefault(key, {})[doc["_id"]] = None

    def remove(self, doc):
        self.remove_key(self._key(doc), doc["_id"])

    def remove_key(self, key, doc_id):
        if key is not _MISSING and key in self.buckets:
            self.buckets[key].pop(doc_id, None)

    def bucket(self, values: tuple) -> dict:
        return self.buckets.get(values, {})


_RANGE_OPS = {"$lt", "$lte", "$gt", "$gte"}


def _kind(value):
    """datetime or float (any number but a bool): the kinds of value a range index orders; else None."""
    if isinstance(value, datetime):
        return datetime
    if isinstance(value, (int, float)) and value.__class__ is not bool:
        return float
    return None


class _RangeIndex:
    """A sorted index over one field, for range queries ({"$lte": x}, ...), built lazily.

    Entries are (value, n, id) with n a counter that tells apart documents of equal
    value (many cases share a due time; the id is never compared), and `where`
    maps a document to its entry, so a write finds it by bisection, never by
    walking the equal ones. Documents
    whose field is missing or None are left out (no range matches them); a value
    of any other kind than numbers or datetimes, or of two of those kinds in one
    field, turns the index off (mongomock's own ordering rules then apply, by a
    scan)."""

    def __init__(self, field: str, documents):
        self.field, self.entries, self.where = field, [], {}
        self.kind, self.usable, self._n = None, True, 0
        for doc in documents.values():
            self.add(doc)

    def _off(self):
        self.usable, self.entries, self.where = False, [], {}

    def _key(self, doc):
        value = doc.get(self.field, _MISSING)
        if value is _MISSING or value is None:
            return _MISSING
        kind = _kind(value)
        if kind is None or (self.kind is not None and kind is not self.kind):
            self._off()
            return _MISSING
        self.kind = kind
        return value

    def add(self, doc):
        key = self._key(doc)
        if key is _MISSING or not self.usable:
            return
        self.remove_key(None, doc["_id"])  # at most one entry per document
        self._n += 1
        entry = (key, self._n, doc["_id"])
        try:
            at = bisect.bisect_right(self.entries, entry)
        except TypeError:  # values that do not order together (naive and aware times)
            self._off()
            return
        self.entries.insert(at, entry)
        self.where[doc["_id"]] = entry

    def remove(self, doc):
        self.remove_key(None, doc["_id"])

    def remove_key(self, key, doc_id):
        entry = self.where.pop(doc_id, None) if self.usable else None
        if entry is not None:
            at = bisect.bisect_left(self.entries, entry)
            del self.entries[at]

    def between(self, bounds: dict) -> list | None:
        """Ids whose value may fall within the bounds (ends included), or None if a
        bound is not of the index's kind."""
        lo, hi = 0, len(self.entries)
        for op, bound in bounds.items():
            kind = _kind(bound)
            if kind is None or (self.kind is not None and kind is not self.kind):
                return None
            try:
                if op in ("$lt", "$lte"):
                    hi = min(hi, bisect.bisect_right(self.entries, (bound, math.inf)))
                else:
                    lo = max(lo, bisect.bisect_left(self.entries, (bound, -1)))
            except TypeError:  # e.g. a naive and an aware datetime: let mongomock decide
                return None
        return [entry[2] for entry in self.entries[lo:hi]]


def _ranges(spec):
    """(field, {op: bound}) of each top-level field queried by range operators only."""
    if not isinstance(spec, dict):
        return
    for field, value in spec.items():
        if field.startswith("$") or "." in field or not isinstance(value, dict) or not value:
            continue
        if set(value) <= _RANGE_OPS:
            yield field, value


def _range_candidates(store, spec):
    best, indexes = None, _indexes(store)
    for field, bounds in _ranges(spec):
        key = ("range", field)
        if key not in indexes:
            indexes[key] = _RangeIndex(field, store._documents)
        index = indexes[key]
        if not index.usable:
            continue
        ids = index.between(bounds)
        if ids is not None and (best is None or len(ids) < len(best)):
            best = ids
    return best


def _indexes(store) -> dict:
    if not hasattr(store, "_onestop_indexes"):
        store._onestop_indexes = {}
    return store._onestop_indexes


def _index(store, fields: tuple) -> _Index | None:
    indexes = _indexes(store)
    if fields not in indexes:
        indexes[fields] = _Index(fields, store._documents)
    index = indexes[fields]
    return index if index.usable else None


def _equalities(spec):
    if not isinstance(spec, dict):
        return
    for field, value in spec.items():
        if field.startswith("$") or "." in field or value is None or isinstance(value, (dict, list)):
            continue
        try:
            hash(value)
        except TypeError:
            continue
        yield field, value


def candidates(store, spec):
    """The documents that may match, or None when no equality narrows it."""
    ids = spec.get("_id") if isinstance(spec, dict) else None
    if isinstance(ids, dict) and list(ids) == ["$in"] and isinstance(ids["$in"], (list, tuple)):
        try:
            wanted = dict.fromkeys(ids["$in"])  # once each, in order
        except TypeError:  # an unhashable id (a sub-document): let mongomock scan
            wanted = None
        if wanted is not None:
            return [store._documents[i] for i in wanted if i in store._documents]
    equalities = dict(_equalities(spec))
    if "_id" in equalities:
        doc = store._documents.get(equalities["_id"])
        return [] if doc is None else [doc]
    if not equalities:  # a range, then (routing's due timers: {"next_timer_at": {"$lte": now}})
        ids = _range_candidates(store, spec)
        return None if ids is None else [store._documents[i] for i in ids if i in store._documents]
    # one index keyed on all the query's equalities (the narrowest there is), else the
    # smallest bucket among its single fields
    fields = tuple(sorted(equalities))
    best = None
    for group in ([fields] if len(fields) > 1 else []) + [(f,) for f in fields]:
        index = _index(store, group)
        if index is not None:
            bucket = index.bucket(tuple(equalities[f] for f in group))
            if best is None or len(bucket) < len(best):
                best = bucket
            if len(group) > 1:
                break
    return None if best is None else [store._documents[i] for i in list(best)]


def exact_count(store, spec) -> int | None:
    """How many documents match, straight from an index, when the query is nothing
    but equalities on plain strings, integers and booleans; else None."""
    if not isinstance(spec, dict) or not spec:
        return None
    if any(f.startswith("$") or "." in f or v.__class__ not in (str, int, bool) for f, v in spec.items()):
        return None
    if "_id" in spec:
        return int(spec["_id"] in store._documents) if len(spec) == 1 else None
    fields = tuple(sorted(spec))
    index = _index(store, fields)
    return None if index is None else len(index.bucket(tuple(spec[f] for f in fields)))


def install() -> None:
    """Patch mongomock once per process (only the embedded store uses it)."""
    global _patched
    if _patched:
        return
    store_cls, coll_cls = _store.CollectionStore, _collection.Collection
    original_set, original_del, original_drop = store_cls.__setitem__, store_cls.__delitem__, store_cls.drop
    original_iter, original_count = coll_cls._iter_documents, coll_cls.count_documents

    def setitem(self, key, val):
        old = self._documents.get(key)
        original_set(self, key, val)
        for index in _indexes(self).values():
            if old is not None:
                index.remove(old)
            index.add(val)

    def delitem(self, key):
        old = self._documents.get(key)
        original_del(self, key)
        if old is not None:
            for index in _indexes(self).values():
                index.remove(old)

    def drop(self):
        original_drop(self)
        _indexes(self).clear()

    def iter_documents(self, filter):
        store = self._store
        found = None if store.is_empty else candidates(store, filter)
        if found is None:
            return original_iter(self, filter)
        return (doc for doc in found if filter_applies(filter, doc))

    def reindexing(apply):
        def wrapper(self, existing_document, *args, **kwargs):
            indexes = _indexes(self._store).values()
            doc_id = existing_document.get("_id")
            before = [(index, index._key(existing_document)) for index in indexes]
            result = apply(self, existing_document, *args, **kwargs)
            if doc_id in self._store._documents:  # an upsert's new document is indexed on insert
                for index, key in before:
                    index.remove_key(key, doc_id)
                    index.add(existing_document)
            return result
        return wrapper

    def count_documents(self, filter, **kwargs):
        limit = kwargs.get("limit")
        if set(kwargs) <= {"limit"} and (limit is None or (isinstance(limit, int) and limit > 0)):
            found = None if self._store.is_empty else exact_count(self._store, filter)
            if found is not None:
                return found if limit is None else min(found, limit)
        return original_count(self, filter, **kwargs)

    store_cls.__setitem__, store_cls.__delitem__, store_cls.drop = setitem, delitem, drop
    coll_cls.count_documents = count_documents
    coll_cls._iter_documents = iter_documents
    coll_cls._apply_update_document = reindexing(coll_cls._apply_update_document)
    coll_cls._apply_update_pipeline = reindexing(coll_cls._apply_update_pipeline)
    coll_cls._onestop_original_iter = original_iter
    _patched = True
