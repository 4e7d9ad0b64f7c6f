"""Check OneStop's audit log yourself, offline, with nothing of OneStop: Python 3.11 and `cryptography`.

The audit service keeps, per center, an append-only Merkle tree (RFC 9162) of every event it recorded,
and signs checkpoints of it (C2SP tlog-checkpoint: a signed note with Ed25519). This script checks what
the audit API answered, from files you saved, against the log's verifier key (its "vkey"). Get the vkey
once, out of band, and keep it: the center publishes it, GET /api/v1/audit/keys lists it (public); a
key you fetch today from the same server you are checking proves nothing on its own.

    python examples/audit_verify.py dossier --vkey VKEY [--vkey ...] --timeline answer.json [--strict]
                                            [--checkpoint old_note.txt --consistency proof.json]
    python examples/audit_verify.py consistency --vkey VKEY --old old_note.txt --new new_note.txt --proof proof.json
    python examples/audit_verify.py log --vkey VKEY --checkpoint note.txt --entries page1.json [page2.json ...]
    python examples/audit_verify.py receipt --vkey VKEY --receipt answer.json [--leaf-hash HEX]
    python examples/audit_verify.py checkpoint --vkey VKEY [--witness WITNESS_VKEY ...] note.txt

Where each file comes from (a staff bearer token for all but receipts):
    dossier answer.json   GET /api/v1/audit/dossiers/<code>?proofs=true: each entry, its leaf, its inclusion
                          proof, and the checkpoint of each center (one --vkey per center: a key's name is
                          its log's origin, e.g. onestop.local/audit/hue-vyda).
    note.txt              a checkpoint note exactly as returned: the "note" of
                          GET /api/v1/audit/checkpoints/latest?center=C (save it with `jq -j .note`, not
                          `jq -r`, which adds a newline), or the "cosigned_note" of an audit.cosigned.v1 event.
    proof.json            GET /api/v1/audit/proofs/consistency?center=C&first=M&second=N: proves that the
                          tree you saw at size M is the start of the one of size N (nothing was rewritten).
    page*.json            GET /api/v1/audit/entries?center=C&start=S&limit=1000, following "next": the whole
                          log, to rebuild the checkpoint's root from every leaf.
    receipt answer.json   GET /api/v1/audit/receipts/<leaf_hash> (public; the leaf hash is on your receipt).

The exit status is 0 when everything verified, 1 when something did not (one "FAILED:" line per problem),
2 for bad usage or an input that cannot be read as what it should be. --json prints the verdict as one
JSON object: {"verified", "command", "ok", "problems", "not_yet_covered"} (or {"verified": false, "error"}).

As a module: leaf_hash, node_hash, root_from_leaves, root_from_leaf_hashes, verify_inclusion,
verify_consistency (RFC 9162 2.1), parse_vkey, parse_note, open_note, verify_note (C2SP signed-note,
tlog-checkpoint), parse_cosignature, verify_cosignature (C2SP tlog-cosignature, cosignature/v1).
"""
from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
ALG_ED25519 = 0x01  # signed-note: Ed25519 over the note text
ALG_COSIGNATURE_V1 = 0x04  # tlog-cosignature: timestamped Ed25519 over "cosignature/v1\ntime T\n" + text
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100  # what Go's sumdb/note accepts; signed-note requires at least 16
COSIGNATURE_HEADER = "cosignature/v1"
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")
_HASH_HEX = re.compile(r"[0-9a-f]{64}")


class VerificationError(ValueError):
    """The evidence does not hold: the message says what failed."""


class InputError(ValueError):
    """An input is not what it should be (a file, a JSON shape, a vkey): nothing could be checked."""


# --- Merkle tree (RFC 9162 section 2.1) ----------------------------------------------------------------

def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf): the 0x00 prefix keeps a leaf from ever passing for an interior node."""
    return _sha256(b"\x00" + leaf)


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right)


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where MTH, PATH and PROOF cut a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(hashes: list[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return hashes[start]
    middle = start + _split(end - start)
    return node_hash(_subtree_root(hashes, start, middle), _subtree_root(hashes, middle, end))


def root_from_leaf_hashes(hashes: list[bytes]) -> bytes:
    """MTH (RFC 9162 2.1.1) of the leaves whose hashes are given, in order; SHA-256("") when there are none."""
    for position, value in enumerate(hashes):
        _check_hash(value, f"leaf hash {position}")
    return _subtree_root(hashes, 0, len(hashes)) if hashes else EMPTY_ROOT


def root_from_leaves(leaves: list[bytes]) -> bytes:
    """MTH (RFC 9162 2.1.1) of the leaves themselves."""
    return root_from_leaf_hashes([leaf_hash(leaf) for leaf in leaves])


def _check_hash(value, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise VerificationError(f"{what} is not a {HASH_SIZE}-byte hash")


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift fn and sn together until fn's lowest bit is set or fn is 0: skip the levels where the
    node is a left child with no right sibling in the tree (the right edge of an unbalanced tree)."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes]) -> bytes:
    """The root an inclusion proof leads to, by RFC 9162 2.1.3.2 (all but the final root comparison).

    Raises VerificationError when the index is outside the tree or the proof has too many or too few hashes.
    """
    _check_hash(leaf, "the leaf hash")
    for position, value in enumerate(proof):
        _check_hash(value, f"inclusion proof hash {position}")
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError(f"the inclusion proof has {len(proof)} hashes, more than leaf {index} "
                                    f"of a tree of size {size} needs")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError(f"the inclusion proof has {len(proof)} hashes, too few for leaf {index} "
                                f"of a tree of size {size}")
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    """Check that the leaf hash is leaf `index` of the tree of `size` leaves whose root is `root`
    (RFC 9162 2.1.3.2); raises VerificationError saying what failed."""
    _check_hash(root, "the root")
    if root_from_inclusion(leaf, index, size, proof) != root:
        raise VerificationError(f"the inclusion proof of leaf {index} does not lead to the root of the tree "
                                f"of size {size}")


def verify_consistency(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of size1 (root1) is the start of the tree of size2 (root2): nothing in it was
    changed, removed or reordered. RFC 9162 2.1.4.2 for 0 < size1 < size2; the cases it leaves out:
    equal sizes need an empty proof and equal roots; the empty tree (root SHA-256("")) starts every tree,
    with an empty proof. Raises VerificationError saying what failed."""
    _check_hash(root1, "the first root")
    _check_hash(root2, "the second root")
    for position, value in enumerate(proof):
        _check_hash(value, f"consistency proof hash {position}")
    if size1 < 0 or size2 < size1:
        raise VerificationError(f"the second tree (size {size2}) is smaller than the first (size {size1})")
    if size1 == size2 or size1 == 0:
        _check_trivial_consistency(size1, size2, proof, root1, root2)
        return
    fr, sr, sn = _consistency_roots(size1, size2, proof, root1)
    if sn != 0:
        raise VerificationError(f"the consistency proof has {len(proof)} hashes, too few for sizes {size1} "
                                f"and {size2}")
    if fr != root1:
        raise VerificationError(f"the consistency proof does not lead to the root of size {size1}")
    if sr != root2:
        raise VerificationError(f"the consistency proof does not lead to the root of size {size2}")


def _check_trivial_consistency(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> None:
    if proof:
        raise VerificationError(f"a consistency proof from size {size1} to {size2} must be empty, "
                                f"it has {len(proof)} hashes")
    if size1 == 0 and root1 != EMPTY_ROOT:
        raise VerificationError("the root of the empty tree is not SHA-256(\"\")")
    if size1 == size2 and root1 != root2:
        raise VerificationError(f"two different roots for the same size {size1}: the log forked")


def _consistency_roots(size1: int, size2: int, proof: list[bytes], root1: bytes) -> tuple[bytes, bytes, int]:
    """RFC 9162 2.1.4.2 steps 1 to 6: the two roots the proof leads to, and what is left of sn."""
    if not proof:
        raise VerificationError(f"the consistency proof from size {size1} to {size2} is empty")
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError(f"the consistency proof has {len(proof)} hashes, more than sizes {size1} "
                                    f"and {size2} need")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr, sr, sn


# --- Keys and signed notes (C2SP signed-note) ------------------------------------------------------------

def _b64decode(text: str) -> bytes:
    """Standard, padded base64, nothing else tolerated (no whitespace, no other alphabet)."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValueError("not standard padded base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def valid_name(name: str) -> bool:
    """A key name: non-empty, no Unicode space, no plus (signed-note)."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || signature type || public key)[:4]: binds a signature line to one key and use."""
    return _sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key)[:4]


@dataclass(frozen=True)
class Vkey:
    """A verifier key: who signs (name), which key (key_id), for what (alg), and the Ed25519 public key."""

    name: str
    key_id: bytes
    alg: int
    public_key: bytes

    def __str__(self) -> str:
        return format_vkey(self.name, self.alg, self.public_key)

    @property
    def label(self) -> str:
        return f"{self.name}+{self.key_id.hex()}"


def format_vkey(name: str, alg: int, public_key: bytes) -> str:
    """<name>+<key id, 8 hex>+<base64(type byte || public key)>."""
    return f"{name}+{key_id(name, alg, public_key).hex()}+{_b64(bytes([alg]) + public_key)}"


def parse_vkey(text: str) -> Vkey:
    """Read a vkey (Ed25519 0x01 or cosignature/v1 0x04); InputError if it is malformed or its key id
    does not match its name and key (the rules of Go's sumdb/note NewVerifier)."""
    name, _, rest = text.partition("+")
    id_hex, _, key_b64 = rest.partition("+")
    if not valid_name(name) or not _KEY_ID_HEX.fullmatch(id_hex):
        raise InputError(f"malformed vkey {text!r}: expected <name>+<8 hex digits>+<base64 key>")
    try:
        key = _b64decode(key_b64)
    except ValueError:
        raise InputError(f"malformed vkey {text!r}: its key is not base64") from None
    if not key:
        raise InputError(f"malformed vkey {text!r}: no key")
    if key_id(name, key[0], key[1:]).hex() != id_hex.lower():
        raise InputError(f"vkey {text!r}: its key id does not match its name and key")
    if key[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise InputError(f"vkey {text!r}: unknown signature type 0x{key[0]:02x} (0x01 or 0x04 expected)")
    if len(key) != 1 + 32:
        raise InputError(f"vkey {text!r}: an Ed25519 key is 32 bytes, this one is {len(key) - 1}")
    return Vkey(name, bytes.fromhex(id_hex), key[0], key[1:])


@dataclass(frozen=True)
class Signature:
    """One signature line of a note: the key name, the key id and the bytes after it."""

    name: str
    key_id: bytes
    signature: bytes
    line: str


@dataclass(frozen=True)
class Note:
    """A signed note, parsed but not verified: the text (with its final newline) and its signature lines."""

    text: str
    signatures: tuple[Signature, ...]

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")[:-1]


def parse_signature_line(line: str) -> Signature:
    """"— <key name> <base64(key id || signature)>" (without its newline); VerificationError if malformed."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise VerificationError(f"malformed note: {line!r} is not a signature line (\"\u2014 name signature\")")
    name, _, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
    try:
        raw = _b64decode(encoded)
    except ValueError:
        raw = b""
    if not valid_name(name) or len(raw) < 5:
        raise VerificationError(f"malformed note: bad signature line {line!r}")
    return Signature(name, raw[:4], raw[4:], line)


def _note_text(note: str | bytes) -> str:
    if isinstance(note, bytes):
        try:
            return note.decode("utf-8")
        except UnicodeDecodeError:
            raise VerificationError("malformed note: not UTF-8") from None
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise VerificationError("malformed note: not UTF-8") from None
    return note


def parse_note(note: str | bytes) -> Note:
    """Split a signed note into its text and signature lines (C2SP signed-note: the text ends at the last
    blank line; UTF-8, no control character but newline); VerificationError if malformed."""
    text = _note_text(note)
    if any(ch < " " and ch != "\n" for ch in text):
        raise VerificationError("malformed note: it holds a control character")
    split = text.rfind("\n\n")
    if split < 0:
        raise VerificationError("malformed note: no blank line before the signatures")
    body, block = text[:split + 1], text[split + 2:]
    if not block.endswith("\n"):
        raise VerificationError("malformed note: no signature line after the blank line, or no final newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise VerificationError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return Note(body, tuple(parse_signature_line(line) for line in lines))


def _ed25519_verifies(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except InvalidSignature:
        return False


def open_note(note: str | bytes, vkeys) -> tuple[Note, tuple[Vkey, ...]]:
    """Verify a signed note with the Ed25519 vkeys given; returns it and the keys whose signature verified.

    As signed-note says: lines of unknown keys (other name or other key id) are ignored; a line of a
    known key that does not verify rejects the whole note; so does a note no known key signed.
    """
    parsed = parse_note(note)
    known = {(v.name, v.key_id): v for v in vkeys if v.alg == ALG_ED25519}
    signers: dict[tuple, Vkey] = {}
    for line in parsed.signatures:
        vkey = known.get((line.name, line.key_id))
        if vkey is None:
            continue
        if not _ed25519_verifies(vkey.public_key, line.signature, parsed.text.encode("utf-8")):
            raise VerificationError(f"the signature by {vkey.label} does not verify: the note was changed "
                                    "or not signed by this key")
        signers[(vkey.name, vkey.key_id)] = vkey
    if not signers:
        names = ", ".join(sorted(v.label for v in known.values())) or "none given"
        raise VerificationError(f"the note carries no signature by a known key ({names})")
    return parsed, tuple(signers.values())


# --- Checkpoints (C2SP tlog-checkpoint) --------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    """A tree head the log signed: origin (the log's name), size (leaves), root (32 bytes), the note text."""

    origin: str
    size: int
    root: bytes
    text: str
    extensions: tuple[str, ...] = ()

    @property
    def root_hex(self) -> str:
        return self.root.hex()

    def __str__(self) -> str:
        return f"{self.origin} size {self.size}"


def parse_checkpoint(text: str) -> Checkpoint:
    """Read a checkpoint's note text: origin, size (decimal, no leading zero), root (base64 of 32 bytes),
    then optional non-empty extension lines; VerificationError if it is not one."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise VerificationError("malformed checkpoint: expected origin, size and root lines")
    origin, size, root, extensions = lines[0], lines[1], lines[2], tuple(lines[3:-1])
    if not origin:
        raise VerificationError("malformed checkpoint: empty origin")
    if not _DECIMAL.fullmatch(size):
        raise VerificationError(f"malformed checkpoint: tree size {size!r} is not a decimal number")
    try:
        root_hash = _b64decode(root)
    except ValueError:
        root_hash = b""
    if len(root_hash) != HASH_SIZE or _b64(root_hash) != root:
        raise VerificationError(f"malformed checkpoint: root {root!r} is not the base64 of a 32-byte hash")
    if any(not line for line in extensions):
        raise VerificationError("malformed checkpoint: an empty extension line")
    return Checkpoint(origin, int(size), root_hash, text, extensions)


def verify_note(note: str | bytes, vkeys) -> Checkpoint:
    """Verify a checkpoint note and return its checkpoint; raises VerificationError saying what failed.

    `vkeys` is one Vkey or several: only those named after the checkpoint's origin count (a log's key
    name is its origin), so one center's key never vouches for another center's tree.
    """
    vkeys = [vkeys] if isinstance(vkeys, Vkey) else list(vkeys)
    checkpoint = parse_checkpoint(parse_note(note).text)
    named = [v for v in vkeys if v.name == checkpoint.origin and v.alg == ALG_ED25519]
    if not named:
        raise VerificationError(f"no vkey named {checkpoint.origin} (the checkpoint's origin) was given")
    open_note(note, named)
    return checkpoint


# --- Cosignatures (C2SP tlog-cosignature, cosignature/v1) ------------------------------------------------

@dataclass(frozen=True)
class Cosignature:
    """A witness's statement that, at `timestamp`, this was the largest consistent tree it had seen."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes


def cosignature_message(text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: a header line, a time line, then the checkpoint's note text."""
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{text}".encode("utf-8")


def parse_cosignature(line: str | Signature) -> Cosignature:
    """Read a cosignature/v1 signature line: key id (4 bytes), big-endian timestamp (8), Ed25519 (64)."""
    signature = parse_signature_line(line) if isinstance(line, str) else line
    raw = signature.signature
    if len(raw) != 8 + 64:
        raise VerificationError(f"the cosignature by {signature.name} is {len(raw) + 4} bytes, not 76")
    timestamp = int.from_bytes(raw[:8], "big")
    if timestamp >= 2 ** 63:
        raise VerificationError(f"the cosignature by {signature.name} has an impossible timestamp")
    return Cosignature(signature.name, signature.key_id, timestamp, raw[8:])


def verify_cosignature(note: str | bytes, witness: Vkey) -> Cosignature:
    """Find and verify the witness's cosignature on a note; VerificationError if absent or invalid."""
    if witness.alg != ALG_COSIGNATURE_V1:
        raise InputError(f"{witness.label} is not a cosignature/v1 (0x04) vkey")
    parsed = parse_note(note)
    lines = [s for s in parsed.signatures if (s.name, s.key_id) == (witness.name, witness.key_id)]
    if not lines:
        raise VerificationError(f"the note carries no cosignature by {witness.label}")
    cosignatures = [parse_cosignature(line) for line in lines]
    for cosignature in cosignatures:
        message = cosignature_message(parsed.text, cosignature.timestamp)
        if not _ed25519_verifies(witness.public_key, cosignature.signature, message):
            raise VerificationError(f"the cosignature by {witness.label} does not verify")
    return max(cosignatures, key=lambda c: c.timestamp)


# --- The command line ----------------------------------------------------------------------------------

class Report:
    """What a command found: verified facts, problems (each fails the check), entries not yet covered."""

    def __init__(self, command: str):
        self.command = command
        self.ok: list[str] = []
        self.problems: list[str] = []
        self.not_yet_covered: list[str] = []
        self.pending_fails = False

    @property
    def verified(self) -> bool:
        return not self.problems and not (self.pending_fails and self.not_yet_covered)

    def to_dict(self) -> dict:
        return {"verified": self.verified, "command": self.command, "ok": self.ok,
                "problems": self.problems, "not_yet_covered": self.not_yet_covered}

    def lines(self) -> list[str]:
        lines = [f"ok: {line}" for line in self.ok]
        lines += [f"not yet covered: {line}" for line in self.not_yet_covered]
        lines += [f"FAILED: {line}" for line in self.problems]
        if self.verified:
            lines.append("VERIFIED")
        else:
            count = len(self.problems) + (len(self.not_yet_covered) if self.pending_fails else 0)
            lines.append(f"NOT VERIFIED: {count} problem{'s' if count != 1 else ''}")
        return lines


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None


def _read_json(path: str):
    try:
        return json.loads(_read_text(path))
    except ValueError as error:
        raise InputError(f"{path} is not JSON: {error}") from None


def _field(obj, key: str, kind, where: str, nullable: bool = False):
    """obj[key], which must be of `kind` (or None when nullable); InputError naming where it was expected."""
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(f"{where} has no {key!r}")
    value = obj[key]
    if value is None and nullable:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"{where}: {key!r} should be {names}, not {type(value).__name__}")
    return value


def _hash_from_hex(text: str, what: str) -> bytes:
    if not isinstance(text, str) or not _HASH_HEX.fullmatch(text):
        raise VerificationError(f"{what} {text!r} is not 64 lowercase hex digits")
    return bytes.fromhex(text)


def _proof_from_hex(hashes: list, what: str) -> list[bytes]:
    return [_hash_from_hex(value, f"{what} hash {position}") for position, value in enumerate(hashes)]


def _checked(report: Report, where: str, check) -> bool:
    """Run one check; a VerificationError becomes a problem line. True if it held."""
    try:
        check()
        return True
    except VerificationError as error:
        report.problems.append(f"{where}: {error}")
        return False


def _answer_checkpoint(cp: dict, vkeys, where: str, report: Report) -> Checkpoint | None:
    """A checkpoint object of the API ({"center", "origin", "tree_size", "root_hash", "note", ...}):
    its note verified with the vkeys and its fields equal to what the note says; None if it failed."""
    center = _field(cp, "center", str, where)
    origin, size = _field(cp, "origin", str, where), _field(cp, "tree_size", int, where)
    root_hex, note = _field(cp, "root_hash", str, where), _field(cp, "note", str, where)
    try:
        checkpoint = verify_note(note, vkeys)
    except VerificationError as error:
        report.problems.append(f"{where} {origin} size {size}: {error}")
        return None
    found = [f"its {name} is {claimed!r} but the signed note says {signed!r}" for name, claimed, signed in (
        ("origin", origin, checkpoint.origin), ("tree_size", size, checkpoint.size),
        ("root_hash", root_hex, checkpoint.root_hex)) if claimed != signed]
    if not checkpoint.origin.endswith("/" + center):
        found.append(f"its center {center!r} is not the last part of its origin {checkpoint.origin!r}")
    report.problems += [f"{where} {checkpoint}: {problem}" for problem in found]
    if found:
        return None
    report.ok.append(f"checkpoint {checkpoint} root {checkpoint.root_hex} signed by its log's key")
    return checkpoint


def _check_inclusion(inclusion: dict, leaf: bytes, index: int, checkpoint: Checkpoint, where: str,
                     report: Report) -> bool:
    """An {"tree_size", "hashes"} object: a proof that the leaf hash `leaf` is leaf `index` of the
    checkpoint's tree."""
    size = _field(inclusion, "tree_size", int, f"{where} inclusion")
    hashes = _field(inclusion, "hashes", list, f"{where} inclusion")
    if size != checkpoint.size:
        report.problems.append(f"{where}: the inclusion proof is for tree size {size}, not for the "
                               f"checkpoint's {checkpoint.size}")
        return False
    return _checked(report, where, lambda: verify_inclusion(
        leaf, index, size, _proof_from_hex(hashes, "inclusion proof"), checkpoint.root))


def _check_extends(old: Checkpoint, new: Checkpoint, proof_path: str, report: Report) -> bool:
    """proof.json (GET .../proofs/consistency) proves that `new` extends `old`."""
    answer = _read_json(proof_path)
    origin, first = _field(answer, "origin", str, proof_path), _field(answer, "first", int, proof_path)
    second, hashes = _field(answer, "second", int, proof_path), _field(answer, "hashes", list, proof_path)
    where = f"consistency {old.origin} {old.size} -> {new.size}"
    found = []
    if old.origin != new.origin:
        found.append(f"the two checkpoints are of different logs ({old.origin}, {new.origin})")
    if origin != old.origin:
        found.append(f"the proof is for {origin}")
    if (first, second) != (old.size, new.size):
        found.append(f"the proof is from size {first} to {second}")
    report.problems += [f"{where}: {problem}" for problem in found]
    if found:
        return False
    held = _checked(report, where, lambda: verify_consistency(
        old.size, new.size, _proof_from_hex(hashes, "consistency proof"), old.root, new.root))
    if held:
        report.ok.append(f"{new} extends {old}: nothing before leaf {old.size} was changed")
    return held


def _verified_file_note(path: str, vkeys, what: str, report: Report) -> Checkpoint | None:
    try:
        checkpoint = verify_note(_read_text(path), vkeys)
    except VerificationError as error:
        report.problems.append(f"{what} {path}: {error}")
        return None
    report.ok.append(f"{what} {checkpoint} root {checkpoint.root_hex} signed by its log's key")
    return checkpoint


def _leaf_event(leaf_text: str, where: str, report: Report) -> tuple[bytes, dict | None]:
    """The leaf's bytes (hashed as given) and the event they hold (parsed only to read its fields)."""
    try:
        leaf = leaf_text.encode("utf-8")
    except UnicodeEncodeError:
        report.problems.append(f"{where}: the leaf is not UTF-8 text")
        return b"", None
    try:
        event = json.loads(leaf_text)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        report.problems.append(f"{where}: the leaf is not a JSON object")
        return leaf, None
    return leaf, event


def _check_entry(code: str, entry: dict, checkpoints: dict, report: Report, position: int) -> None:
    """One timeline entry: its leaf hash, its leaf's fields, and its inclusion in its center's checkpoint."""
    where = f"entries[{position}]"
    seq, center = _field(entry, "seq", int, where), _field(entry, "center", str, where)
    event_type, event_id = _field(entry, "type", str, where), _field(entry, "event_id", str, where)
    time, index = _field(entry, "time", str, where), _field(entry, "leaf_index", int, where)
    leaf_text, claimed = _field(entry, "leaf", str, where), _field(entry, "leaf_hash", str, where)
    inclusion = _field(entry, "inclusion", dict, where, nullable=True)
    where = f"entry seq {seq} {event_type} ({center})"
    before = len(report.problems)
    leaf, event = _leaf_event(leaf_text, where, report)
    computed = leaf_hash(leaf)
    if claimed != computed.hex():
        report.problems.append(f"{where}: leaf_hash {claimed} is not SHA-256(0x00 || leaf) = {computed.hex()}")
    if event is not None:
        for key, expected in (("id", event_id), ("type", event_type), ("subject", code), ("time", time),
                              ("center", center)):
            if event.get(key) != expected:
                report.problems.append(f"{where}: the leaf's {key} is {event.get(key)!r}, the entry says "
                                       f"{expected!r}")
    if index != seq - 1:
        report.problems.append(f"{where}: leaf_index {index} is not seq - 1")
    _check_entry_inclusion(inclusion, computed, index, center, checkpoints, where, report)
    if len(report.problems) == before and inclusion is not None:
        report.ok.append(f"{where} {time} is leaf {index} of {checkpoints[center]}")


def _check_entry_inclusion(inclusion, leaf: bytes, index: int, center: str, checkpoints: dict, where: str,
                           report: Report) -> None:
    """`leaf` is the leaf's hash, recomputed from its bytes: what the proof must lead from."""
    if center not in checkpoints:
        if inclusion is None:
            report.not_yet_covered.append(f"{where}: the answer has no checkpoint for {center} yet")
        else:
            report.problems.append(f"{where}: an inclusion proof but no checkpoint for {center} in the answer")
        return
    checkpoint = checkpoints[center]
    if checkpoint is None:
        report.problems.append(f"{where}: not proven, the checkpoint of {center} did not verify")
    elif inclusion is not None:
        _check_inclusion(inclusion, leaf, index, checkpoint, where, report)
    elif index < checkpoint.size:
        report.problems.append(f"{where}: no inclusion proof, yet leaf {index} is inside {checkpoint}")
    else:
        report.not_yet_covered.append(f"{where}: leaf {index} is newer than {checkpoint}")


def run_dossier(args, vkeys, report: Report) -> None:
    answer = _read_json(args.timeline)
    code = _field(answer, "code", str, args.timeline)
    entries = _field(answer, "entries", list, args.timeline)
    checkpoint_objects = _field(answer, "checkpoints", dict, args.timeline)
    checkpoints = {}
    for center, cp in checkpoint_objects.items():
        checkpoint = _answer_checkpoint(cp, vkeys, f"checkpoint of {center}", report)
        if checkpoint is not None and cp["center"] != center:
            report.problems.append(f"checkpoint of {center}: it says it is the checkpoint of {cp['center']}")
            checkpoint = None
        checkpoints[center] = checkpoint
    for position, entry in enumerate(entries):
        _check_entry(code, entry, checkpoints, report, position)
    if args.checkpoint:
        _check_kept_checkpoint(args, vkeys, checkpoints, report)


def _check_kept_checkpoint(args, vkeys, checkpoints: dict, report: Report) -> None:
    old = _verified_file_note(args.checkpoint, vkeys, "kept checkpoint", report)
    if old is None:
        return
    new = [cp for cp in checkpoints.values() if cp is not None and cp.origin == old.origin]
    if not new:
        report.problems.append(f"kept checkpoint {old}: the answer has no verified checkpoint of {old.origin}")
        return
    _check_extends(old, new[0], args.consistency, report)


def run_consistency(args, vkeys, report: Report) -> None:
    old = _verified_file_note(args.old, vkeys, "old checkpoint", report)
    new = _verified_file_note(args.new, vkeys, "new checkpoint", report)
    if old is not None and new is not None:
        _check_extends(old, new, args.proof, report)
    else:
        _read_json(args.proof)  # still an input error if the proof cannot be read at all


def _log_leaves(paths: list[str], origin: str | None, report: Report) -> dict[int, bytes]:
    """Every page's entries: index -> recomputed leaf hash, each checked against its leaf_hash."""
    leaves: dict[int, bytes] = {}
    for path in paths:
        page = _read_json(path)
        page_origin = _field(page, "origin", str, path)
        if origin is not None and page_origin != origin:
            report.problems.append(f"{path}: the page is of {page_origin}, the checkpoint of {origin}")
        for position, entry in enumerate(_field(page, "entries", list, path)):
            _add_log_leaf(entry, f"{path} entries[{position}]", leaves, report)
    return leaves


def _add_log_leaf(entry: dict, where: str, leaves: dict[int, bytes], report: Report) -> None:
    index = _field(entry, "leaf_index", int, where)
    leaf_text, claimed = _field(entry, "leaf", str, where), _field(entry, "leaf_hash", str, where)
    try:
        computed = leaf_hash(leaf_text.encode("utf-8"))
    except UnicodeEncodeError:
        report.problems.append(f"leaf {index}: the leaf is not UTF-8 text")
        return
    if claimed != computed.hex():
        report.problems.append(f"leaf {index}: leaf_hash {claimed} is not SHA-256(0x00 || leaf) = {computed.hex()}")
    if leaves.get(index, computed) != computed:
        report.problems.append(f"leaf {index}: two different leaves with this index in the pages")
    leaves[index] = computed


def _ranges(indexes: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    spans, start = [], None
    for position, index in enumerate(indexes):
        start = index if start is None else start
        if position + 1 == len(indexes) or indexes[position + 1] != index + 1:
            spans.append(f"{start}-{index}" if start != index else f"{index}")
            start = None
    return ", ".join(spans)


def run_log(args, vkeys, report: Report) -> None:
    checkpoint = _verified_file_note(args.checkpoint, vkeys, "checkpoint", report)
    leaves = _log_leaves(args.entries, checkpoint.origin if checkpoint else None, report)
    if checkpoint is None:
        return
    missing = [index for index in range(checkpoint.size) if index not in leaves]
    if missing:
        report.problems.append(f"{checkpoint}: the pages lack leaves {_ranges(missing)}")
        return
    root = root_from_leaf_hashes([leaves[index] for index in range(checkpoint.size)])
    if root != checkpoint.root:
        report.problems.append(f"{checkpoint}: the root of leaves 0-{checkpoint.size - 1} is {root.hex()}, "
                               f"the checkpoint says {checkpoint.root_hex}")
        return
    report.ok.append(f"the {checkpoint.size} leaves in the pages rebuild the root of {checkpoint}")
    newer = sorted(index for index in leaves if index >= checkpoint.size)
    if newer:
        report.not_yet_covered.append(f"leaves {_ranges(newer)}: newer than {checkpoint}")


def run_receipt(args, vkeys, report: Report) -> None:
    answer = _read_json(args.receipt)
    origin, index = _field(answer, "origin", str, args.receipt), _field(answer, "leaf_index", int, args.receipt)
    claimed = _field(answer, "leaf_hash", str, args.receipt)
    cp = _field(answer, "checkpoint", dict, args.receipt, nullable=True)
    inclusion = _field(answer, "inclusion", dict, args.receipt, nullable=True)
    where = f"receipt {claimed} ({origin} leaf {index})"
    if args.leaf_hash is not None and args.leaf_hash.lower() != claimed:
        report.problems.append(f"{where}: the receipt is not about your leaf hash {args.leaf_hash}")
    if cp is None or inclusion is None:
        report.not_yet_covered.append(f"{where}: no checkpoint covers it yet; ask again after the next one")
        report.pending_fails = True  # a lone receipt not yet covered has verified nothing
        return
    checkpoint = _answer_checkpoint(cp, vkeys, "checkpoint", report)
    if checkpoint is None:
        return
    if checkpoint.origin != origin:
        report.problems.append(f"{where}: the checkpoint is of {checkpoint.origin}")
        return
    leaf = _checked_hash(claimed, where, report)
    if leaf is not None and _check_inclusion(inclusion, leaf, index, checkpoint, where, report):
        report.ok.append(f"{claimed} is leaf {index} of {checkpoint}")


def _checked_hash(text: str, where: str, report: Report) -> bytes | None:
    try:
        return _hash_from_hex(text, "leaf_hash")
    except VerificationError as error:
        report.problems.append(f"{where}: {error}")
        return None


def run_checkpoint(args, vkeys, report: Report) -> None:
    witnesses = [_parse_vkey_argument(text) for text in args.witness]
    note = _read_text(args.note)
    checkpoint = _verified_file_note(args.note, vkeys, "checkpoint", report)
    if checkpoint is None:
        return
    for witness in witnesses:
        try:
            cosignature = verify_cosignature(note, witness)
        except VerificationError as error:
            report.problems.append(f"witness {witness.label}: {error}")
            continue
        report.ok.append(f"cosigned by {witness.label} at unix time {cosignature.timestamp}")


def _parse_vkey_argument(text: str) -> Vkey:
    return parse_vkey(text.strip())


COMMANDS = {"dossier": run_dossier, "consistency": run_consistency, "log": run_log, "receipt": run_receipt,
            "checkpoint": run_checkpoint}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--vkey", action="append", required=True,
                        help="the log's verifier key (<name>+<id>+<key>); once per center, twice during a rotation")
    common.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    dossier = commands.add_parser("dossier", parents=[common], help="a dossier's timeline with its proofs")
    dossier.add_argument("--timeline", required=True,
                         help="the answer of GET /api/v1/audit/dossiers/<code>?proofs=true")
    dossier.add_argument("--strict", action="store_true", help="entries not yet covered by a checkpoint fail too")
    dossier.add_argument("--checkpoint", help="a checkpoint note you kept from before")
    dossier.add_argument("--consistency", help="the consistency proof from the kept checkpoint to the answer's")
    consistency = commands.add_parser("consistency", parents=[common], help="a newer checkpoint extends an older one")
    consistency.add_argument("--old", required=True, help="the older checkpoint note")
    consistency.add_argument("--new", required=True, help="the newer checkpoint note")
    consistency.add_argument("--proof", required=True, help="the answer of GET /api/v1/audit/proofs/consistency")
    log = commands.add_parser("log", parents=[common], help="rebuild a checkpoint's root from every leaf")
    log.add_argument("--checkpoint", required=True, help="the checkpoint note")
    log.add_argument("--entries", required=True, nargs="+", help="the pages of GET /api/v1/audit/entries")
    receipt = commands.add_parser("receipt", parents=[common], help="a receipt's leaf is in the log")
    receipt.add_argument("--receipt", required=True, help="the answer of GET /api/v1/audit/receipts/<leaf_hash>")
    receipt.add_argument("--leaf-hash", help="the leaf hash you hold (from your paper receipt)")
    checkpoint = commands.add_parser("checkpoint", parents=[common], help="a checkpoint note and its cosignatures")
    checkpoint.add_argument("--witness", action="append", default=[], help="a witness's cosignature/v1 vkey")
    checkpoint.add_argument("note", help="the checkpoint note (or the cosigned note of an audit.cosigned.v1 event)")
    return parser


def _print_error(message: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"verified": False, "error": message}, ensure_ascii=False))
    print(f"audit_verify: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "dossier" and bool(args.checkpoint) != bool(args.consistency):
        parser.error("--checkpoint and --consistency go together")
    report = Report(args.command)
    report.pending_fails = getattr(args, "strict", False)
    try:
        vkeys = [_parse_vkey_argument(text) for text in args.vkey]
        COMMANDS[args.command](args, vkeys, report)
    except InputError as error:
        return _print_error(str(error), args.json)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.verified else 1


if __name__ == "__main__":
    sys.exit(main())
