"""Hash indexes for the embedded store (mongomock), so it stays usable as it grows.

mongomock answers every query, even ``{"_id": x}``, and every unique-index
check by scanning the whole collection: a demo or a test run slows down
quadratically. This keeps, per collection, a hash index for each top-level
field that an equality query has used, maintained where mongomock writes
(its CollectionStore), and narrows a query to the candidates of its most
selective equality; mongomock's own matcher still decides on each candidate,
so an index can only return too many candidates, never too few.

A field that holds a list or a sub-document anywhere is not indexed (array
equality has other rules); its queries scan as before.
"""
from __future__ import annotations

from mongomock import collection as _collection
from mongomock import store as _store
from mongomock.filtering import filter_applies

_MISSING = object()
_patched = False


class _Index:
    def __init__(self, field: str, documents):
        self.field, self.buckets, self.usable = field, {}, True
        for doc in documents.values():
            self.add(doc)

    def _key(self, doc):
        value = doc.get(self.field, _MISSING)
        if isinstance(value, (list, dict)):
            self.usable = False
            return _MISSING
        try:
            hash(value)
        except TypeError:
            self.usable = False
            return _MISSING
        return value

    def add(self, doc):
        key = self._key(doc)
        if key is not _MISSING:
            self.buckets.setdefault(key, {})[doc["_id"]] = None

    def remove(self, doc):
        self.remove_key(self._key(doc), doc["_id"])

    def remove_key(self, key, doc_id):
        if key is not _MISSING and key in self.buckets:
            self.buckets[key].pop(doc_id, None)


def _indexes(store) -> dict:
    if not hasattr(store, "_onestop_indexes"):
        store._onestop_indexes = {}
    return store._onestop_indexes


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
    best = None
    for field, value in _equalities(spec):
        if field == "_id":
            doc = store._documents.get(value)
            return [] if doc is None else [doc]
        index = _indexes(store).get(field)
        if index is None:
            index = _indexes(store)[field] = _Index(field, store._documents)
        if not index.usable:
            continue
        bucket = index.buckets.get(value, {})
        if best is None or len(bucket) < len(best):
            best = bucket
    return None if best is None else [store._documents[i] for i in list(best)]


def install() -> None:
    """Patch mongomock once per process (only the embedded store uses it)."""
    global _patched
    if _patched:
        return
    store_cls, coll_cls = _store.CollectionStore, _collection.Collection
    original_set, original_del, original_drop = store_cls.__setitem__, store_cls.__delitem__, store_cls.drop
    original_iter = coll_cls._iter_documents

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

    store_cls.__setitem__, store_cls.__delitem__, store_cls.drop = setitem, delitem, drop
    coll_cls._iter_documents = iter_documents
    coll_cls._apply_update_document = reindexing(coll_cls._apply_update_document)
    coll_cls._apply_update_pipeline = reindexing(coll_cls._apply_update_pipeline)
    coll_cls._onestop_original_iter = original_iter
    _patched = True
