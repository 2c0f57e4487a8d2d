"""French display filters."""

from datetime import UTC, date, datetime

from django.utils import translation
from django.utils.dateformat import format as date_format
from hypothesis import given
from hypothesis import strategies as st


def test_sizes_are_shown_in_decimal_units_like_the_limit():
    from carnet.core.templatetags.carnet_format import taille

    assert taille(1) == "1 octet"
    assert taille(999) == "999 octets"
    assert taille(48_200) == "48 ko"
    assert taille(4_800_000) == "4,8 Mo"
    assert taille(5_000_000) == "5,0 Mo"
    assert taille("pas un nombre") == ""


@given(st.dates(min_value=date(1000, 1, 1)))
def test_a_day_is_written_as_django_writes_j_f_y_in_french(day):
    """`jour`, on every row of the lists, writes what `date:"j F Y"` writes in French, without
    its format parser and its lazily translated month names."""
    from carnet.core.templatetags.carnet_format import jour

    with translation.override("fr"):
        assert jour(day) == date_format(day, "j F Y")


def test_a_moment_is_written_as_its_day_and_nothing_else_as_empty():
    from carnet.core.templatetags.carnet_format import jour

    assert jour(datetime(2026, 8, 1, 23, 30, tzinfo=UTC)) == "1 août 2026"
    assert jour(date(2026, 12, 25)) == "25 décembre 2026"
    assert jour(None) == jour("") == jour("pas une date") == ""
