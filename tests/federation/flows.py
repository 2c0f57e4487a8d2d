"""The provider's configuration for the federation tests, and the round trip driven without a
browser: Carnet's start URL (Django test client) → the real provider (requests) → Carnet's
callback (Django test client again, same session)."""

import html
import re
from datetime import date

import requests

from tests.factories import InsuredPersonFactory, make_nir
from tests.federation.oidc_provider import provider_login

BASE = "http://testserver"
BIRTH = date(1980, 5, 17)
FC_SCOPES = {
    "openid": ["sub"],
    "given_name": ["given_name"],
    "family_name": ["family_name"],
    "birthdate": ["birthdate"],
    "gender": ["gender"],
    "birthplace": ["birthplace"],
    "birthcountry": ["birthcountry"],
}
PSC_SCOPES = {"openid": ["sub"], "scope_all": ["SubjectNameID", "given_name", "family_name"]}


def fc_claims(**overrides) -> dict:
    """The pivot of Alice MARTIN, born on 17 May 1980 in Lyon (69123)."""
    claims = {
        "given_name": "Alice Marie",
        "family_name": "MARTIN",
        "birthdate": BIRTH.isoformat(),
        "gender": "female",
        "birthplace": "69123",
        "birthcountry": "99100",
    }
    return {**claims, **overrides}


def registry_alice(order: int = 1, **overrides):
    """Alice Martin as the registry knows her: the NIR says born in 69 123."""
    values = {
        "first_name": "Alice",
        "last_name": "Martin",
        "sex": "F",
        "birth_date": BIRTH,
        "nir": make_nir(2, BIRTH, order, dept="69", commune=123),
        "email": "alice.martin@exemple.fr",
    }
    return InsuredPersonFactory(**{**values, **overrides})


def provider_config(base: str, accounts: dict, *, client_id: str, callback: str, login: str):
    scopes = FC_SCOPES if "franceconnect" in callback else PSC_SCOPES
    return {
        "port": 0,
        "clients": [
            {
                "client_id": client_id,
                "client_secret": f"secret-de-test-{client_id}",
                "redirect_uris": [base + callback],
                "post_logout_redirect_uris": [base + login],
            }
        ],
        "accounts": accounts,
        "scopes": scopes,
        "acr_values": ["eidas1", "eidas2", "eidas3"],
    }


def configure(settings, key: str, issuer: str, client_id: str) -> None:
    """Point Carnet's settings for `key` at the test provider (or at a proxy in front of it)."""
    providers = {k: dict(v) for k, v in settings.FEDERATION_PROVIDERS.items()}
    providers[key].update(
        metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_id=client_id,
        client_secret=f"secret-de-test-{client_id}",
    )
    settings.FEDERATION_PROVIDERS = providers


def round_trip(client, start: str, login: str, callback: str):
    """Start at Carnet, log in at the provider as `login`, come back: the callback's response."""
    response = client.get(start)
    assert response.status_code == 302, response.content[:500]
    back = provider_login(requests.Session(), response["Location"], login, BASE + callback)
    return client.get(back.removeprefix(BASE))


def provider_answer(client, start: str, login: str, callback: str) -> str:
    """The provider's redirect to the callback (not followed): for tests that alter it."""
    response = client.get(start)
    return provider_login(requests.Session(), response["Location"], login, BASE + callback)


def provider_logout_url(response) -> str:
    """The provider's end-session URL that our logout page leads to (meta refresh and link)."""
    assert response.status_code == 200
    found = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', response.content.decode())
    assert found, response.content.decode()[:2000]
    return html.unescape(found.group(1))
