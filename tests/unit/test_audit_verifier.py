"""examples/audit_verify.py and examples/audit_witness.py, the outsider's tools of issue 15.

Checked against published vectors (Go's sumdb/note note_test.go, the C2SP cosignature example,
transparency-dev/merkle's RFC 9162 trees and proofs), against a tree built by a reference written here
from RFC 9162's definitions (MTH, PATH, PROOF) and notes signed here with `cryptography` alone, and
through their command lines. No broker: the witness's decisions are judged with a fake proof source.
"""
from __future__ import annotations

import ast
import base64
import functools
import hashlib
import http.server
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))
import audit_verify as av  # noqa: E402
import audit_witness as aw  # noqa: E402

# --- A reference, from RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1 as written (slow, obviously right) ----------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_leaf(data: bytes) -> bytes:
    return sha256(b"\x00" + data)


def ref_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.lru_cache(maxsize=None)
def ref_mth(leaves: tuple) -> bytes:
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return ref_leaf(leaves[0])
    k = ref_k(len(leaves))
    return sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:]))


def ref_path(m: int, leaves: tuple) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = ref_k(len(leaves))
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: tuple, b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = ref_k(n)
    if m <= k:
        return ref_subproof(m, leaves[:k], b) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: tuple) -> list[bytes]:
    return ref_subproof(m, leaves, True)


# --- Keys and notes, made here with cryptography alone ----------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def kid(name: str, alg: int, key: Ed25519PrivateKey) -> bytes:
    return sha256(name.encode() + b"\n" + bytes([alg]) + public(key))[:4]


def vkey(name: str, key: Ed25519PrivateKey, alg: int = 1) -> str:
    return f"{name}+{kid(name, alg, key).hex()}+{b64(bytes([alg]) + public(key))}"


def signature_line(text: str, name: str, key: Ed25519PrivateKey) -> str:
    return f"\u2014 {name} {b64(kid(name, 1, key) + key.sign(text.encode()))}\n"


def checkpoint_note(origin: str, size: int, root: bytes, *keys: Ed25519PrivateKey) -> str:
    text = f"{origin}\n{size}\n{b64(root)}\n"
    return text + "\n" + "".join(signature_line(text, origin, key) for key in keys)


LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
NEW_LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
ROGUE_KEY = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
WITNESS_KEY = Ed25519PrivateKey.from_private_bytes(b"\x09" * 32)
WITNESS = "witness.example.org/w1"
CENTER, ORIGIN, CODE = "hue-vyda", "onestop.local/audit/hue-vyda", "VYDA-260213-0007"
VKEY = vkey(ORIGIN, LOG_KEY)
TYPES = ("dossier.received.v1", "dossier.routed.v1", "dossier.assigned.v1")
DOSSIER_LEAVES = (2, 5, 9, 11)  # of the 12 events below; the checkpoint covers the first 10


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def recorded_event(i: int) -> dict:
    subject = CODE if i in DOSSIER_LEAVES else f"VYDA-260213-{i:04d}"
    return {"specversion": "1.0", "id": f"6f0c0000-0000-4000-8000-{i:012d}", "type": TYPES[i % 3],
            "source": "onestop/intake/hue-vyda", "time": f"2026-02-13T02:{i:02d}:00.000Z", "subject": subject,
            "center": CENTER, "correlation_id": "6f0c", "actor": {"id": "counter-01", "role": "counter_staff"},
            "datacontenttype": "application/json", "data": {"code": subject, "ward": "Vỹ Dạ"}}


LEAVES = tuple(canonical(recorded_event(i)) for i in range(12))
LEAF_BYTES = tuple(leaf.encode("utf-8") for leaf in LEAVES)


def checkpoint_object(size: int, *keys) -> dict:
    root = ref_mth(LEAF_BYTES[:size])
    return {"center": CENTER, "origin": ORIGIN, "tree_size": size, "root_hash": root.hex(),
            "note": checkpoint_note(ORIGIN, size, root, *(keys or (LOG_KEY,))), "signed_at": "2026-02-13T03:00:00.000Z"}


def inclusion(index: int, size: int) -> dict:
    return {"tree_size": size, "hashes": [h.hex() for h in ref_path(index, LEAF_BYTES[:size])]}


def timeline_entry(i: int, size: int) -> dict:
    event = json.loads(LEAVES[i])
    return {"seq": i + 1, "center": CENTER, "event_id": event["id"], "type": event["type"], "time": event["time"],
            "recorded_at": event["time"], "hash": "0" * 64, "prev_hash": "0" * 64, "actor": event["actor"],
            "data": event["data"], "leaf_index": i, "leaf": LEAVES[i], "leaf_hash": ref_leaf(LEAF_BYTES[i]).hex(),
            "inclusion": inclusion(i, size) if i < size else None}


def dossier_answer(size: int = 10) -> dict:
    return {"code": CODE, "entries": [timeline_entry(i, size) for i in DOSSIER_LEAVES],
            "checkpoints": {CENTER: checkpoint_object(size)}}


def consistency_answer(first: int, second: int) -> dict:
    return {"center": CENTER, "origin": ORIGIN, "first": first, "second": second,
            "hashes": [h.hex() for h in ref_proof(first, LEAF_BYTES[:second])]}


def flip_hex(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


def write(folder: Path, name: str, content) -> Path:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False),
                    encoding="utf-8")
    return path


def cli(*args, script: str = "audit_verify.py") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], capture_output=True,
                          text=True, timeout=60)


def failures(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("FAILED: ")]


# --- Go's sumdb/note vectors (golang.org/x/mod/sumdb/note/note_test.go) --------------------------------------

PETER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6"
             "RyyBwJnAM=\n")
ENOCH_SIG = ("\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1Rv"
             "Mc+QQ=\n")


def test_go_vkeys_parse_and_their_key_ids_match_name_and_key():
    peter = av.parse_vkey(PETER)
    assert (peter.name, peter.key_id.hex(), peter.alg, len(peter.public_key)) == ("PeterNeumann", "c74f20a3", 1, 32)
    assert str(peter) == PETER and str(av.parse_vkey(ENOCH)) == ENOCH


def test_every_mangling_of_the_go_vkey_is_refused():
    manglings = {PETER[i:j] for i in range(len(PETER) + 1) for j in range(i + 1, len(PETER) + 1)} - {PETER}
    manglings |= {PETER[:i] + chr(ord(PETER[i]) + 1) + PETER[i + 1:] for i in range(len(PETER))}
    manglings |= {"PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  # wrong length
                  "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"}  # unknown algorithm
    accepted = []
    for text in manglings:
        try:
            av.parse_vkey(text)
            accepted.append(text)
        except av.InputError:
            pass
    assert accepted == []


def test_the_signing_here_reproduces_gos_signed_note_byte_for_byte():
    """The fixtures below are signed the way Go signs: the same seed gives the same note."""
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]
    key = Ed25519PrivateKey.from_private_bytes(seed)
    assert vkey("PeterNeumann", key) == PETER
    assert GO_TEXT + "\n" + signature_line(GO_TEXT, "PeterNeumann", key) == GO_TEXT + "\n" + PETER_SIG


def test_go_open_known_and_unknown_keys():
    peter, enoch = av.parse_vkey(PETER), av.parse_vkey(ENOCH)
    note, signers = av.open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter])
    assert note.text == GO_TEXT and signers == (peter,) and [s.name for s in note.signatures] == ["PeterNeumann",
                                                                                                   "EnochRoot"]
    assert av.open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter, enoch])[1] == (peter, enoch)
    with pytest.raises(av.VerificationError, match="no signature by a known key"):
        av.open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    with pytest.raises(av.VerificationError, match="does not verify"):
        av.open_note(GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], [peter])
    repeated = GO_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    assert av.open_note(repeated, [peter])[1] == (peter,)  # an unknown key's bad line is none of our business


@pytest.mark.parametrize("message", [
    GO_TEXT, GO_TEXT + "\n", GO_TEXT + "\n" + PETER_SIG[:-1], "\x01" + GO_TEXT + "\n" + PETER_SIG,
    b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode(),
    GO_TEXT + "\n" + "\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
    "KE6RyyBwJnAM=", GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n", GO_TEXT + "\n" + PETER_SIG * 101,
], ids=["no-signatures", "blank-only", "no-final-newline", "control-char", "not-utf8", "bad-name",
        "unexpected-line", "101-signatures"])
def test_go_malformed_notes_are_refused(message):
    with pytest.raises(av.VerificationError, match="malformed note"):
        av.open_note(message, [av.parse_vkey(PETER)])


def test_the_c2sp_cosignature_example_parses():
    line = ("\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
            "qhf5nNo0xUe+mbIUBkBIfZ+qnA==")
    cosignature = av.parse_cosignature(line)
    assert (cosignature.name, cosignature.key_id.hex(), cosignature.timestamp) == ("witness.example.com/w1",
                                                                                  "8d66cf3f", 1679315147)


# --- RFC 9162 / CT vectors (transparency-dev/merkle testonly and proof/verify_test.go) -------------------------

CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
H = {name: bytes.fromhex(value) for name, value in {
    "l1": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "l4": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "l6": "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "n01": "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "n23": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "n45": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "n67": "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "n0_3": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "n4_7": "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    "l0": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}.items()}
CT_INCLUSION = [(0, 1, []), (0, 8, [H["l1"], H["n23"], H["n4_7"]]), (5, 8, [H["l4"], H["n67"], H["n0_3"]]),
                (2, 3, [H["n01"]]), (1, 5, [H["l0"], H["n23"], H["l4"]])]  # (index, size, proof)
CT_CONSISTENCY = [(1, 8, [H["l1"], H["n23"], H["n4_7"]]), (6, 8, [H["n45"], H["n67"], H["n0_3"]]),
                  (2, 5, [H["n23"], H["l4"]]), (6, 7, [H["n45"], H["l6"], H["n0_3"]])]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def test_the_roots_of_the_ct_trees():
    assert [av.root_from_leaves(CT_LEAVES[:n]) for n in range(9)] == CT_ROOTS


@pytest.mark.parametrize("index,size,proof", CT_INCLUSION)
def test_ct_inclusion_proofs_verify_and_no_corruption_does(index, size, proof):
    leaf, root = av.leaf_hash(CT_LEAVES[index]), CT_ROOTS[size]
    av.verify_inclusion(leaf, index, size, proof, root)
    corrupt = [(index - 1, size, leaf, proof, root), (index + 1, size, leaf, proof, root),
               (index ^ 2, size, leaf, proof, root), (index, size * 2, leaf, proof, root),
               (index, size // 2, leaf, proof, root), (index, size, av.leaf_hash(b"WrongLeaf"), proof, root),
               (index, size, leaf, proof, CT_ROOTS[0]), (index, size, leaf, proof, SOME_HASH),
               (index, size, leaf, proof + [root], root), (index, size, leaf, [root] + proof, root)]
    corrupt += [(index, size, leaf, proof[:i] + [bytes([proof[i][0] ^ 8]) + proof[i][1:]] + proof[i + 1:], root)
                for i in range(len(proof))]
    if proof:
        corrupt.append((index, size, leaf, proof[:-1], root))
    if len(proof) > 1:
        corrupt.append((index, size, leaf, [proof[0], SOME_HASH] + proof[1:], root))
    for args in corrupt:
        with pytest.raises(av.VerificationError):
            av.verify_inclusion(args[2], args[0], args[1], args[3], args[4])


@pytest.mark.parametrize("size1,size2,proof", CT_CONSISTENCY)
def test_ct_consistency_proofs_verify_and_no_corruption_does(size1, size2, proof):
    root1, root2 = CT_ROOTS[size1], CT_ROOTS[size2]
    av.verify_consistency(size1, size2, proof, root1, root2)
    corrupt = [(size1 - 1, size2, proof, root1, root2), (size1 + 1, size2, proof, root1, root2),
               (size1 ^ 2, size2, proof, root1, root2), (size1, size2 * 2, proof, root1, root2),
               (size1, size2 // 2, proof, root1, root2), (size1, size2, proof, SOME_HASH, root2),
               (size1, size2, proof, root1, SOME_HASH), (size1, size2, proof, root2, root1),
               (size1, size2, [], root1, root2), (size1, size2, proof + [root1], root1, root2),
               (size1, size2, proof + [root2], root1, root2), (size1, size2, [root1] + proof, root1, root2),
               (size1, size2, [root2] + proof, root1, root2), (size1, size2, [proof[0]] + proof, root1, root2),
               (size1, size2, proof[:-1], root1, root2)]
    corrupt += [(size1, size2, proof[:i] + [bytes([proof[i][0] ^ 16]) + proof[i][1:]] + proof[i + 1:], root1, root2)
                for i in range(len(proof))]
    for args in corrupt:
        with pytest.raises(av.VerificationError):
            av.verify_consistency(*args)


def test_consistency_at_the_edges_the_rfc_leaves_out():
    empty, one = CT_ROOTS[0], CT_ROOTS[1]
    av.verify_consistency(0, 0, [], empty, empty)
    av.verify_consistency(0, 5, [], empty, CT_ROOTS[5])  # the empty tree starts every tree
    av.verify_consistency(3, 3, [], CT_ROOTS[3], CT_ROOTS[3])
    for args, reason in [((3, 3, [], CT_ROOTS[3], one), "forked"), ((1, 1, [empty], one, one), "must be empty"),
                         ((0, 1, [empty], empty, one), "must be empty"), ((0, 4, [], one, CT_ROOTS[4]), "empty tree"),
                         ((2, 1, [], CT_ROOTS[2], one), "smaller"), ((1, 2, [], one, CT_ROOTS[2]), "is empty")]:
        with pytest.raises(av.VerificationError, match=reason):
            av.verify_consistency(*args)
    with pytest.raises(av.VerificationError, match="32-byte"):
        av.verify_inclusion(b"short", 0, 1, [], b"short")
    leaf = av.leaf_hash(CT_LEAVES[0])
    with pytest.raises(av.VerificationError, match="more than leaf 0 of a tree of size 2 needs"):
        av.verify_inclusion(leaf, 0, 2, [H["l1"], H["l1"]], CT_ROOTS[2])
    with pytest.raises(av.VerificationError, match="too few for leaf 0 of a tree of size 3"):
        av.verify_inclusion(leaf, 0, 3, [H["l1"]], CT_ROOTS[3])


# --- Against the reference: every proof of every tree up to 64 leaves, and random corruptions -----------------

SIXTY_FOUR = tuple(f"leaf {i}".encode() for i in range(64))


def test_every_root_and_inclusion_proof_up_to_64_leaves_agrees_with_the_reference():
    for size in range(0, 65):
        leaves = SIXTY_FOUR[:size]
        assert av.root_from_leaves(list(leaves)) == ref_mth(leaves)
        for index in range(size):
            av.verify_inclusion(ref_leaf(leaves[index]), index, size, ref_path(index, leaves), ref_mth(leaves))


def test_every_consistency_proof_between_sizes_up_to_64_agrees_with_the_reference():
    for size2 in range(1, 65):
        for size1 in range(1, size2 + 1):
            av.verify_consistency(size1, size2, ref_proof(size1, SIXTY_FOUR[:size2]), ref_mth(SIXTY_FOUR[:size1]),
                                  ref_mth(SIXTY_FOUR[:size2]))


distinct_leaves = st.lists(st.binary(max_size=12), min_size=1, max_size=64, unique=True).map(tuple)


@settings(max_examples=150, deadline=None)
@given(leaves=distinct_leaves, data=st.data())
def test_a_random_inclusion_proof_verifies_and_any_flipped_bit_or_other_index_fails(leaves, data):
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof, root = ref_path(index, leaves), ref_mth(leaves)
    av.verify_inclusion(ref_leaf(leaves[index]), index, size, proof, root)
    if proof:
        at, bit = data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255))
        bad = list(proof)
        bad[at] = bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b for i, b in enumerate(bad[at]))
        with pytest.raises(av.VerificationError):
            av.verify_inclusion(ref_leaf(leaves[index]), index, size, bad, root)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index)) if size > 1 else None
    if other is not None:
        with pytest.raises(av.VerificationError):
            av.verify_inclusion(ref_leaf(leaves[index]), other, size, proof, root)
    with pytest.raises(av.VerificationError):
        av.verify_inclusion(ref_leaf(leaves[index] + b"!"), index, size, proof, root)


@settings(max_examples=150, deadline=None)
@given(leaves=distinct_leaves, data=st.data())
def test_a_random_consistency_proof_verifies_and_any_flipped_bit_or_cut_fails(leaves, data):
    size2 = len(leaves)
    size1 = data.draw(st.integers(1, size2))
    proof, root1, root2 = ref_proof(size1, leaves), ref_mth(leaves[:size1]), ref_mth(leaves)
    av.verify_consistency(size1, size2, proof, root1, root2)
    if not proof:
        return
    at, bit = data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255))
    bad = list(proof)
    bad[at] = bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b for i, b in enumerate(bad[at]))
    for args in [(size1, size2, bad, root1, root2), (size1, size2, proof[:-1], root1, root2),
                 (size1, size2, proof + [root2], root1, root2), (size1, size2, proof, root2, root1)]:
        with pytest.raises(av.VerificationError):
            av.verify_consistency(*args)


# --- Checkpoint notes and cosignatures ---------------------------------------------------------------------

ROOT = ref_mth(LEAF_BYTES[:10])


def test_a_checkpoint_note_verifies_to_its_origin_size_and_root():
    checkpoint = av.verify_note(checkpoint_note(ORIGIN, 10, ROOT, LOG_KEY), av.parse_vkey(VKEY))
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (ORIGIN, 10, ROOT)
    assert checkpoint.text == f"{ORIGIN}\n10\n{b64(ROOT)}\n"


def test_during_a_rotation_either_key_verifies_and_unknown_lines_are_ignored():
    note = checkpoint_note(ORIGIN, 10, ROOT, LOG_KEY, NEW_LOG_KEY) + f"\u2014 {WITNESS} {b64(b'x' * 80)}\n"
    for text in (VKEY, vkey(ORIGIN, NEW_LOG_KEY)):
        assert av.verify_note(note, [av.parse_vkey(text)]).size == 10


def _non_canonical_root_note() -> str:
    """The root's base64 with its 2 unused bits set: the same 32 bytes, another text, which must not pass."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    canonical_text = b64(ROOT)
    odd = canonical_text[:42] + alphabet[alphabet.index(canonical_text[42]) ^ 1] + "="
    assert base64.b64decode(odd) == ROOT
    text = f"{ORIGIN}\n10\n{odd}\n"
    return text + "\n" + signature_line(text, ORIGIN, LOG_KEY)


NON_CANONICAL_ROOT_NOTE = _non_canonical_root_note()


@pytest.mark.parametrize("note,vkeys,reason", [
    (checkpoint_note(ORIGIN, 10, ROOT, LOG_KEY).replace("\n10\n", "\n11\n"), [VKEY], "does not verify"),
    (checkpoint_note(ORIGIN, 10, ROOT, ROGUE_KEY), [VKEY], "no signature by a known key"),
    (checkpoint_note(ORIGIN, 10, ROOT, LOG_KEY), [vkey("onestop.local/audit/hue-phuxuan", LOG_KEY)], "no vkey named"),
    (checkpoint_note(ORIGIN, 10, ROOT[:31], LOG_KEY), [VKEY], "32-byte"),
    (checkpoint_note(ORIGIN, "010", ROOT, LOG_KEY), [VKEY], "not a decimal"),
    (checkpoint_note(ORIGIN, 10, ROOT, LOG_KEY).replace(b64(ROOT), b64(ROOT)[:-1] + "\n"), [VKEY], "malformed"),
    (checkpoint_note(ORIGIN, 10, ROOT, LOG_KEY), [vkey(ORIGIN, LOG_KEY, 4)], "no vkey named"),
    (NON_CANONICAL_ROOT_NOTE, [VKEY], "not the base64 of a 32-byte hash"),
], ids=["text-changed", "wrong-key", "other-center-key", "short-root", "leading-zero", "broken-root-line",
        "cosignature-key", "non-canonical-base64"])
def test_a_checkpoint_note_is_refused(note, vkeys, reason):
    with pytest.raises(av.VerificationError, match=reason):
        av.verify_note(note, [av.parse_vkey(text) for text in vkeys])


def test_the_witness_cosignature_verifies_by_the_spec_and_in_the_verifier():
    note = checkpoint_note(ORIGIN, 10, ROOT, LOG_KEY)
    checkpoint = av.verify_note(note, av.parse_vkey(VKEY))
    line = aw.cosign(checkpoint, WITNESS, WITNESS_KEY, 1679315147)
    raw = base64.b64decode(line.split(" ")[2])
    assert line.startswith(f"\u2014 {WITNESS} ") and raw[:4] == kid(WITNESS, 4, WITNESS_KEY)
    assert int.from_bytes(raw[4:12], "big") == 1679315147
    message = f"cosignature/v1\ntime 1679315147\n{ORIGIN}\n10\n{b64(ROOT)}\n".encode()
    Ed25519PublicKey.from_public_bytes(public(WITNESS_KEY)).verify(raw[12:], message)  # raises if wrong
    cosigned = note + line
    assert av.verify_cosignature(cosigned, av.parse_vkey(vkey(WITNESS, WITNESS_KEY, 4))).timestamp == 1679315147
    assert av.verify_note(cosigned, av.parse_vkey(VKEY)) == checkpoint  # the log's check ignores the witness
    witness = av.parse_vkey(vkey(WITNESS, WITNESS_KEY, 4))
    for at in (5, 20, 75):  # in the timestamp, in the signature, its last byte
        bad = raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1:]
        with pytest.raises(av.VerificationError, match="does not verify"):
            av.verify_cosignature(note + f"\u2014 {WITNESS} {b64(bad)}\n", witness)
    with pytest.raises(av.VerificationError, match="does not verify"):
        av.verify_cosignature(cosigned.replace("\n10\n", "\n11\n"), witness)


# --- The verifier's command line ---------------------------------------------------------------------------


def test_dossier_verifies_each_entry_and_tells_which_are_not_yet_covered(tmp_path):
    result = cli("dossier", "--vkey", VKEY, "--timeline", write(tmp_path, "answer.json", dossier_answer()))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "VERIFIED" and not failures(result)
    assert sum(line.startswith("ok: entry seq") for line in lines) == 3
    assert [line for line in lines if line.startswith("not yet covered")] == [
        "not yet covered: entry seq 12 dossier.assigned.v1 (hue-vyda): leaf 11 is newer than "
        "onestop.local/audit/hue-vyda size 10"]


def _flip_leaf_byte(answer):
    entry = answer["entries"][1]
    entry["leaf"] = entry["leaf"].replace("Vỹ Dạ", "Vỹ Da")


def _wrong_proof_hash(answer):
    hashes = answer["entries"][0]["inclusion"]["hashes"]
    hashes[1] = flip_hex(hashes[1])


def _wrong_size(answer):
    answer["entries"][2]["inclusion"]["tree_size"] = 9


def _note_changed(answer):
    cp = answer["checkpoints"][CENTER]
    cp["note"] = cp["note"].replace("\n10\n", "\n12\n")


def _leaf_of_another_event(answer):
    answer["entries"][0]["event_id"] = "6f0c0000-0000-4000-8000-999999999999"


def _other_dossier(answer):
    answer["code"] = "VYDA-260213-0008"


def _other_seq(answer):
    answer["entries"][1]["seq"] = 7


def _proof_withheld(answer):
    answer["entries"][0]["inclusion"] = None


def _another_key(answer):
    cp = answer["checkpoints"][CENTER]
    cp["note"] = checkpoint_note(ORIGIN, 10, ROOT, ROGUE_KEY)


DOSSIER_ENTRIES = ((3, "dossier.assigned.v1"), (6, "dossier.assigned.v1"), (10, "dossier.received.v1"),
                   (12, "dossier.assigned.v1"))  # (seq, type) of the timeline's entries
UNPROVEN = [f"entry seq {seq} {kind} (hue-vyda): not proven, the checkpoint of hue-vyda did not verify"
            for seq, kind in DOSSIER_ENTRIES]


@pytest.mark.parametrize("tamper,expected", [
    (_flip_leaf_byte, ["entry seq 6 dossier.assigned.v1 (hue-vyda): leaf_hash", "entry seq 6 dossier.assigned.v1 "
                       "(hue-vyda): the inclusion proof of leaf 5 does not lead to the root"]),
    (_wrong_proof_hash, ["entry seq 3 dossier.assigned.v1 (hue-vyda): the inclusion proof of leaf 2 does not lead"]),
    (_wrong_size, ["entry seq 10 dossier.received.v1 (hue-vyda): the inclusion proof is for tree size 9"]),
    (_note_changed, ["checkpoint of hue-vyda onestop.local/audit/hue-vyda size 10: the signature by "
                     f"{av.parse_vkey(VKEY).label} does not verify", *UNPROVEN]),
    (_another_key, ["checkpoint of hue-vyda onestop.local/audit/hue-vyda size 10: the note carries no signature",
                    *UNPROVEN]),
    (_leaf_of_another_event, ["entry seq 3 dossier.assigned.v1 (hue-vyda): the leaf's id is "
                              "'6f0c0000-0000-4000-8000-000000000002', the entry says "
                              "'6f0c0000-0000-4000-8000-999999999999'"]),
    (_other_dossier, [f"entry seq {seq} {kind} (hue-vyda): the leaf's subject is 'VYDA-260213-0007', the entry "
                      "says 'VYDA-260213-0008'" for seq, kind in DOSSIER_ENTRIES]),
    (_other_seq, ["entry seq 7 dossier.assigned.v1 (hue-vyda): leaf_index 5 is not seq - 1"]),
    (_proof_withheld, ["entry seq 3 dossier.assigned.v1 (hue-vyda): no inclusion proof, yet leaf 2 is inside "
                       "onestop.local/audit/hue-vyda size 10"]),
], ids=["flipped-leaf-byte", "wrong-proof-hash", "wrong-size", "note-text-changed", "wrong-key", "other-event",
        "other-dossier", "other-seq", "proof-withheld"])
def test_dossier_names_each_tampering(tmp_path, tamper, expected):
    answer = dossier_answer()
    tamper(answer)
    result = cli("dossier", "--vkey", VKEY, "--timeline", write(tmp_path, "answer.json", answer))
    assert result.returncode == 1, result.stdout + result.stderr
    found = failures(result)
    assert len(found) == len(expected), result.stdout
    for line, start in zip(found, expected):
        assert line.startswith("FAILED: " + start), (line, start)
    assert result.stdout.splitlines()[-1] == f"NOT VERIFIED: {len(expected)} problem{'s' * (len(expected) > 1)}"


def test_dossier_strict_fails_entries_not_yet_covered_and_json_says_so(tmp_path):
    result = cli("dossier", "--vkey", VKEY, "--timeline", write(tmp_path, "answer.json", dossier_answer()),
                 "--strict", "--json")
    assert result.returncode == 1
    verdict = json.loads(result.stdout)
    assert verdict["verified"] is False and verdict["problems"] == [] and len(verdict["not_yet_covered"]) == 1
    assert verdict["command"] == "dossier" and len(verdict["ok"]) == 4


def test_dossier_proves_its_checkpoint_extends_the_one_you_kept(tmp_path):
    answer = write(tmp_path, "answer.json", dossier_answer())
    kept = write(tmp_path, "old.txt", checkpoint_object(6)["note"])
    good = cli("dossier", "--vkey", VKEY, "--timeline", answer, "--checkpoint", kept, "--consistency",
               write(tmp_path, "proof.json", consistency_answer(6, 10)))
    assert good.returncode == 0, good.stdout
    assert "ok: onestop.local/audit/hue-vyda size 10 extends onestop.local/audit/hue-vyda size 6" in good.stdout
    proof = consistency_answer(6, 10)
    proof["hashes"][0] = flip_hex(proof["hashes"][0])
    bad = cli("dossier", "--vkey", VKEY, "--timeline", answer, "--checkpoint", kept, "--consistency",
              write(tmp_path, "bad.json", proof))
    assert bad.returncode == 1 and failures(bad) == [
        "FAILED: consistency onestop.local/audit/hue-vyda 6 -> 10: the consistency proof does not lead to the root "
        "of size 6"]


@pytest.mark.parametrize("args,message", [
    (["--timeline", "missing.json"], "cannot read missing.json"),
    (["--timeline", "not-json.json"], "not-json.json is not JSON"),
    (["--timeline", "no-code.json"], "no-code.json has no 'code'"),
    (["--timeline", "answer.json", "--checkpoint", "answer.json"], "--checkpoint and --consistency go together"),
])
def test_dossier_input_it_cannot_read_is_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "answer.json", dossier_answer())
    write(tmp_path, "not-json.json", "{nope")
    write(tmp_path, "no-code.json", {"entries": []})
    result = cli("dossier", "--vkey", VKEY, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_malformed_vkey_is_exit_2_with_a_json_error(tmp_path):
    result = cli("receipt", "--vkey", VKEY[:-2], "--receipt", write(tmp_path, "r.json", {}), "--json")
    assert result.returncode == 2 and "vkey" in json.loads(result.stdout)["error"]


def test_consistency_between_two_notes(tmp_path):
    old, new = (write(tmp_path, f"{n}.txt", checkpoint_object(n)["note"]) for n in (6, 10))
    proof = write(tmp_path, "proof.json", consistency_answer(6, 10))
    good = cli("consistency", "--vkey", VKEY, "--old", old, "--new", new, "--proof", proof)
    assert good.returncode == 0 and good.stdout.splitlines()[-1] == "VERIFIED", good.stdout
    swapped = cli("consistency", "--vkey", VKEY, "--old", new, "--new", old, "--proof", proof)
    assert swapped.returncode == 1 and failures(swapped) == [
        "FAILED: consistency onestop.local/audit/hue-vyda 10 -> 6: the proof is from size 6 to 10"]
    other = consistency_answer(6, 10)
    other["first"] = 5
    wrong = cli("consistency", "--vkey", VKEY, "--old", old, "--new", new, "--proof", write(tmp_path, "p5.json", other))
    assert wrong.returncode == 1 and "the proof is from size 5 to 10" in failures(wrong)[0]
    forked = write(tmp_path, "fork.txt", checkpoint_note(ORIGIN, 10, SOME_HASH, LOG_KEY))
    fork = cli("consistency", "--vkey", VKEY, "--old", old, "--new", forked, "--proof", proof)
    assert fork.returncode == 1 and failures(fork)[0].endswith("does not lead to the root of size 10")
    assert cli("consistency", "--vkey", VKEY, "--old", old, "--new", new, "--proof", tmp_path / "nope").returncode == 2


def _pages(size: int, per_page: int = 5) -> list[dict]:
    pages = []
    for start in range(0, size, per_page):
        end = min(start + per_page, size)
        pages.append({"center": CENTER, "origin": ORIGIN, "next": end if end < size else None, "entries": [
            {"leaf_index": i, "leaf": LEAVES[i], "leaf_hash": ref_leaf(LEAF_BYTES[i]).hex()}
            for i in range(start, end)]})
    return pages


def test_log_rebuilds_the_root_from_every_leaf(tmp_path):
    note = write(tmp_path, "note.txt", checkpoint_object(10)["note"])
    pages = [write(tmp_path, f"page{i}.json", page) for i, page in enumerate(_pages(12))]
    good = cli("log", "--vkey", VKEY, "--checkpoint", note, "--entries", *pages)
    assert good.returncode == 0, good.stdout
    assert "ok: the 10 leaves in the pages rebuild the root of onestop.local/audit/hue-vyda size 10" in good.stdout
    assert "not yet covered: leaves 10-11: newer than onestop.local/audit/hue-vyda size 10" in good.stdout
    missing = cli("log", "--vkey", VKEY, "--checkpoint", note, "--entries", pages[0], pages[2])
    assert missing.returncode == 1 and failures(missing) == [
        "FAILED: onestop.local/audit/hue-vyda size 10: the pages lack leaves 5-9"]
    tampered = _pages(12)
    tampered[1]["entries"][2]["leaf"] = tampered[1]["entries"][2]["leaf"].replace("02:07", "02:08")
    bad = cli("log", "--vkey", VKEY, "--checkpoint", note, "--entries",
              *[write(tmp_path, f"bad{i}.json", page) for i, page in enumerate(tampered)])
    found = failures(bad)
    assert bad.returncode == 1 and len(found) == 2, bad.stdout
    assert found[0].startswith("FAILED: leaf 7: leaf_hash ") and found[0].endswith(
        "is not SHA-256(0x00 || leaf) = " + ref_leaf(tampered[1]["entries"][2]["leaf"].encode()).hex())
    assert found[1].startswith("FAILED: onestop.local/audit/hue-vyda size 10: the root of leaves 0-9 is ")


def test_log_refuses_pages_of_a_rewritten_log(tmp_path):
    rewritten = list(LEAF_BYTES[:10])
    rewritten[3] = b"{}"
    note = write(tmp_path, "note.txt", checkpoint_note(ORIGIN, 10, ref_mth(tuple(rewritten)), LOG_KEY))
    result = cli("log", "--vkey", VKEY, "--checkpoint", note, "--entries",
                 *[write(tmp_path, f"page{i}.json", page) for i, page in enumerate(_pages(10))])
    assert result.returncode == 1 and failures(result)[0].startswith(
        "FAILED: onestop.local/audit/hue-vyda size 10: the root of leaves 0-9 is ")


def _receipt(index: int, size: int | None) -> dict:
    return {"center": CENTER, "origin": ORIGIN, "leaf_index": index, "leaf_hash": ref_leaf(LEAF_BYTES[index]).hex(),
            "checkpoint": checkpoint_object(size) if size else None,
            "inclusion": inclusion(index, size) if size else None}


def test_receipt_proves_a_leaf_hash_without_its_content(tmp_path):
    receipt = write(tmp_path, "r.json", _receipt(7, 10))
    good = cli("receipt", "--vkey", VKEY, "--receipt", receipt, "--leaf-hash", ref_leaf(LEAF_BYTES[7]).hex())
    assert good.returncode == 0 and f"ok: {ref_leaf(LEAF_BYTES[7]).hex()} is leaf 7 of" in good.stdout, good.stdout
    other = cli("receipt", "--vkey", VKEY, "--receipt", receipt, "--leaf-hash", ref_leaf(LEAF_BYTES[6]).hex())
    assert other.returncode == 1 and "the receipt is not about your leaf hash" in failures(other)[0]
    wrong = _receipt(7, 10)
    wrong["leaf_index"] = 6
    moved = cli("receipt", "--vkey", VKEY, "--receipt", write(tmp_path, "w.json", wrong))
    assert moved.returncode == 1 and "does not lead to the root" in failures(moved)[0]
    for field, value, problem in [("root_hash", "ab" * 32, f"its root_hash is '{'ab' * 32}' but the signed note says"),
                                  ("center", "hue-phuxuan", "its center 'hue-phuxuan' is not the last part of")]:
        unsigned = _receipt(7, 10)
        unsigned["checkpoint"][field] = value
        result = cli("receipt", "--vkey", VKEY, "--receipt", write(tmp_path, f"{field}.json", unsigned))
        found = failures(result)
        assert result.returncode == 1 and len(found) == 1, result.stdout
        assert found[0].startswith(f"FAILED: checkpoint onestop.local/audit/hue-vyda size 10: {problem}"), found
    pending = cli("receipt", "--vkey", VKEY, "--receipt", write(tmp_path, "p.json", _receipt(11, None)))
    assert pending.returncode == 1 and "no checkpoint covers it yet" in pending.stdout


def test_checkpoint_and_its_witness_cosignatures(tmp_path):
    note = checkpoint_note(ORIGIN, 10, ROOT, LOG_KEY)
    checkpoint = av.verify_note(note, av.parse_vkey(VKEY))
    cosigned = write(tmp_path, "cosigned.txt", note + aw.cosign(checkpoint, WITNESS, WITNESS_KEY, 1700000000))
    witness = vkey(WITNESS, WITNESS_KEY, 4)
    good = cli("checkpoint", "--vkey", VKEY, "--witness", witness, cosigned)
    assert good.returncode == 0 and f"cosigned by {witness.rsplit('+', 1)[0]} at unix time 1700000000" in good.stdout
    absent = cli("checkpoint", "--vkey", VKEY, "--witness", vkey("witness.example.org/w2", ROGUE_KEY, 4), cosigned)
    assert absent.returncode == 1 and "no cosignature by witness.example.org/w2" in failures(absent)[0]


# --- The witness ------------------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_file_and_prints_the_witness_vkey(tmp_path):
    key_file = tmp_path / "witness.key"
    result = cli("keygen", "--name", WITNESS, "--key-file", key_file, script="audit_witness.py")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    record = json.loads(key_file.read_text())
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(record["seed"]))
    assert record["name"] == WITNESS and result.stdout.strip() == vkey(WITNESS, key, 4)
    assert av.parse_vkey(result.stdout.strip()).alg == av.ALG_COSIGNATURE_V1
    again = cli("keygen", "--name", WITNESS, "--key-file", key_file, script="audit_witness.py")
    assert again.returncode == 2 and "never overwritten" in again.stderr and json.loads(key_file.read_text()) == record


def checkpoint_at(size: int, leaves=LEAF_BYTES, key=LOG_KEY) -> str:
    return checkpoint_note(ORIGIN, size, ref_mth(tuple(leaves[:size])), key)


def cosigned(size: int, leaves=LEAF_BYTES) -> av.Checkpoint:
    return av.verify_note(checkpoint_at(size, leaves), av.parse_vkey(VKEY))


def proofs(leaves=LEAF_BYTES):
    def fetch(first, second):
        return {"center": CENTER, "origin": ORIGIN, "first": first, "second": second,
                "hashes": [h.hex() for h in ref_proof(first, tuple(leaves[:second]))]}
    return fetch


def no_proof(first, second):
    raise aw.ProofUnavailable("the audit API answered 409 instead of a proof: not consistent")


def unreachable(first, second):
    raise aw.TransientError("the audit API is unreachable")


REWRITTEN = LEAF_BYTES[:3] + (b"{}",) + LEAF_BYTES[4:]


def _bad_hash_proofs(first, second):
    answer = proofs()(first, second)
    answer["hashes"][0] = flip_hex(answer["hashes"][0])
    return answer


def _other_proof(first, second):
    answer = proofs()(first, second)  # the right hashes, said to be of other sizes: not the proof asked for
    answer["second"] = second + 1
    return answer


@pytest.mark.parametrize("last,note,fetch,ok,reason", [
    (None, checkpoint_at(6), unreachable, True, "first_seen"),
    (cosigned(6), checkpoint_at(10), proofs(), True, "consistent"),
    (cosigned(6), checkpoint_at(6), unreachable, True, "unchanged"),
    (cosigned(0), checkpoint_at(4), unreachable, True, "consistent"),
    (cosigned(6), checkpoint_at(10).replace("\n10\n", "\n11\n"), proofs(), False, "bad_signature"),
    (None, checkpoint_at(10, key=ROGUE_KEY), proofs(), False, "bad_signature"),
    (cosigned(10), checkpoint_at(6), proofs(), False, "log_shrank"),
    (cosigned(10), checkpoint_at(10, REWRITTEN), proofs(), False, "fork"),
    (cosigned(6), checkpoint_at(10, REWRITTEN), proofs(REWRITTEN), False, "consistency_proof_failed"),
    (cosigned(6), checkpoint_at(10), _bad_hash_proofs, False, "consistency_proof_failed"),
    (cosigned(6), checkpoint_at(10), _other_proof, False, "consistency_proof_failed"),
    (cosigned(6), checkpoint_at(10), no_proof, False, "no_consistency_proof"),
], ids=["first-seen", "consistent", "unchanged", "from-empty", "bad-signature", "unknown-key", "log-shrank", "fork",
        "rewritten-history", "bad-proof-hash", "proof-of-other-sizes", "no-proof"])
def test_judge(last, note, fetch, ok, reason):
    decision = aw.judge(last, note, fetch, [av.parse_vkey(VKEY)])
    assert (decision.ok, decision.reason) == (ok, reason), decision.detail
    assert decision.detail


def test_judge_makes_no_decision_while_the_audit_api_is_unreachable():
    with pytest.raises(aw.TransientError):
        aw.judge(cosigned(6), checkpoint_at(10), unreachable, [av.parse_vkey(VKEY)])


def checkpoint_event(note: str) -> dict:
    checkpoint = av.parse_checkpoint(av.parse_note(note).text)
    return {"specversion": "1.0", "id": "e1", "type": "audit.checkpoint.v1", "source": "onestop/audit/hue-vyda",
            "time": "2026-02-13T03:00:00.000Z", "subject": ORIGIN, "center": CENTER, "correlationid": "c1",
            "actorid": "audit", "actorrole": "system", "datacontenttype": "application/json",
            "dataschema": "https://onestop.local/schemas/events/audit.checkpoint.v1.json",
            "data": {"center": CENTER, "origin": ORIGIN, "tree_size": checkpoint.size,
                     "root_hash": checkpoint.root_hex, "note": note, "signed_at": "2026-02-13T03:00:00.000Z"}}


def test_the_witness_cosigns_remembers_and_never_advances_past_an_inconsistency(tmp_path):
    published = []
    state = aw.StateDir(str(tmp_path / "state"))
    witness = aw.Witness(WITNESS, WITNESS_KEY, [av.parse_vkey(VKEY)], state,
                         lambda center, first, second: proofs()(first, second), published.append,
                         clock=lambda: 1700000000)
    assert witness.handle(checkpoint_event(checkpoint_at(6))).reason == "first_seen"
    assert witness.handle(checkpoint_event(checkpoint_at(10))).reason == "consistent"
    cosigned_event = published[-1]
    assert (cosigned_event["type"], cosigned_event["source"], cosigned_event["subject"]) == (
        "audit.cosigned.v1", f"witness/{WITNESS}", ORIGIN)
    assert cosigned_event["correlationid"] == "c1"
    assert (cosigned_event["actorid"], cosigned_event["actorrole"]) == (WITNESS, "system")
    data = cosigned_event["data"]
    assert (data["tree_size"], data["root_hash"], data["witness"]) == (10, ROOT.hex(), WITNESS)
    witness_key = av.parse_vkey(vkey(WITNESS, WITNESS_KEY, 4))
    assert av.verify_cosignature(data["cosigned_note"], witness_key).timestamp == 1700000000
    assert data["cosigned_at"] == "2023-11-14T22:13:20.000Z"

    assert witness.handle(checkpoint_event(checkpoint_at(10, REWRITTEN))).reason == "fork"
    alarm = published[-1]
    assert alarm["type"] == "audit.inconsistency.v1" and alarm["data"] == {
        "center": CENTER, "origin": ORIGIN, "witness": WITNESS, "reason": "fork", "detail": alarm["data"]["detail"],
        "cosigned_size": 10, "cosigned_root_hash": ROOT.hex(), "tree_size": 10,
        "root_hash": ref_mth(REWRITTEN[:10]).hex()}
    assert state.last_cosigned(ORIGIN).root == ROOT and state.load(ORIGIN)["cosigned_note"] == data["cosigned_note"]
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["onestop.local%2Faudit%2Fhue-vyda.json"]

    assert witness.handle(checkpoint_event(checkpoint_at(12))).reason == "consistent"  # judged against size 10
    assert witness.handle(checkpoint_event(checkpoint_at(10))).reason == "stale"  # a late copy: no alarm
    assert len(published) == 4 and state.last_cosigned(ORIGIN).size == 12
    assert witness.handle(checkpoint_event(checkpoint_at(8))).reason == "log_shrank"  # never cosigned: the log shrank
    published.pop()
    unknown = checkpoint_event(checkpoint_at(12))
    unknown["data"]["origin"] = "onestop.local/audit/hue-phuxuan"
    unknown["data"]["center"] = "hue-phuxuan"
    assert witness.handle(unknown) is None and len(published) == 4


def test_the_witness_logs_one_line_per_decision(tmp_path, caplog):
    witness = aw.Witness(WITNESS, WITNESS_KEY, [av.parse_vkey(VKEY)], aw.StateDir(str(tmp_path)),
                         lambda center, first, second: no_proof(first, second))
    with caplog.at_level("INFO", logger="audit_witness"):
        witness.handle(checkpoint_event(checkpoint_at(6)))
        witness.handle(checkpoint_event(checkpoint_at(10)))
    (first, second) = caplog.records
    assert first.levelname == "WARNING" and first.getMessage().startswith("trust on first use: cosigned "
                                                                            f"{ORIGIN} size 6")
    assert second.levelname == "ERROR"
    assert second.getMessage().startswith(f"INCONSISTENCY {ORIGIN} no_consistency_proof")


@pytest.mark.parametrize("status,kind", [(500, aw.TransientError), (503, aw.TransientError), (429, aw.TransientError),
                                         (401, aw.TransientError), (409, aw.ProofUnavailable),
                                         (404, aw.ProofUnavailable), (400, aw.ProofUnavailable)])
def test_what_an_http_error_means_for_the_witness(status, kind):
    assert isinstance(aw.classify_http_error(status, "m"), kind)


def test_the_audit_api_client_asks_with_the_token_and_reads_the_answer():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers["Authorization"]))
            status, body = (200, consistency_answer(6, 10)) if "first=6" in self.path else (
                409, {"message": "the store is not consistent", "fields": []})
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = aw.AuditAPI(f"http://127.0.0.1:{server.server_port}/", "t0ken", timeout=5)
        assert api.consistency(CENTER, 6, 10) == consistency_answer(6, 10)
        with pytest.raises(aw.ProofUnavailable, match="409 instead of a proof: the store is not consistent"):
            api.consistency(CENTER, 7, 10)
    finally:
        server.shutdown()
        server.server_close()
    assert seen[0] == ("/api/v1/audit/proofs/consistency?center=hue-vyda&first=6&second=10", "Bearer t0ken")
    with pytest.raises(aw.TransientError, match="unreachable"):
        aw.AuditAPI(f"http://127.0.0.1:{server.server_port}", "t", timeout=2).consistency(CENTER, 6, 10)


# --- Outsiders' code --------------------------------------------------------------------------------------


@pytest.mark.parametrize("script,allowed", [("audit_verify.py", {"cryptography"}),
                                            ("audit_witness.py", {"cryptography", "kombu", "audit_verify"})])
def test_the_examples_import_nothing_of_the_project(script, allowed):
    tree = ast.parse((EXAMPLES / script).read_text(encoding="utf-8"))
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert modules - sys.stdlib_module_names - {"__future__"} == allowed
