"""Properties of the identifier validators: NIR, Vitale serial, mobile, login identifier."""

from datetime import date

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from carnet.core.validators import (
    mask_email,
    mask_mobile,
    nir_key,
    parse_identifier,
    parse_mobile,
    parse_nir,
    parse_vitale_serial,
)

# --- NIR ------------------------------------------------------------------------------------


def expected_key(first13: str) -> int:
    # Written again here rather than imported: the property checks the validator's arithmetic.
    return 97 - int(first13.replace("2A", "19").replace("2B", "18")) % 97


months = st.one_of(st.integers(1, 12), st.integers(20, 99)).map("{:02d}".format)
departments = st.one_of(st.integers(0, 99).map("{:02d}".format), st.sampled_from(["2A", "2B"]))


@st.composite
def nirs(draw) -> str:
    first13 = (
        draw(st.sampled_from("12"))
        + draw(st.integers(0, 99).map("{:02d}".format))
        + draw(months)
        + draw(departments)
        + draw(st.integers(0, 999).map("{:03d}".format))
        + draw(st.integers(0, 999).map("{:03d}".format))
    )
    return f"{first13}{expected_key(first13):02d}"


@st.composite
def spaced(draw, text: str) -> str:
    """The same characters with spaces, dots or dashes slipped in, maybe in lower case."""
    out = []
    for char in text:
        out.append(draw(st.sampled_from(["", "", " ", ".", "-"])) + char)
    spaced_text = "".join(out) + draw(st.sampled_from(["", " ", "\t"]))
    return spaced_text.lower() if draw(st.booleans()) else spaced_text


@given(nirs())
@example("269052A12345678"[:13] + f"{expected_key('269052A123456'):02d}")
@example("1800575112001" + f"{expected_key('1800575112001'):02d}")
def test_any_nir_with_its_key_passes(nir):
    assert parse_nir(nir) == nir
    assert nir_key(nir[:13]) == int(nir[13:])


@given(st.data(), nirs())
def test_a_nir_is_read_through_spaces_dots_and_dashes(data, nir):
    assert parse_nir(data.draw(spaced(nir))) == nir


@given(nirs(), st.integers(0, 14), st.integers(1, 9))
def test_changing_any_one_digit_of_a_nir_fails(nir, position, shift):
    assume(nir[position].isdigit())
    digit = str((int(nir[position]) + shift) % 10)
    changed = nir[:position] + digit + nir[position + 1 :]
    with pytest.raises(ValidationError):
        parse_nir(changed)


def test_corsica_reads_2a_as_19_and_2b_as_18():
    assert nir_key("1800520123456") != nir_key("18005" + "2A" + "123456")
    assert nir_key("18005" + "2A" + "123456") == nir_key("1800519123456")
    assert nir_key("18005" + "2B" + "123456") == nir_key("1800518123456")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "nir_length"),
        ("18005751120010", "nir_length"),
        ("3800575112001" + "00", "nir_format"),  # sex is 1 or 2
        ("1801375112001" + "00", "nir_format"),  # month 13 to 19 do not exist
        ("1800075112001" + "00", "nir_format"),  # nor month 00
        ("180052C112001" + "00", "nir_format"),  # only 2A and 2B have letters
        ("18005751120O1" + "00", "nir_format"),  # letter O for a zero
    ],
)
def test_malformed_nirs_are_refused(value, code):
    with pytest.raises(ValidationError) as exc:
        parse_nir(value)
    assert exc.value.code == code


def test_other_scripts_digits_are_not_a_nir():
    nir = "180057511200" + "1" + f"{expected_key('1800575112001'):02d}"
    # Commune, order and key in Arabic-Indic digits: same values for int(), not a NIR.
    arabic = nir[:7] + "".join(chr(0x660 + int(c)) for c in nir[7:])
    with pytest.raises(ValidationError):
        parse_nir(arabic)


def test_a_wrong_key_is_refused_with_its_own_message():
    first13 = "1800575112001"
    wrong = (expected_key(first13) % 97) + 1
    with pytest.raises(ValidationError) as exc:
        parse_nir(f"{first13}{wrong:02d}")
    assert exc.value.code == "nir_key"
    assert "clé" in exc.value.messages[0]


# --- Vitale serial --------------------------------------------------------------------------

NIR = "1800575112001" + f"{expected_key('1800575112001'):02d}"


def is_date(digits: str) -> bool:
    try:
        date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    except ValueError:
        return False
    return True


@given(st.from_regex(r"[0-9]{11}", fullmatch=True))
def test_a_card_with_photo_has_any_11_digit_serial(serial):
    assume(serial not in NIR)
    assert parse_vitale_serial(serial, with_photo=True, nir=NIR) == serial


@given(st.data(), st.from_regex(r"[0-9]{11}", fullmatch=True))
def test_a_serial_is_read_through_spaces(data, serial):
    assume(serial not in NIR)
    typed = data.draw(spaced(serial))
    assert parse_vitale_serial(typed.strip(), with_photo=True, nir=NIR) == serial


@given(st.from_regex(r"[0-9]{1,10}|[0-9]{12,20}", fullmatch=True))
def test_a_card_with_photo_refuses_any_other_length(serial):
    with pytest.raises(ValidationError) as exc:
        parse_vitale_serial(serial, with_photo=True)
    assert exc.value.code == "serial_length"


@given(st.from_regex(r"[0-9]{8,13}", fullmatch=True))
def test_a_card_without_photo_has_8_to_13_digits(serial):
    assume(serial not in NIR and not (len(serial) == 8 and is_date(serial)))
    assert parse_vitale_serial(serial, with_photo=False, nir=NIR) == serial


@given(st.from_regex(r"[0-9]{1,7}|[0-9]{14,20}", fullmatch=True))
def test_a_card_without_photo_refuses_other_lengths(serial):
    with pytest.raises(ValidationError) as exc:
        parse_vitale_serial(serial, with_photo=False)
    assert exc.value.code == "serial_length"


@given(st.dates(min_value=date(1000, 1, 1)))
def test_a_date_is_never_a_serial(day):
    with pytest.raises(ValidationError) as exc:
        parse_vitale_serial(f"{day:%d%m%Y}", with_photo=False)
    assert exc.value.code == "serial_date"


@given(st.integers(0, 15 - 8), st.integers(8, 13), st.booleans())
def test_a_part_of_the_nir_is_never_a_serial(start, length, photo):
    part = NIR[start : start + length]
    assume(len(part) == length and (length == 11 if photo else True))
    assume(not (length == 8 and is_date(part)))
    with pytest.raises(ValidationError) as exc:
        parse_vitale_serial(part, with_photo=photo, nir=NIR)
    assert exc.value.code == "serial_in_nir"


@given(st.text(min_size=8, max_size=13))
def test_a_serial_is_only_digits(text):
    assume(any(not ("0" <= c <= "9") and not c.isspace() and c not in ".-" for c in text))
    with pytest.raises(ValidationError) as exc:
        parse_vitale_serial(text, with_photo=False)
    assert exc.value.code == "serial_digits"


# --- Mobile ---------------------------------------------------------------------------------

METROPOLITAN_MOBILE = r"6(?:[0-24-8][0-9]|3[0-8]|9[589])[0-9]{6}|7[3-9][0-9]{7}"


def french_forms(national: str) -> list[str]:
    """How people write a metropolitan mobile: 06 12 34 56 78, +33 6…, 0033 6…, +33 (0)6…"""
    pairs = " ".join(national[i : i + 2] for i in range(1, 9, 2))
    return [
        "0" + national,
        f"0{national[0]} {pairs}",
        f"0{national[0]}.{pairs.replace(' ', '.')}",
        f"0{national[0]}-{pairs.replace(' ', '-')}",
        "+33" + national,
        f"+33 {national[0]} {pairs}",
        f"+33 (0){national[0]} {pairs}",
        "0033" + national,
    ]


@settings(deadline=None)
@given(st.from_regex(METROPOLITAN_MOBILE, fullmatch=True), st.data())
def test_metropolitan_mobiles_come_out_in_e164(national, data):
    typed = data.draw(st.sampled_from(french_forms(national)))
    assert parse_mobile(typed) == "+33" + national


@settings(deadline=None)
@given(st.from_regex(r"[67][0-9]{8}", fullmatch=True))
def test_a_06_or_07_number_is_a_mobile_exactly_when_libphonenumber_says_so(national):
    """Differential property: libphonenumber, region by region, is the oracle."""
    expected = None
    for region in ("FR", "GP", "MQ", "GF", "RE", "YT"):
        number = phonenumbers.parse("0" + national, region)
        if phonenumbers.is_valid_number(number) and (
            phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        ):
            expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            break
    if expected is None:
        with pytest.raises(ValidationError):
            parse_mobile("0" + national)
    else:
        assert parse_mobile("0" + national) == expected
        assert phonenumbers.is_valid_number(phonenumbers.parse(expected))


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("06 90 12 34 56", "+590690123456"),  # Guadeloupe
        ("0696 12 34 56", "+596696123456"),  # Martinique
        ("06 94 20 12 34", "+594694201234"),  # Guyane
        ("06 92 12 34 56", "+262692123456"),  # La Réunion
        ("06 39 20 12 34", "+262639201234"),  # Mayotte
        ("07 09 01 23 45", "+590709012345"),  # Guadeloupe, new overseas range
        ("+590 690 12 34 56", "+590690123456"),
        ("00590 690 12 34 56", "+590690123456"),
        ("+262 692 12 34 56", "+262692123456"),
        ("+508 55 12 34", "+508551234"),  # Saint-Pierre-et-Miquelon
    ],
)
def test_overseas_mobiles_keep_their_own_country_code(typed, e164):
    assert parse_mobile(typed) == e164


@settings(deadline=None)
@given(st.from_regex(r"0[1-59][0-9]{8}", fullmatch=True))
def test_landlines_and_special_numbers_are_refused(typed):
    with pytest.raises(ValidationError) as exc:
        parse_mobile(typed)
    assert exc.value.code == "mobile_invalid"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "01 23 45 67 89",  # Paris landline
        "+33 1 23 45 67 89",
        "05 90 12 34 56",  # Guadeloupe landline
        "+33 690 12 34 56",  # an overseas mobile does not take +33
        "07 12 34 56 78",  # unallocated
        "+44 7700 900123",  # a British mobile
        "+1 202 555 0143",
        "06 12 34 56",  # too short
        "06 12 34 56 78 90",  # too long
        "téléphone",
        "551234",  # a bare Saint-Pierre number could be anything
    ],
)
def test_other_numbers_are_refused(typed):
    with pytest.raises(ValidationError) as exc:
        parse_mobile(typed)
    assert exc.value.code == "mobile_invalid"


@given(st.from_regex(METROPOLITAN_MOBILE, fullmatch=True))
def test_masked_mobile_shows_only_the_last_five_digits(national):
    masked = mask_mobile(parse_mobile("0" + national))
    assert masked == "*****" + national[-5:]


def test_masked_email_shows_the_first_letter_and_the_domain():
    assert mask_email("marie.dupont@exemple.fr") == "m*****@exemple.fr"


# --- Login identifier -----------------------------------------------------------------------


@given(st.from_regex(r"[a-z0-9._-]{8,100}", fullmatch=True))
def test_identifiers_of_8_to_100_allowed_characters_pass(identifier):
    assume(not identifier.startswith("psc-"))
    assert parse_identifier(identifier) == identifier
    assert parse_identifier(f"  {identifier} ") == identifier


@given(st.from_regex(r"[a-z0-9._-]{4,96}", fullmatch=True))
def test_identifiers_under_the_reserved_prefix_are_refused(rest):
    # "psc-…" is how the service names the accounts that Pro Santé Connect makes
    with pytest.raises(ValidationError) as exc:
        parse_identifier(f"psc-{rest}")
    assert exc.value.code == "identifier_reserved"


@given(st.from_regex(r"[a-z0-9._-]{0,7}|[a-z0-9._-]{101,120}", fullmatch=True))
def test_identifiers_of_other_lengths_are_refused(identifier):
    with pytest.raises(ValidationError) as exc:
        parse_identifier(identifier)
    assert exc.value.code == "identifier_length"


@given(st.text(min_size=8, max_size=100))
def test_identifiers_with_other_characters_are_refused(identifier):
    stripped = identifier.strip()
    assume(
        8 <= len(stripped)
        and any(c not in "abcdefghijklmnopqrstuvwxyz0123456789._-" for c in stripped)
    )
    with pytest.raises(ValidationError) as exc:
        parse_identifier(identifier)
    assert exc.value.code == "identifier_chars"


@pytest.mark.parametrize(
    "identifier", ["marie.dupont@exemple.fr", "Marie.Dupont", "élodie.martin", "jean dupont"]
)
def test_an_email_or_capitals_or_accents_are_not_an_identifier(identifier):
    with pytest.raises(ValidationError) as exc:
        parse_identifier(identifier)
    assert exc.value.code == "identifier_chars"


@given(nirs(), st.data())
def test_the_nir_is_never_an_identifier(nir, data):
    typed = data.draw(st.sampled_from([nir.lower(), ".".join([nir[:1], nir[1:].lower()])]))
    with pytest.raises(ValidationError) as exc:
        parse_identifier(typed, nir=nir)
    assert exc.value.code == "identifier_nir"
    with pytest.raises(ValidationError):
        parse_identifier(typed, nir=" ".join([nir[:1], nir[1:]]))  # however it is written
