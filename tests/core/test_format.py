"""French display filters."""


def test_sizes_are_shown_in_decimal_units_like_the_limit():
    from carnet.core.templatetags.carnet_format import taille

    assert taille(1) == "1 octet"
    assert taille(999) == "999 octets"
    assert taille(48_200) == "48 ko"
    assert taille(4_800_000) == "4,8 Mo"
    assert taille(5_000_000) == "5,0 Mo"
    assert taille("pas un nombre") == ""
