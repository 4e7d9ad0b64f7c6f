"""Find a citizen's personal data in anything the platform wrote (events, audit entries,
stored documents): the full name (with or without diacritics), the ID number, the
phone (any 4 consecutive digits of it, in either form), the email or any part of it.

    >>> giao = Citizen("Hoàng Thị Quỳnh Giao", "046187539264", "0987654321", "quynhgiao.hoang@thu-mien.vn")
    >>> giao.hits({"recipient": "+8498****321", "applicant": "H. T. Q. G."})
    ["recipient: '+8498****321' holds 4 digits of the phone (8498)"]

Ids and hashes (UUIDs, hex ids, SHA-256) are random or one-way, so they are taken out
before the digits are looked at: a UUID holds some 4-digit window of any number
often enough to fail a run by chance. Numbers (seconds, counts) are not looked at
for the same reason; every personal datum the platform takes in is a string.
Choose the citizen's data so that its 4-digit windows are no date, time or code.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from onestop.timestamps import iso

# UUIDs (with or without dashes: event ids, a gateway's message ids) and SHA-256 hashes.
RANDOM = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,}", re.I)
WINDOW = 4


def unaccented(text: str) -> str:
    """``Hoàng Thị`` -> ``Hoang Thi`` (đ has no decomposition of its own)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def strings(value, path: str = ""):
    """(path, text) of every string in a JSON-like value, keys included; datetimes as the platform writes them."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}" if path else str(key), str(key)
            yield from strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]")
    elif isinstance(value, datetime):
        yield path, iso(value)
    elif isinstance(value, str):
        yield path, value


@dataclass(frozen=True)
class Citizen:
    full_name: str
    id_number: str
    phone: str  # national form, 0xxxxxxxxx
    email: str

    def words(self) -> dict[str, str]:
        local, domain = self.email.split("@")
        return {"full name": self.full_name, "full name without diacritics": unaccented(self.full_name),
                "email": self.email, "email's local part": local, "email's domain": domain}

    def windows(self) -> dict[str, set]:
        e164 = "84" + self.phone[1:]
        return {"phone": {n[i:i + WINDOW] for n in (self.phone, e164) for i in range(len(n) - WINDOW + 1)},
                "ID number": {self.id_number[i:i + WINDOW] for i in range(len(self.id_number) - WINDOW + 1)}}

    def hits(self, value) -> list[str]:
        """One line per string that holds some of this citizen's data; [] when none does."""
        found = []
        for path, text in strings(value):
            for what in self._found_in(text):
                found.append(f"{path}: {text[:160]!r} holds {what}")
        return found

    def _found_in(self, text: str) -> list[str]:
        folded = unicodedata.normalize("NFC", text).casefold()
        found = [f"the {name}" for name, word in self.words().items() if word.casefold() in folded]
        runs = re.findall(r"\d{%d,}" % WINDOW, RANDOM.sub("-", text))
        for name, windows in self.windows().items():
            matched = sorted({w for w in windows for run in runs if w in run})
            if matched:
                found.append(f"{WINDOW} digits of the {name} ({', '.join(matched)})")
        return found
