"""The validity of a share link as the form parses it: "<n>h" or "<n>j", from one hour to
SHARE_MAX_VALIDITY; anything else refused with a French message, never an exception."""

from datetime import timedelta

from django.conf import settings
from hypothesis import example, given
from hypothesis import strategies as st

from carnet.sharing.forms import (
    VALIDITY_CHOICES,
    ValidityRefused,
    parse_validity,
    validity_text,
)

MAX = settings.CARNET["SHARE_MAX_VALIDITY"]


@given(st.text(max_size=12))
@example("720h")
@example("721h")
@example("30j")
@example("31j")
@example("0j")
@example("９h")  # a full-width digit: not ours
@example("24h\n")
def test_any_text_is_a_duration_within_bounds_or_refused_in_french(raw):
    try:
        value = parse_validity(raw)
    except ValidityRefused as exc:
        assert str(exc) in (
            "Choisissez une durée de validité dans la liste.",
            f"Un lien de partage est valable {MAX.days} jours au plus.",
        )
    else:
        assert timedelta(hours=1) <= value <= MAX


@given(st.integers(min_value=1, max_value=MAX.days * 24))
def test_every_duration_up_to_the_maximum_reads_back(hours):
    value = timedelta(hours=hours)
    assert parse_validity(validity_text(value)) == value
    assert parse_validity(f"{hours}h") == value


@given(st.integers(min_value=MAX.days * 24 + 1, max_value=9999))
def test_longer_is_refused(hours):
    try:
        parse_validity(f"{hours}h")
    except ValidityRefused as exc:
        assert "30 jours au plus" in str(exc)
    else:
        raise AssertionError("accepted")


def test_the_choices_of_the_list_are_valid_and_the_default_is_24_hours():
    assert all(parse_validity(value) for value, _ in VALIDITY_CHOICES)
    assert validity_text(settings.CARNET["SHARE_DEFAULT_VALIDITY"]) == "24h"
