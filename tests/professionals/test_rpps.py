"""Properties of the RPPS validator: 11 digits, the last a Luhn key."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import example, given
from hypothesis import strategies as st

from carnet.core.validators import parse_rpps, rpps_key

digits10 = st.text(alphabet="0123456789", min_size=10, max_size=10)


def luhn_valid(number: str) -> bool:
    # Written again here: the property checks the validator's arithmetic.
    total = 0
    for i, char in enumerate(reversed(number)):
        d = int(char) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@given(digits10)
@example("1000000000")
def test_the_key_makes_a_valid_number(first10):
    number = f"{first10}{rpps_key(first10)}"
    assert luhn_valid(number)
    assert parse_rpps(number) == number


@given(digits10, st.sampled_from([" ", ".", "-"]))
def test_separators_are_ignored(first10, separator):
    number = f"{first10}{rpps_key(first10)}"
    spaced = separator.join([number[:3], number[3:7], number[7:]])
    assert parse_rpps(spaced) == number


@given(digits10, st.integers(0, 10), st.integers(1, 9))
def test_any_single_digit_error_is_caught(first10, position, shift):
    number = f"{first10}{rpps_key(first10)}"
    wrong = str((int(number[position]) + shift) % 10)
    changed = number[:position] + wrong + number[position + 1 :]
    with pytest.raises(ValidationError) as caught:
        parse_rpps(changed)
    assert caught.value.code == "rpps_key"
    assert caught.value.messages == ["La clé du numéro RPPS ne correspond pas."]


@given(st.text(alphabet="0123456789", max_size=20).filter(lambda s: len(s) != 11))
def test_other_lengths_are_refused(value):
    with pytest.raises(ValidationError) as caught:
        parse_rpps(value)
    assert caught.value.code == "rpps_length"


@given(st.text(max_size=30))
def test_any_text_is_a_number_or_a_french_error(value):
    try:
        number = parse_rpps(value)
    except ValidationError as exc:
        assert exc.messages[0].startswith("Le numéro RPPS") or "clé" in exc.messages[0]
    else:
        assert len(number) == 11 and number.isascii() and number.isdigit()
        assert luhn_valid(number)


@pytest.mark.parametrize("value", ["1000000000٣", "١٠٠٠٠٠٠٠٠٠٠", "10000000O01", "abc"])
def test_only_ascii_digits(value):
    with pytest.raises(ValidationError) as caught:
        parse_rpps(value)
    assert caught.value.code == "rpps_digits"
