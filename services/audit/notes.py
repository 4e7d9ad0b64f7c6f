"""Checkpoints as C2SP signed notes, signed with Ed25519.

A checkpoint (C2SP ``tlog-checkpoint``) says "the log ``origin`` has ``size``
leaves and this root"; a signed note (C2SP ``signed-note``) is that text, an
empty line, and one signature line per key::

    onestop.local/audit/hue-vyda
    42
    qfH9nbHk0Xo9cFXZmu0UvDfrDjv0Q1mLtTNLU5N1x1M=

    — onestop.local/audit/hue-vyda Az3grlK0+Fs7x...

The key name is the origin, so each center's log has its own key id even when
one Ed25519 key signs for all of them, and any C2SP tool (a witness, Go's
``golang.org/x/mod/sumdb/note``) reads the notes as they are.

    >>> key = SigningKey.generate()
    >>> note = sign_checkpoint(Checkpoint("example.org/log", 3, bytes(32)), [key])
    >>> open_checkpoint(note, [key.verifier("example.org/log")]).size
    3
"""
from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01  # signed-note's signature type for an Ed25519 key
COSIGNATURE = 0x04  # tlog-cosignature's type for a witness's cosignature/v1
DASH = "\u2014 "  # every signature line starts with an em dash and a space


class NoteError(ValueError):
    """A note that is malformed or that no trusted key signed."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def key_id(name: str, kind: int, public: bytes) -> bytes:
    """The 4 bytes that tie a signature line to a key: SHA-256(name || "\\n" || kind || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """A public key under a name, as signed-note's ``<name>+<id hex>+<base64(kind || key)>``."""

    name: str
    public: bytes
    kind: int = ED25519

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.kind, self.public)

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.id.hex()}+{base64.b64encode(bytes([self.kind]) + self.public).decode()}"

    @classmethod
    def parse(cls, vkey: str) -> "Verifier":
        try:
            name, id_hex, encoded = vkey.strip().split("+", 2)  # a name has no "+"; base64 may
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise NoteError(f"not a verifier key (<name>+<id>+<key>): {vkey!r}") from None
        verifier = cls(name, raw[1:], raw[0])
        if len(verifier.public) != 32 or verifier.id.hex() != id_hex:
            raise NoteError(f"verifier key {name}: its id does not match its key")
        return verifier

    def verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class SigningKey:
    """An Ed25519 private key (its 32-byte seed); never stored in the database."""

    def __init__(self, seed: bytes):
        self.seed = seed
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> "SigningKey":
        return cls(Ed25519PrivateKey.generate().private_bytes_raw())

    def verifier(self, name: str) -> Verifier:
        return Verifier(name, self.public)

    def signature_line(self, name: str, message: bytes) -> str:
        signed = self.verifier(name).id + self._key.sign(message)
        return f"{DASH}{name} {base64.b64encode(signed).decode()}\n"


def sign_checkpoint(checkpoint: Checkpoint, keys) -> str:
    """The signed note of a checkpoint, one signature line per key (two during a rotation)."""
    body = checkpoint.body()
    return body + "\n" + "".join(key.signature_line(checkpoint.origin, body.encode()) for key in keys)


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The note's text and its signature lines as (key name, base64-decoded signature)."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note: no empty line before the signatures, or no final newline")
    lines = []
    for line in signatures[:-1].split("\n"):
        if not line.startswith(DASH) or line.count(" ") != 2:
            raise NoteError(f"not a signature line: {line!r}")
        name, encoded = line[len(DASH):].split(" ")
        try:
            lines.append((name, base64.b64decode(encoded, validate=True)))
        except ValueError:
            raise NoteError(f"signature of {name} is not base64") from None
    return text + "\n", lines


def open_checkpoint(note: str, verifiers) -> Checkpoint:
    """The checkpoint a note states, if one of `verifiers` signed it; NoteError otherwise."""
    text, signatures = split_note(note)
    trusted = {(v.name, v.id): v for v in verifiers if v.kind == ED25519}
    if not any((v := trusted.get((name, sig[:4]))) and v.verifies(sig[4:], text.encode())
               for name, sig in signatures):
        raise NoteError("no trusted key signed this note")
    return parse_checkpoint(text)


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or not lines[1].isdigit() or (lines[1] != "0" and lines[1].startswith("0")):
        raise NoteError("not a checkpoint: origin, decimal size and base64 root expected")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise NoteError("the checkpoint's root is not base64") from None
    return Checkpoint(lines[0], int(lines[1]), root)


def cosignature_message(checkpoint: Checkpoint, timestamp: int) -> bytes:
    """What a witness signs (C2SP tlog-cosignature, cosignature/v1)."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint.body()}".encode()


def open_cosignature(note: str, witness: Verifier) -> int:
    """The time at which `witness` cosigned the note's checkpoint; NoteError if it did not."""
    text, signatures = split_note(note)
    checkpoint = parse_checkpoint(text)
    for name, sig in signatures:
        if name == witness.name and sig[:4] == witness.id and len(sig) == 4 + 8 + 64:
            (timestamp,) = struct.unpack(">Q", sig[4:12])
            if witness.verifies(sig[12:], cosignature_message(checkpoint, timestamp)):
                return timestamp
    raise NoteError(f"the witness {witness.name} did not cosign this note")
