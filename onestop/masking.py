"""Masking personal data for public events and logs (one place for the rule)."""

import re


def mask_name(full_name: str) -> str:
    """Initials only.

    >>> mask_name("Nguyễn Văn An")
    'N. V. A.'
    """
    return " ".join(word[0].upper() + "." for word in full_name.split())


def mask_address(address: str) -> str:
    """An email or a phone number, with enough left to recognise it.

    >>> mask_address("an.nguyen@example.vn"), mask_address("+84912345678")
    ('a***@example.vn', '+8491****678')
    """
    if "@" in address:
        local, domain = address.split("@", 1)
        return f"{local[:1]}***@{domain}"
    return address[:5] + "****" + address[-3:] if len(address) > 8 else "****"


# ---- free text (logs): whatever code wrote it -------------------------------------------------
# A log line may hold anything a library or a handler put in a message, an exception or a
# traceback. `mask_text` finds personal data by its shape, wherever it is, and replaces it
# with a placeholder that keeps no digit and no letter of it.

_SEP = r"(?:[\s.\-()]|%20)*+"  # what services.intake.domain.normalize_phone strips, and an encoded space
_NOT_LOCAL = r"\s\"'<>()\[\]{},;:@=&?/\\"  # what ends an address's local part: a quote, a bracket, a space, a query's = & ?
_EMAIL = re.compile(  # starts only after such a character, so a long token is scanned once, not once per letter
    rf"(?<![^{_NOT_LOCAL}])[^{_NOT_LOCAL}]+(?:@|%40)(?:[\w-]+\.)+[^\W\d_][\w-]*")
_ID_NUMBER = re.compile(  # a 12-digit citizen ID, whole or in groups of 3 or 4 (never a code's 6-4)
    r"(?<!\w)(?:\d{12}|\d{3}(?P<s3>[ .\-])\d{3}(?P=s3)\d{3}(?P=s3)\d{3}|\d{4}(?P<s4>[ .\-])\d{4}(?P=s4)\d{4})(?!\w)")
_PHONE = re.compile(  # a Vietnamese mobile: +84 / 84 / 0, then 3/5/7/8/9 and 8 digits, with any separators
    rf"(?<!\w)(?:(?:\+|%2[Bb])?{_SEP}8{_SEP}4|0){_SEP}[35789](?:{_SEP}\d){{8}}(?!\w)")
_PHONE_REMNANT = re.compile(r"(?<!\w)(?:\+|%2[Bb])?(?:84|0)\d{1,8}\*+\d{0,4}(?!\w)")  # e.g. +8491****678
_TOKEN = re.compile(r"\beyJ[\w-]*\.[\w-]*\.[\w-]*")  # a JWT: a credential, not personal data, but no log's
SECRET_KEYS = ("full_name", "id_number", "phone", "email", "phone_last4", "rating_code", "lookup_code",
               "lookup_secret", "secret", "password", "comment")
_KEYS = "|".join(SECRET_KEYS)
_QUOTED_VALUE = re.compile(  # "full_name": "..." (JSON) or 'full_name': '...' (a Python repr)
    rf"(?P<q>[\"'])(?P<key>{_KEYS})(?P=q)\s*:\s*(?P<v>[\"'])(?:\\.|(?!(?P=v)).)*(?P=v)")
_PARAMETER = re.compile(rf"(?<=[?&;\s])(?P<key>{_KEYS})=[^&\s\"']*")  # ?lookup_code=K7P2Q-X9MAB in a request line


def mask_text(text: str) -> str:
    """`text` with every email, citizen ID number, Vietnamese mobile number, token and
    value of a personal field replaced by a placeholder.

    >>> mask_text("SMS to 0912 345 678 for CCCD 046095001234 (an.nguyen@example.vn)")
    'SMS to [phone] for CCCD [id-number] ([email])'
    >>> mask_text("GET /api/v1/dossiers/VYDA-261126-0001?lookup_code=K7P2Q-X9MAB HTTP/1.1")
    'GET /api/v1/dossiers/VYDA-261126-0001?lookup_code=[masked] HTTP/1.1'
    >>> mask_text("{'full_name': 'Nguyễn Văn An', 'channels': ['sms']}")
    "{'full_name': '[masked]', 'channels': ['sms']}"
    """
    text = _QUOTED_VALUE.sub(_masked_value, text)
    text = _PARAMETER.sub(lambda m: f"{m['key']}=[masked]", text)
    text = _TOKEN.sub("[token]", text)
    text = _EMAIL.sub("[email]", text)
    text = _ID_NUMBER.sub("[id-number]", text)
    text = _PHONE.sub("[phone]", text)
    return _PHONE_REMNANT.sub("[phone]", text)


def _masked_value(match: re.Match) -> str:
    quote, value_quote = match["q"], match["v"]
    return f"{quote}{match['key']}{quote}: {value_quote}[masked]{value_quote}"
