"""Intake's pure rules: dossier codes, phone numbers, masking, the receipt.

No framework, no IO: everything here is a function of its arguments.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

# Uppercase letters and digits without the ones people confuse: 0/O, 1/I/L.
RATING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RATING_CODE_LENGTH = 8
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


def new_rating_code(choice=secrets.choice) -> str:
    """A random one-use rating code: 8 characters of RATING_ALPHABET (31^8, about 8.5e11)."""
    return "".join(choice(RATING_ALPHABET) for _ in range(RATING_CODE_LENGTH))


def normalize_rating_code(raw: str) -> str:
    """The code as the citizen may type it (lower case, spaces, dashes) -> canonical;
    ValueError if it cannot be one.

    >>> normalize_rating_code(" k7p2-qx9m ")
    'K7P2QX9M'
    """
    code = re.sub(r"[\s\-]", "", raw or "").upper()
    if len(code) != RATING_CODE_LENGTH or any(ch not in RATING_ALPHABET for ch in code):
        raise ValueError(f"{RATING_CODE_LENGTH} letters and digits, as in the message you received "
                         "(there is no 0, O, 1, I or L)")
    return code


def rating_code_hash(code: str) -> str:
    """What the dossier keeps of its rating code: the SHA-256 of its canonical form."""
    return hashlib.sha256(normalize_rating_code(code).encode("ascii")).hexdigest()


def phone_last4_matches(phone: str | None, last4: str) -> bool:
    """Constant-time check of the last 4 digits of the stored (E.164) phone number."""
    return bool(phone) and secrets.compare_digest(phone[-4:].encode(), last4.encode())
