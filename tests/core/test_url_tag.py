"""Our `{% url %}` (a template builtin): fixed links remembered per process, yet always the
links Django's reverse gives for the URLconf in force."""

import pytest
from django.template import engines
from django.test import override_settings
from django.urls import NoReverseMatch, include, path


def render(source: str) -> str:
    return engines["django"].from_string(source).render({})


def view(request):  # pragma: no cover (never called: only reversed)
    raise AssertionError


# Another URLconf with the same name: only the URLconf tells the two links apart.
urlpatterns = [path("ailleurs/", include(([path("documents/", view, name="index")], "documents")))]


def test_a_fixed_link_is_the_one_reverse_gives():
    assert render("{% url 'documents:index' %}") == "/documents/"
    assert render("{% url 'documents:index' %}") == "/documents/"  # remembered, the same


def test_another_urlconf_gets_its_own_link():
    render("{% url 'documents:index' %}")
    with override_settings(ROOT_URLCONF=__name__):
        assert render("{% url 'documents:index' %}") == "/ailleurs/documents/"
    assert render("{% url 'documents:index' %}") == "/documents/"


def test_an_unknown_name_still_fails_and_as_var_stays_silent():
    with pytest.raises(NoReverseMatch):
        render("{% url 'nulle-part' %}")
    assert render("{% url 'nulle-part' as lien %}[{{ lien }}]") == "[]"


def test_links_with_arguments_are_reversed_as_before():
    assert render("{% url 'documents:detail' '00000000-0000-0000-0000-000000000001' %}") == (
        "/documents/00000000-0000-0000-0000-000000000001/"
    )
