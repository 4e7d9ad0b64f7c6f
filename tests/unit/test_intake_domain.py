"""Intake's pure rules as counter staff and citizens meet them: dossier codes,
phone numbers, names typed on any keyboard, and what masking leaves visible."""
from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from onestop.catalog import load_catalog
from onestop.masking import mask_address, mask_name
from services.intake.domain import DossierCode, clean_text, normalize_phone

# ---- dossier codes ------------------------------------------------------------


def test_code_prints_as_center_date_and_four_digit_sequence():
    assert str(DossierCode("VYDA", date(2026, 2, 13), 7)) == "VYDA-260213-0007"
    assert str(DossierCode("PXUA", date(2026, 12, 31), 1234)) == "PXUA-261231-1234"


def test_code_parses_back_to_its_parts():
    code = DossierCode.parse("VYDA-260213-0007")
    assert code == DossierCode("VYDA", date(2026, 2, 13), 7)
    assert str(DossierCode.parse(str(code))) == "VYDA-260213-0007"


def test_code_typed_in_lower_case_or_with_spaces_is_understood():
    assert str(DossierCode.parse("  vyda-260213-0007 ")) == "VYDA-260213-0007"


def test_sequence_past_9999_still_round_trips():
    code = DossierCode("VYDA", date(2026, 2, 13), 10000)
    assert str(code) == "VYDA-260213-10000"
    assert DossierCode.parse(str(code)).sequence == 10000


def test_official_form_uses_the_wards_unit_code():
    code = DossierCode.parse("VYDA-260213-0007")
    assert code.official("00.00.H57.VYDA") == "00.00.H57.VYDA-260213-0007"
    # the center that owns the code has that unit code in the catalog
    assert code.official(load_catalog().center("hue-vyda").unit_code) == "00.00.H57.VYDA-260213-0007"


@pytest.mark.parametrize("text", [
    "", "   ", None,
    "VYDA260213-0007",  # missing dash
    "VYDA-2602130-0007",  # seven-digit date
    "VYDA-260213-007",  # three-digit sequence
    "V-260213-0007",  # one-letter center
    "VYDA1-260213-0007",  # digit in the center code
    "VYDA-260230-0007",  # 30 February
    "VYDA-261301-0007",  # month 13
    "VYDA-260213-0007-1",
    "VYDA-260213-0007; drop",
])
def test_bad_codes_are_refused(text):
    with pytest.raises(ValueError):
        DossierCode.parse(text)


# ---- phone numbers ------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "0912345678", "+84912345678", "84912345678",
    "0912 345 678", "0912.345.678", "0912-345-678", "+84 912 345 678", "+84-912-345-678",
    "(+84) 912 345 678", " 0912345678 ",
])
def test_every_common_way_of_writing_a_mobile_gives_one_number(raw):
    assert normalize_phone(raw) == "+84912345678"


@pytest.mark.parametrize("raw,expected", [
    ("0321234567", "+84321234567"),  # Viettel 03x
    ("0561234567", "+84561234567"),  # 05x
    ("0701234567", "+84701234567"),  # MobiFone 07x
    ("0861234567", "+84861234567"),  # 08x
    ("0981234567", "+84981234567"),  # 09x
])
def test_all_mobile_prefixes(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", [
    "0234 3822 123",  # Huế landline
    "024 3825 1234",  # Hà Nội landline
    "+1 202 555 0101",  # foreign
    "+33 6 12 34 56 78",  # foreign mobile
    "091234567",  # one digit short
    "09123456789",  # one digit long
    "0112345678",  # no such prefix
    "0912345678x", "số 0912345678", "", None,
])
def test_landlines_foreign_and_malformed_numbers_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_phone(raw)


@pytest.mark.parametrize("raw", ["0912３４５６７８", "09١٢٣٤٥٦٧٨"])
def test_non_ascii_digits_never_end_up_in_a_stored_phone_number(raw):
    try:
        result = normalize_phone(raw)
    except ValueError:
        return  # refusing is fine
    assert result.isascii() and result == "+84912345678"


# ---- free text ---------------------------------------------------------------


def test_decomposed_vietnamese_becomes_composed():
    typed = unicodedata.normalize("NFD", "Nguyễn Thị Ánh Tuyết")
    assert typed != "Nguyễn Thị Ánh Tuyết"  # the input really is decomposed
    cleaned = clean_text(typed)
    assert cleaned == "Nguyễn Thị Ánh Tuyết"
    assert unicodedata.is_normalized("NFC", cleaned)


def test_text_is_trimmed_and_otherwise_kept():
    assert clean_text("  Trần Văn Minh ") == "Trần Văn Minh"
    assert clean_text("Phường Vỹ Dạ, 12 Nguyễn Sinh Cung") == "Phường Vỹ Dạ, 12 Nguyễn Sinh Cung"


@pytest.mark.parametrize("text", ["Nguyễn\x00Văn", "An\nB", "tab\there", "bell\x07", "del\x7f", "c1\x85"])
def test_control_characters_are_refused_not_stripped(text):
    with pytest.raises(ValueError):
        clean_text(text)


# ---- masking -----------------------------------------------------------------


@pytest.mark.parametrize("name,masked", [
    ("Nguyễn Văn An", "N. V. A."),
    ("Tôn Nữ Bích Ngọc", "T. N. B. N."),
    ("đặng thị kim oanh", "Đ. T. K. O."),
    ("  Hồ   Đắc  Quý ", "H. Đ. Q."),
    ("Lê", "L."),
])
def test_mask_name_keeps_initials_only(name, masked):
    assert mask_name(name) == masked


def test_masked_name_contains_no_whole_name_part():
    masked = mask_name("Nguyễn Văn An")
    for part in ("Nguyễn", "Văn", "An"):
        assert part not in masked


def test_mask_email_keeps_first_letter_and_domain():
    assert mask_address("an.nguyen@example.vn") == "a***@example.vn"
    assert "nguyen" not in mask_address("an.nguyen@example.vn")


def test_mask_phone_hides_the_middle_digits():
    masked = mask_address("+84912345678")
    assert masked == "+8491****678"
    assert "2345" not in masked and len(masked) == 12


def test_short_addresses_are_hidden_entirely():
    assert mask_address("12345678") == "****"
    assert mask_address("") == "****"
