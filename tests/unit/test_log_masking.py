"""What the log filter masks (onestop.masking.mask_text): every shape of a citizen ID number,
a Vietnamese mobile number and an email address, the values of personal fields, tokens;
and what it leaves alone: codes, times, ports, URIs, ids."""
from datetime import date

import pytest
from hypothesis import assume, given, settings, strategies as st

from onestop.masking import SECRET_KEYS, mask_text
from services.intake.domain import DossierCode, normalize_phone

FAST = settings(max_examples=300, deadline=None)
PHONES = [
    "0912345678", "0912 345 678", "0912.345.678", "0912-345-678", "091 234 5678", "(091) 234-5678",
    "+84912345678", "+84 912 345 678", "+84-912-345-678", "+84.912.345.678", "(+84) 912 345 678",
    "+84 (912) 345-678", "84912345678", "84 912 345 678", "0335000777", "0567 890 123", "0787654321",
    "0898 765 432", "+84 3 3 5 0 0 0 7 7 7", "%2B84912345678", "%2b84912345678", "+84%20912%20345%20678",
]
ID_NUMBERS = ["046095001234", "079188654321", "046 095 001 234", "046.095.001.234", "0460-9500-1234",
              "0460 9500 1234"]
EMAILS = ["an.nguyen@example.vn", "AN.NGUYEN@EXAMPLE.VN", "an+tag@mail.example.com.vn", "a_b-c@sub.example.org",
          "an.nguyen%40example.vn", "nguyễn.văn.an@ví-dụ.vn", "x@y.io"]


@pytest.mark.parametrize("phone", PHONES)
@pytest.mark.parametrize("template", ["{}", "SMS to {} failed", "to={}&x=y", "'to': '{}'", '{{"to": "{}"}}',
                                      "(tel: {})", "gọi {}.", "<{}>", "recipient refused: {}"])
def test_every_form_of_a_mobile_number_is_masked(phone, template):
    masked = mask_text(template.format(phone))
    assert "[phone]" in masked and not any(ch.isdigit() for ch in masked), masked


@pytest.mark.parametrize("id_number", ID_NUMBERS)
@pytest.mark.parametrize("template", ["{}", "CCCD {} đã có hồ sơ", "id_number={}", "'{}'", "[{}]", "số {}."])
def test_every_form_of_a_citizen_id_number_is_masked(id_number, template):
    masked = mask_text(template.format(id_number))
    assert "[id-number]" in masked and not any(ch.isdigit() for ch in masked), masked


@pytest.mark.parametrize("email", EMAILS)
@pytest.mark.parametrize("template", ["{}", "recipient refused: {{'{}': (550, b'5.1.1 <{}> unknown')}}",
                                      "mailto:{}", "to={}&q=1", '"{}"', "({})", "Gửi tới {}."])
def test_every_email_address_is_masked(email, template):
    masked = mask_text(template.format(email, email))
    assert "[email]" in masked and email.split("@")[0].split("%")[0] not in masked, masked


@pytest.mark.parametrize("text, expected", [
    ('{"full_name": "Nguyễn Văn An", "language": "vi"}', '{"full_name": "[masked]", "language": "vi"}'),
    ("{'full_name': 'Trần Thị \\'Bé\\'', 'channels': ['sms']}", "{'full_name': '[masked]', 'channels': ['sms']}"),
    ('"comment": "Cô Lan ở số 5 Lê Lợi"', '"comment": "[masked]"'),
    ("GET /api/v1/dossiers/VYDA-261126-0001?phone_last4=5678 HTTP/1.1",
     "GET /api/v1/dossiers/VYDA-261126-0001?phone_last4=[masked] HTTP/1.1"),
    ("POST /x?a=1&rating_code=K7P2QX9M&b=2", "POST /x?a=1&rating_code=[masked]&b=2"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjb3VudGVyLTAxIn0.c2lnbmF0dXJl",
     "Authorization: Bearer [token]"),
    ("recipient +8491****678 refused", "recipient [phone] refused"),
])
def test_personal_fields_tokens_and_half_masked_numbers_are_masked(text, expected):
    assert mask_text(text) == expected


@pytest.mark.parametrize("text", [
    "Connected to amqp://guest:**@127.0.0.1:5672/onestop-test-4cdcce04",
    '127.0.0.1 - - [01/Dec/2026 11:20:25] "GET /healthz HTTP/1.1" 200 218 0.003436',
    "dossier VYDA-261126-0001 (00.00.H57.VYDA-260213-0007) routed at 2026-12-01T11:20:24.122Z",
    "event 6f0c2c1e-9a5b-4d3e-8f7a-123456789abc on onestop.routing.hue-vyda.dlq, delivery tag 1764587253",
    "retrying in 0.2s after 30 attempts; p99 1234.5 ms; port 39876; pid 12345",
    "0212345678 is a landline of Hà Nội, not a mobile",  # not masked: the rule is about mobiles
])
def test_what_is_not_personal_data_is_left_alone(text):
    assert mask_text(text) == text


# ---- properties ---------------------------------------------------------------------------------

SEPARATORS = st.sampled_from(["", "", "", " ", ".", "-", "(", ")", "  ", " - ", ". "])
DELIMITERS = st.sampled_from(list(" ,;:\"'<>[]{}()\n\t/=&?"))
PLAIN = st.text(st.characters(blacklist_categories=("Nd", "No", "Nl", "Cs", "Cc")), max_size=30)


@st.composite
def phone_forms(draw):
    prefix = draw(st.sampled_from(["0", "84", "+84", "(+84)", "+84 ", "84-", "+8 4"]))
    digits = draw(st.sampled_from("35789")) + draw(st.text("0123456789", min_size=8, max_size=8))
    return prefix + "".join(d + draw(SEPARATORS) for d in digits[:-1]) + digits[-1]


@st.composite
def id_forms(draw):
    digits = draw(st.text("0123456789", min_size=12, max_size=12))
    group, sep = draw(st.sampled_from([12, 3, 4])), draw(st.sampled_from([" ", ".", "-"]))
    return sep.join(digits[i:i + group] for i in range(0, 12, group))


@st.composite
def emails(draw):
    local = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,15}", fullmatch=True))
    labels = draw(st.lists(st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True), min_size=1, max_size=3))
    return f"{local}@{'.'.join(labels)}.{draw(st.sampled_from(['vn', 'com', 'gov.vn', 'org']))}"


def _embedded(draw, value):
    return draw(PLAIN) + draw(DELIMITERS) + value + draw(DELIMITERS) + draw(PLAIN)


@FAST
@given(st.data(), phone_forms())
def test_any_accepted_form_of_a_mobile_number_leaves_no_digit(data, phone):
    normalize_phone(phone)  # a form the intake accepts
    masked = mask_text(_embedded(data.draw, phone))
    assert not any(ch.isdigit() for ch in masked), masked


@FAST
@given(st.data(), id_forms())
def test_any_id_number_leaves_no_digit(data, id_number):
    masked = mask_text(_embedded(data.draw, id_number))
    assert not any(ch.isdigit() for ch in masked), masked


@FAST
@given(PLAIN, DELIMITERS, emails(), st.sampled_from(list(" ,;:\"'<>[]{}()\n\t/&?")), PLAIN)
def test_an_email_address_becomes_one_placeholder(left, before, email, after, right):
    assume("@" not in left + right and "%" not in left + right)
    assert mask_text(f"{left}{before}{email}{after}{right}") == mask_text(f"{left}{before}") + "[email]" + \
        mask_text(f"{after}{right}")


@FAST
@given(st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=200))
def test_text_without_digits_addresses_or_personal_fields_is_unchanged(text):
    assume("@" not in text and "%40" not in text and "eyJ" not in text)
    assume(not any(key in text for key in SECRET_KEYS))
    assert mask_text(text) == text


@FAST
@given(st.from_regex(r"[A-Z]{2,8}", fullmatch=True), st.dates(date(2025, 1, 1), date(2099, 12, 31)),
       st.integers(1, 99999), st.datetimes().map(lambda t: t.isoformat(timespec="milliseconds") + "Z"))
def test_dossier_codes_and_times_are_never_masked(short_code, day, sequence, time):
    code = DossierCode(short_code, day, sequence)
    line = f"{time} dossier {code} ({code.official('00.00.H57')}) routed"
    assert mask_text(line) == line


@FAST
@given(st.text(max_size=300))
def test_masking_twice_is_masking_once(text):
    assert mask_text(mask_text(text)) == mask_text(text)
