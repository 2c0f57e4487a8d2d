"""Patients, professionals and operators never open each other's pages, nor log in elsewhere."""

import pytest
from django.test import Client

from carnet.accounts.middleware import SHARED_VIEWS, area_kind
from carnet.accounts.models import User

from .helpers import FAILED, HOME_PATHS, LOGIN_PATHS, login, page, password_step
from .urlmap import routes

pytestmark = pytest.mark.django_db

KINDS = {
    "patient": User.Kind.PATIENT,
    "professional": User.Kind.PROFESSIONAL,
    "operator": User.Kind.OPERATOR,
}
PRIVATE = [r for r in routes() if not r.public and r.name not in SHARED_VIEWS]


def _others(kind):
    return [r for r in PRIVATE if area_kind(r.url) != kind]


def test_every_kind_has_pages_the_others_cannot_open():
    for kind in KINDS.values():
        assert _others(kind), kind
        assert [r for r in PRIVATE if area_kind(r.url) == kind], kind


@pytest.fixture(params=KINDS)
def logged_in(request, passwords):
    user = request.getfixturevalue(request.param)
    client = Client()
    assert login(client, user, passwords[user.kind])["Location"] in (
        HOME_PATHS[user.kind],
        "/bienvenue/",  # a patient's first login
    )
    assert client.get(HOME_PATHS[user.kind]).status_code == 200
    return user, client


def test_a_get_on_another_kind_s_page_goes_back_home(logged_in):
    user, client = logged_in
    for route in _others(user.kind):
        response = client.get(route.url)
        assert response.status_code == 302, route.name
        assert response["Location"] == HOME_PATHS[user.kind], route.name


def test_a_post_on_another_kind_s_page_is_refused(logged_in):
    user, client = logged_in
    for route in _others(user.kind):
        response = client.post(route.url, {"confirm": "on", "action": "close"})
        assert response.status_code == 403, route.name
        assert "Accès refusé" in page(response)
    # and the session is still theirs
    assert client.get(HOME_PATHS[user.kind]).status_code == 200


def test_shared_views_serve_every_kind(logged_in):
    user, client = logged_in
    response = client.post("/session/prolonger/")
    assert response.status_code == 200
    assert client.post("/deconnexion/")["Location"] == LOGIN_PATHS[user.kind]


@pytest.mark.parametrize(
    ("who", "portal"),
    [
        ("patient", User.Kind.PROFESSIONAL),
        ("patient", User.Kind.OPERATOR),
        ("professional", User.Kind.PATIENT),
        ("professional", User.Kind.OPERATOR),
        ("operator", User.Kind.PATIENT),
        ("operator", User.Kind.PROFESSIONAL),
    ],
)
def test_an_account_cannot_log_in_through_another_kind_s_portal(
    client, request, passwords, who, portal
):
    user = request.getfixturevalue(who)
    wrong_portal = password_step(client, portal, user.identifier, passwords[user.kind])
    unknown = password_step(Client(), portal, "personne.inconnue", passwords[user.kind])
    assert wrong_portal.status_code == unknown.status_code == 200
    assert FAILED in page(wrong_portal) and FAILED in page(unknown)
    assert "pending_login" not in client.session
    # the same account, at its own portal, goes on to the next step
    assert password_step(Client(), user.kind, user.identifier, passwords[user.kind])[
        "Location"
    ] == (f"{LOGIN_PATHS[user.kind]}mode/")
