"""Login: one message for every failure, lockouts, the code step, session renewal, logout."""

import html
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client

from carnet.core import clock
from tests.accounts.helpers import log_in
from tests.enrollment.helpers import PASSWORD, activate
from tests.enrollment.wizard import identify_form

pytestmark = pytest.mark.django_db

FAILED = "Identifiant ou mot de passe incorrect."
BLOCKED = "Trop de tentatives"


@pytest.fixture
def user(issue_code):
    return activate(issue_code(), identifier="alice.martin")


@pytest.fixture
def fast_user(settings, issue_code):
    """For the lockout tests: dozens of failed logins, each hashing a password; a fast hasher
    keeps them quick (Argon2 itself is checked above)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return activate(issue_code(), identifier="alice.martin")


def _login(client, identifier, password=PASSWORD, **extra):
    return client.post("/connexion/", {"identifier": identifier, "password": password}, **extra)


def _page(response) -> str:
    return html.unescape(response.content.decode())


def test_password_alone_does_not_log_in(client, user):
    response = _login(client, "alice.martin")
    assert response["Location"] == "/connexion/mode/"
    assert "_auth_user_id" not in client.session
    assert client.get("/documents/")["Location"].startswith("/connexion/")


def test_first_login_welcomes_then_home(client, user):
    assert log_in(client, "alice.martin")["Location"] == "/bienvenue/"
    assert "Commencer" in _page(client.get("/bienvenue/"))
    assert "Bonjour Alice" in _page(client.get("/"))
    assert user.password.startswith("argon2")
    client.post("/deconnexion/")
    assert log_in(client, "alice.martin")["Location"] == "/"  # not the first time any more


def test_identifier_is_not_case_sensitive(client, user):
    assert _login(client, "  Alice.Martin ")["Location"] == "/connexion/mode/"


@pytest.mark.parametrize(
    ("identifier", "password"),
    [("alice.martin", "mauvais-mot-de-passe"), ("personne.inconnue", PASSWORD)],
)
def test_one_message_for_a_wrong_password_or_an_unknown_identifier(
    client, user, identifier, password
):
    response = _login(client, identifier, password)
    assert response.status_code == 200
    assert FAILED in _page(response)
    assert "_auth_user_id" not in client.session


def test_session_is_renewed_at_login(client, user, issue_code):
    other = issue_code()
    client.post("/activer/", identify_form(other.person, "Z" * 12))  # a session exists
    before = client.cookies[settings.SESSION_COOKIE_NAME].value
    _login(client, "alice.martin")
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before


def test_ten_failures_lock_the_identifier_for_fifteen_minutes(fast_user):
    for _ in range(10):
        _login(Client(REMOTE_ADDR="192.0.2.10"), "alice.martin", "mauvais-mot-de-passe")
    # even the right password, from another address
    response = _login(Client(REMOTE_ADDR="192.0.2.11"), "alice.martin")
    assert response.status_code == 200 and BLOCKED in _page(response)
    with clock.travel(timedelta(minutes=15, seconds=1)):
        assert _login(Client(), "alice.martin")["Location"] == "/connexion/mode/"


def test_fifty_failures_lock_the_address(fast_user):
    client = Client(REMOTE_ADDR="192.0.2.20")
    for n in range(50):
        _login(client, f"inconnu.{n:03d}", "mauvais-mot-de-passe")
    assert BLOCKED in _page(_login(client, "alice.martin"))
    assert _login(Client(REMOTE_ADDR="192.0.2.21"), "alice.martin")["Location"] == (
        "/connexion/mode/"
    )


def test_logout_is_a_post(client, user):
    log_in(client, "alice.martin")
    assert client.get("/deconnexion/").status_code == 405
    assert client.post("/deconnexion/")["Location"] == "/connexion/"
    assert "_auth_user_id" not in client.session
    assert client.get("/parametres/")["Location"].startswith("/connexion/")


def test_inactive_account_cannot_log_in(client, user):
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert FAILED in _page(_login(client, "alice.martin"))
