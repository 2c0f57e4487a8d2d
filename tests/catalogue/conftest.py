"""Connected apps: an operator, catalogue entries registered through the real service, and the
OAuth 2.0 authorization-code + PKCE flow driven through the real endpoints."""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from carnet.accounts.models import User
from carnet.catalogue.models import App
from carnet.catalogue.services import app_register
from tests.family.conftest import child  # noqa: F401 (a fixture: Léa, Alice's daughter)

REDIRECT = "https://app.exemple.fr/retour"


@pytest.fixture
def operator(db):
    return User.objects.create_user("operateur.catalogue", None, kind=User.Kind.OPERATOR)


def register(operator, *, scopes, name="Suivi Tension", status=App.Status.ONLINE, **fields):
    app, secret = app_register(
        operator=operator,
        name=name,
        editor="Éditeur Exemple",
        description="Une application de démonstration (données fictives).",
        category=fields.pop("category", App.Category.CHRONIC),
        allowed_scopes=scopes.split(),
        redirect_uris=fields.pop("redirect_uris", [REDIRECT]),
        status=status,
        **fields,
    )
    app.plain_secret = secret
    return app


@pytest.fixture
def app(operator):
    return register(
        operator,
        scopes="launch/patient openid fhirUser offline_access patient/Patient.rs "
        "patient/DocumentReference.rs patient/Observation.cruds",
    )


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Authorized:
    code: str
    verifier: str
    state: str


def consent_page(
    client: Client, app: App, scope: str, *, challenge: str, state="etat-42", method="S256"
):
    return client.get(
        "/oauth/authorize/",
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": method,
        },
    )


def authorize(client: Client, app: App, scope: str, *, allow=True) -> Authorized | dict:
    """The person reads the consent screen and answers; returns the code (or the error)."""
    verifier, challenge = pkce()
    page = consent_page(client, app, scope, challenge=challenge)
    assert page.status_code == 200, page.content.decode()[:500]
    form = page.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    if allow:
        data["allow"] = "Authorize"
    answer = client.post("/oauth/authorize/", data)
    assert answer.status_code == 302, answer.content.decode()[:500]
    location = urlsplit(answer["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    if "code" not in query:
        return query
    assert query["state"] == "etat-42"
    return Authorized(code=query["code"], verifier=verifier, state=query["state"])


def exchange(app: App, authorized: Authorized, **overrides):
    data = {
        "grant_type": "authorization_code",
        "code": authorized.code,
        "redirect_uri": REDIRECT,
        "client_id": app.client_id,
        "code_verifier": authorized.verifier,
        **overrides,
    }
    return Client().post("/oauth/token/", data)


def connect(client: Client, app: App, scope: str) -> dict:
    """The whole flow; returns the token response."""
    response = exchange(app, authorize(client, app, scope))
    assert response.status_code == 200, response.content.decode()
    return response.json()


def fhir(token: str, path: str, **params):
    return Client().get(f"/fhir/{path}", params, HTTP_AUTHORIZATION=f"Bearer {token}")
