"""Masking personal data for public events and logs (one place for the rule)."""


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
