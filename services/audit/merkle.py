"""RFC 9162's Merkle tree: hashing, the tree's head, inclusion and consistency proofs.

A center's audit log is an append-only list of leaves; the tree over its first
``n`` leaves has one root, MTH(D[n]) (RFC 9162 section 2.1.1)::

    leaf hash = SHA-256(0x00 || leaf bytes)
    node hash = SHA-256(0x01 || left || right)
    MTH(D[n]) = H(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of two < n

The store never keeps a whole tree. It keeps, with each leaf, the roots of
the perfect subtrees that end at that leaf (``Frontier.push`` returns them),
and any range the proofs need decomposes into such perfect, aligned subtrees
(``subtree``). A proof of a tree of a million leaves reads a few dozen of
them. Reading is the caller's: it passes ``node(level, index)``, the root of
the perfect subtree of 2**level leaves starting at leaf index * 2**level.

    >>> leaves = [leaf_hash(bytes([i])) for i in range(7)]
    >>> frontier = Frontier()
    >>> for leaf in leaves: _ = frontier.push(leaf)
    >>> node = lambda level, index: subtree_from(leaves, index << level, (index + 1) << level)
    >>> frontier.root() == subtree(0, 7, node) == subtree_from(leaves, 0, 7)
    True
    >>> proof = inclusion_proof(3, 7, node)
    >>> verify_inclusion(leaves[3], 3, 7, proof, frontier.root())
    True
    >>> verify_consistency(4, 7, consistency_proof(4, 7, node), subtree(0, 4, node), frontier.root())
    True
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

Node = Callable[[int, int], bytes]  # (level, index) -> the root of that perfect subtree
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """Sizes or indexes a proof cannot be made for (a caller's mistake, answered 400)."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The roots of the perfect subtrees that cover the leaves so far, largest first:
    enough to append a leaf and to compute the head without reading anything back.

    >>> f = Frontier(); [len(f.push(leaf_hash(b"%d" % i))) for i in range(8)]
    [0, 1, 0, 2, 0, 1, 0, 3]
    """

    def __init__(self, size: int = 0, roots: Sequence[tuple[int, bytes]] = ()):
        self.size, self.roots = size, list(roots)  # [(level, hash), ...]

    @classmethod
    def at(cls, size: int, node: Node) -> "Frontier":
        """The frontier of a tree of `size` leaves, read from its perfect subtrees."""
        roots, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                roots.append((level, node(level, start >> level)))
                start += 1 << level
        return cls(size, roots)

    def push(self, leaf: bytes) -> list[bytes]:
        """Append a leaf hash; the perfect subtrees it completes, by level (1, 2, ...)."""
        completed, level, value = [], 0, leaf
        while self.roots and self.roots[-1][0] == level:
            _, left = self.roots.pop()
            value, level = node_hash(left, value), level + 1
            completed.append(value)
        self.roots.append((level, value))
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self.roots:
            return EMPTY_ROOT
        value = self.roots[-1][1]
        for _, left in reversed(self.roots[:-1]):
            value = node_hash(left, value)
        return value

    def copy(self) -> "Frontier":
        return Frontier(self.size, self.roots)


def subtree(start: int, end: int, node: Node) -> bytes:
    """MTH(D[start:end]) for a range the RFC's recursion reaches (start aligned to its
    left part's size), from the fewest perfect subtrees."""
    if end - start < 1:
        raise ProofError(f"empty range [{start}, {end})")
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:  # a perfect, aligned subtree: stored as such
        return node(size.bit_length() - 1, start // size)
    k = _split(size)
    return node_hash(subtree(start, start + k, node), subtree(start + k, end, node))


def subtree_from(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH of a slice of leaf hashes, straight from the definition (for small trees and checks)."""
    if end - start == 1:
        return leaves[start]
    k = _split(end - start)
    return node_hash(subtree_from(leaves, start, start + k), subtree_from(leaves, start + k, end))


def inclusion_proof(index: int, size: int, node: Node) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 2.1.3.1): the siblings from the leaf up."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of {size}")
    path, start, end = [], 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtree(start + k, end, node))
            end = start + k
        else:
            path.append(subtree(start, start + k, node))
            start += k
    return path[::-1]


def consistency_proof(first: int, second: int, node: Node) -> list[bytes]:
    """PROOF(first, D[second]) (RFC 9162 2.1.4.1); empty when the sizes are equal."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to {second}: need 0 < first <= second")
    proof: list[bytes] = []
    start, end, complete = 0, second, True  # SUBPROOF(m, D[start:end], b)
    m = first
    while True:
        if m == end - start:
            if not complete:
                proof.append(subtree(start, end, node))
            return proof[::-1]
        k = _split(end - start)
        if m <= k:
            proof.append(subtree(start + k, end, node))
            end = start + k
        else:
            proof.append(subtree(start, start + k, node))
            start, m, complete = start + k, m - k, False


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, proof: Sequence[bytes], first_root: bytes,
                       second_root: bytes) -> bool:
    """RFC 9162 2.1.4.2 (equal sizes: an empty proof and equal roots)."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is itself a node of the second
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root
