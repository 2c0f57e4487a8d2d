"""Fail closed: walk the URL map; every view needs a login unless it is listed here as public."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

# The only views reachable without a login, by URL name. Adding one is a decision: say why.
PUBLIC = {
    # home and legal pages
    "core:home",
    "core:cgu",
    "core:privacy",
    "core:accessibility",
    "core:legal",
    # login (logout is not public: it needs a session to end)
    "accounts:login",
    # the activation wizard, "J'ai besoin d'un code" and opposition
    "enrollment:identify",
    "enrollment:decision",
    "enrollment:contacts",
    "enrollment:contact_confirm",
    "enrollment:contacts_next",
    "enrollment:credentials",
    "enrollment:done",
    "enrollment:oppose",
    "enrollment:opposed",
    "enrollment:opposition_pdf",
    "enrollment:new_code",
    "enrollment:new_code_sent",
    "enrollment:serial_help",
    # demo outbox: public, but a 404 unless DEMO_MODE (tested below)
    "notifications:outbox",
}


def _walk(patterns, namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", entry


def _routes() -> dict:
    routes = dict(_walk(get_resolver().url_patterns))
    assert routes, "the URL map is empty"
    return routes


def _is_public(pattern: URLPattern) -> bool:
    return getattr(pattern.callback, "login_required", True) is False


def test_every_route_is_named():
    assert all(not name.endswith("None") for name in _routes()), _routes().keys()


def test_public_views_are_exactly_the_listed_ones():
    public = {name for name, pattern in _routes().items() if _is_public(pattern)}
    assert public == PUBLIC


def test_listed_public_views_exist():
    assert PUBLIC <= set(_routes())


def _private_urls():
    return [
        name
        for name, pattern in _walk(get_resolver().url_patterns)
        if not _is_public(pattern) and not pattern.pattern.converters
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("name", _private_urls())
def test_anonymous_get_on_a_private_view_goes_to_login(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/?next=")


def test_there_are_private_views_to_check():
    assert "enrollment:close" in _private_urls()
    assert "enrollment:closed" in _private_urls()


@pytest.mark.django_db
# the opposition pages answer 404 without the session of a fresh opposition
@pytest.mark.parametrize(
    "name", sorted(PUBLIC - {"enrollment:opposed", "enrollment:opposition_pdf"})
)
def test_public_views_answer_anonymous_get_without_login_redirect(client, name):
    response = client.get(reverse(name))
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert not response["Location"].startswith("/connexion/")


@pytest.mark.django_db
def test_outbox_is_public_only_in_demo(client, settings):
    assert client.get("/outbox/").status_code == 200
    settings.DEMO_MODE = False
    assert client.get("/outbox/").status_code == 404
