"""The log's Merkle tree against a reference written here from RFC 9162's definitions alone.

The reference works on the list of leaves, by slicing, exactly as section
2.1 writes MTH, PATH and PROOF; services/audit/merkle.py works from stored
perfect subtrees and verifies with the RFC's iterative algorithms. For every
leaf and every pair of sizes of random trees, the two must agree, and every
proof must verify and stop verifying when any of its parts changes.
"""
import hashlib

from hypothesis import given, settings, strategies as st

from services.audit.merkle import (EMPTY_ROOT, Frontier, consistency_proof, inclusion_proof, leaf_hash, subtree,
                                   verify_consistency, verify_inclusion)


def ref_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 over the raw leaves."""
    n = len(leaves)
    if n == 0:
        return ref_hash(b"")
    if n == 1:
        return ref_hash(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return ref_hash(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:]))


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 2.1.4.1."""
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, leaves[:k], b) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def tree(leaves: list[bytes]):
    """What the store keeps (each leaf's hash and the perfect subtrees ending at it), as merkle.Node."""
    frontier, stored = Frontier(), []
    for leaf in leaves:
        stored.append([leaf_hash(leaf), *frontier.push(leaf_hash(leaf))])
    return frontier, lambda level, index: stored[((index + 1) << level) - 1][level]


def flipped(proof: list[bytes], i: int) -> list[bytes]:
    changed = list(proof)
    changed[i] = bytes([changed[i][0] ^ 1]) + changed[i][1:]
    return changed


leaves_strategy = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


@settings(max_examples=40, deadline=None)
@given(leaves_strategy)
def test_roots_and_every_inclusion_proof_agree_with_the_reference(leaves):
    frontier, node = tree(leaves)
    n, root = len(leaves), ref_mth(leaves)
    assert frontier.root() == subtree(0, n, node) == root
    assert Frontier.at(n, node).root() == root  # the head rebuilt from the store, as after a restart
    for m in range(n):
        proof = inclusion_proof(m, n, node)
        assert proof == ref_path(m, leaves)
        assert verify_inclusion(leaf_hash(leaves[m]), m, n, proof, root)
        assert not verify_inclusion(leaf_hash(leaves[m] + b"!"), m, n, proof, root)
        assert not verify_inclusion(leaf_hash(leaves[m]), m, n, proof + [root], root)
        for i in range(len(proof)):
            assert not verify_inclusion(leaf_hash(leaves[m]), m, n, flipped(proof, i), root)


@settings(max_examples=40, deadline=None)
@given(leaves_strategy)
def test_every_consistency_proof_agrees_with_the_reference(leaves):
    _, node = tree(leaves)
    n = len(leaves)
    for second in range(1, n + 1):
        second_root = ref_mth(leaves[:second])
        for first in range(1, second + 1):
            proof = consistency_proof(first, second, node)
            first_root = ref_mth(leaves[:first])
            assert proof == ref_subproof(first, leaves[:second], True)
            assert verify_consistency(first, second, proof, first_root, second_root)
            if first < second:
                assert not verify_consistency(first, second, proof, second_root, first_root)
                assert not verify_consistency(first, second, [], first_root, second_root)
                for i in range(len(proof)):
                    assert not verify_consistency(first, second, flipped(proof, i), first_root, second_root)


def test_a_rewritten_leaf_breaks_consistency_with_every_earlier_tree_that_holds_it():
    leaves = [b"entry %d" % i for i in range(13)]
    forged = [*leaves[:4], b"rewritten", *leaves[5:]]
    _, node = tree(forged)
    for first in range(5, 13):
        assert not verify_consistency(first, 13, consistency_proof(first, 13, node), ref_mth(leaves[:first]),
                                      ref_mth(forged))
    for first in range(1, 5):  # trees from before the rewritten leaf are still consistent: it came later
        assert verify_consistency(first, 13, consistency_proof(first, 13, node), ref_mth(leaves[:first]),
                                  ref_mth(forged))


def test_the_empty_tree_and_the_rfc_leaf_and_node_prefixes():
    assert Frontier().root() == EMPTY_ROOT == ref_hash(b"")
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert ref_mth([b"a", b"b"]) == hashlib.sha256(b"\x01" + leaf_hash(b"a") + leaf_hash(b"b")).digest()


def test_known_root_of_the_certificate_transparency_test_vector():
    """The eight leaves of the CT test vectors (RFC 6962 / transparency-dev/merkle), root of all eight."""
    leaves = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]
    frontier, _ = tree(leaves)
    assert frontier.root().hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
