"""Intake's pure rules: dossier codes, phone numbers, the receipt, the citizen's
secret codes (rating, lookup) and the lockout of a dossier's lookup.

No framework, no IO: everything here is a function of its arguments.
"""
from __future__ import annotations

import hashlib
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from onestop.timestamps import as_utc

# Uppercase letters and digits without the ones people confuse: 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RATING_ALPHABET = CODE_ALPHABET
RATING_CODE_LENGTH = 8
LOOKUP_CODE_LENGTH = 10
_TYPED_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015.]")  # spaces, dashes of any kind, dots
PHONE = re.compile(r"^(?:\+?84|0)([35789][0-9]{8})$")
CODE = re.compile(r"^([A-Z]{2,8})-(\d{6})-(\d{4,})$")


def normalize_phone(raw: str) -> str:
    """A Vietnamese mobile number in E.164; raises ValueError otherwise.

    >>> normalize_phone("0912 345 678"), normalize_phone("+84-912-345-678")
    ('+84912345678', '+84912345678')
    """
    digits = re.sub(r"[\s.\-()]", "", raw or "")
    match = PHONE.match(digits)
    if not match:
        raise ValueError("not a Vietnamese mobile number (0xxxxxxxxx or +84xxxxxxxxx, prefixes 3/5/7/8/9)")
    return "+84" + match.group(1)


def clean_text(text: str) -> str:
    """NFC-normalised, trimmed; control characters are refused, not stripped."""
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ValueError("control characters are not allowed")
    return unicodedata.normalize("NFC", text).strip()


@dataclass(frozen=True)
class DossierCode:
    """``VYDA-260213-0007``: center short code, local receipt date, daily sequence.

    The official form ``<unit code>-YYMMDD-NNNN`` is derived from it.
    """

    short_code: str
    day: date
    sequence: int

    def __str__(self) -> str:
        return f"{self.short_code}-{self.day:%y%m%d}-{self.sequence:04d}"

    def official(self, unit_code: str) -> str:
        return f"{unit_code}-{self.day:%y%m%d}-{self.sequence:04d}"

    @classmethod
    def parse(cls, text: str) -> "DossierCode":
        match = CODE.match((text or "").strip().upper())
        if not match:
            raise ValueError("not a dossier code like VYDA-260213-0007")
        short, ymd, seq = match.groups()
        return cls(short, datetime.strptime(ymd, "%y%m%d").date(), int(seq))


@dataclass(frozen=True)
class Receipt:
    """What the citizen takes home: the code, the appointment, what is missing."""

    code: str
    official_code: str
    received_at: datetime
    appointment_date: date
    missing_documents: tuple  # of catalog Documents


def make_receipt(code: DossierCode, unit_code: str, received_at: datetime, procedure, deadline,
                 handed_in: list[str]) -> Receipt:
    """`deadline` is the dossier's ``StatutoryDeadline``: the date printed is routing's due date."""
    return Receipt(
        code=str(code),
        official_code=code.official(unit_code),
        received_at=received_at,
        appointment_date=deadline.appointment_date,
        missing_documents=tuple(procedure.missing_documents(handed_in)),
    )


@dataclass(frozen=True)
class SecretCode:
    """A random code a citizen is sent and types back: `length` characters of
    CODE_ALPHABET (log2(31) = 4.95 bits each), shown in groups of `group`.
    What a dossier keeps of it is the SHA-256 of its canonical form.

    >>> LOOKUP_CODE.shown("K7P2QX9MAB"), LOOKUP_CODE.normalize(" k7p2q–x9mab ")
    ('K7P2Q-X9MAB', 'K7P2QX9MAB')
    """

    length: int
    group: int
    where: str  # where the citizen finds it, for the error message

    def new(self, choice=secrets.choice) -> str:
        return "".join(choice(CODE_ALPHABET) for _ in range(self.length))

    @property
    def bits(self) -> float:
        return self.length * math.log2(len(CODE_ALPHABET))

    def shown(self, code: str) -> str:
        """As printed and sent: groups joined by '-', easier to read aloud and to type."""
        code = self.normalize(code)
        return "-".join(code[i:i + self.group] for i in range(0, len(code), self.group))

    def normalize(self, raw: str) -> str:
        """The code as the citizen may type it (lower case, spaces, dashes, full-width
        letters) -> canonical; ValueError if it cannot be one."""
        code = _TYPED_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or "")).upper()
        if len(code) != self.length or any(ch not in CODE_ALPHABET for ch in code):
            raise ValueError(f"{self.length} letters and digits, as {self.where} "
                             "(there is no 0, O, 1, I or L)")
        return code

    def sha256(self, code: str) -> str:
        return hashlib.sha256(self.normalize(code).encode("ascii")).hexdigest()

    def matches(self, code: str, stored_sha256: str | None) -> bool:
        """Constant-time check of a (canonical) code against the stored hash; False without one."""
        return bool(stored_sha256) and secrets.compare_digest(self.sha256(code), stored_sha256)


RATING_CODE = SecretCode(RATING_CODE_LENGTH, RATING_CODE_LENGTH, "in the message you received")
# 10 characters: 49.5 bits. With the lockout (LookupLock) a stranger has at most
# 5 guesses per 15 minutes per dossier: docs/http-api.md gives the odds.
LOOKUP_CODE = SecretCode(LOOKUP_CODE_LENGTH, 5, "on the receipt and in the receipt SMS and email")


def new_rating_code(choice=secrets.choice) -> str:
    """A random one-use rating code: 8 characters of CODE_ALPHABET (31^8, about 8.5e11)."""
    return RATING_CODE.new(choice)


def normalize_rating_code(raw: str) -> str:
    """The code as the citizen may type it (lower case, spaces, dashes) -> canonical;
    ValueError if it cannot be one.

    >>> normalize_rating_code(" k7p2-qx9m ")
    'K7P2QX9M'
    """
    return RATING_CODE.normalize(raw)


def rating_code_hash(code: str) -> str:
    """What the dossier keeps of its rating code: the SHA-256 of its canonical form."""
    return RATING_CODE.sha256(code)


@dataclass(frozen=True)
class LookupLock:
    """After `after` wrong lookup codes, a dossier's details cannot be looked up,
    even with the right code, until `seconds` after the last wrong one. A wrong
    code more than `seconds` after the one before starts the count again, and so
    does the right code: a stranger gets at most `after` guesses per `seconds`.

    >>> lock, now = LookupLock(5, 900), datetime(2026, 3, 2, 2, 0)
    >>> lock.locked_for({"failures": 5, "last_failure_at": now - timedelta(seconds=60)}, now)
    840
    >>> lock.locked_for({"failures": 4, "last_failure_at": now}, now), lock.locked_for(None, now)
    (0, 0)
    """

    after: int
    seconds: float

    def __post_init__(self):
        if self.after < 1 or self.seconds <= 0:
            raise ValueError("LOOKUP_LOCK_AFTER must be 1 or more and LOOKUP_LOCK_SECONDS above 0; "
                             f"got {self.after} and {self.seconds:g}")

    def locked_for(self, guard: dict | None, now: datetime) -> int:
        """Whole seconds the lookup stays locked (0: it is open). `guard` is what the
        store keeps: {"failures": n, "last_failure_at": time of the last wrong code}."""
        if not guard or guard.get("failures", 0) < self.after:
            return 0
        until = as_utc(guard["last_failure_at"]) + timedelta(seconds=self.seconds)
        return max(0, math.ceil((until - as_utc(now)).total_seconds()))

    def stale_before(self, now: datetime) -> datetime:
        """A wrong code older than this no longer counts."""
        return now - timedelta(seconds=self.seconds)

    def left(self, guard: dict) -> int:
        return max(0, self.after - guard.get("failures", 0))
