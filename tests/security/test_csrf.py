"""CSRF: every state-changing request needs the token; no view is exempt."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

import carnet
from tests.enrollment.helpers import PASSWORD

from .helpers import login, session_exists, session_key
from .urlmap import routes

SRC = Path(carnet.__file__).parent


def _token(client, url) -> str:
    return re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(url).content.decode()
    ).group(1)


@pytest.mark.django_db
def test_a_login_post_without_the_token_is_refused_and_with_it_accepted(patient):
    client = Client(enforce_csrf_checks=True)
    form = {"identifier": "alice.martin", "password": PASSWORD}
    refused = client.post("/connexion/", form)
    assert refused.status_code == 403
    assert "pending_login" not in client.session
    accepted = client.post(
        "/connexion/", {**form, "csrfmiddlewaretoken": _token(client, "/connexion/")}
    )
    assert accepted.status_code == 302
    assert accepted["Location"] == "/connexion/mode/"


@pytest.mark.django_db
def test_a_logout_without_the_token_is_refused_and_the_session_lives_on(patient):
    client = Client(enforce_csrf_checks=True)
    login(_AsPlain(client), patient, PASSWORD)
    key = session_key(client)
    assert client.post("/deconnexion/").status_code == 403
    assert session_exists(key)
    assert client.post("/session/prolonger/").status_code == 403
    token = _token(client, "/documents/")
    assert client.post("/deconnexion/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert not session_exists(key)


class _AsPlain:
    """The login helper posts without tokens: add them, reading each page's form first."""

    def __init__(self, client):
        self.client = client

    @property
    def cookies(self):
        return self.client.cookies

    def post(self, url, data):
        return self.client.post(url, {**data, "csrfmiddlewaretoken": _token(self.client, url)})

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)


# Called by software with a bearer token or client credentials, never with our cookies: a
# forged cross-site request carries no token, so there is nothing for CSRF to protect.
# Adding one is a decision: say why.
TOKEN_VIEWS = {
    "fhir:read",
    "fhir:search",
    "fhir:binary",
    "fhir:summary",
    "fhir:metadata",
    "oauth2_provider:token",
    "oauth2_provider:revoke-token",
    "oauth2_provider:oidc-connect-discovery-info",
    "oauth2_provider:jwks-info",
    "oauth2_provider:user-info",
}
# The files that mark those views exempt.
TOKEN_FILES = {"fhir/views.py"}


def test_no_view_is_csrf_exempt_but_the_token_endpoints():
    exempt = {r.name for r in routes() if getattr(r.callback, "csrf_exempt", False)}
    assert exempt <= TOKEN_VIEWS, exempt - TOKEN_VIEWS
    assert settings.MIDDLEWARE.count("django.middleware.csrf.CsrfViewMiddleware") == 1


def test_no_source_file_mentions_csrf_exempt():
    offenders = [
        str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "csrf_exempt" in p.read_text()
    ]
    assert set(offenders) <= TOKEN_FILES, offenders


FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)


def test_every_post_form_in_the_templates_carries_the_token():
    missing = []
    for template in SRC.rglob("templates/**/*.html"):
        for form in FORM.findall(template.read_text()):
            opening = form[: form.index(">")]
            if re.search(r'method="?post', opening, re.I) and "{% csrf_token %}" not in form:
                missing.append(f"{template.relative_to(SRC)}: {opening}>")
    assert missing == []
