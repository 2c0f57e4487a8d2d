"""The test OpenID provider itself, without Django: discovery, the code + PKCE flow driven with
requests, a signed ID token for the account, RP-initiated logout, and the forging proxy."""

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from tests.federation.oidc_provider import provider_login

REDIRECT = "http://carnet.test/federation/retour"
LOGGED_OUT = "http://carnet.test/federation/au-revoir"
SECRET = "secret-du-client-de-test"
CONFIG = {
    "port": 0,
    "clients": [
        {
            "client_id": "carnet",
            "client_secret": SECRET,
            "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": [LOGGED_OUT],
        }
    ],
    "accounts": {
        "alice": {
            "sub": "fc-sub-alice-0001",
            "acr": "eidas2",
            "claims": {"given_name": "Alice", "family_name": "Martin", "birthdate": "1980-05-17"},
        }
    },
    "scopes": {
        "openid": ["sub"],
        "given_name": ["given_name"],
        "family_name": ["family_name"],
        "birthdate": ["birthdate"],
    },
    "acr_values": ["eidas1", "eidas2", "eidas3"],
}


@pytest.fixture
def provider(start_oidc_provider):
    return start_oidc_provider(CONFIG)


def discover(base_url):
    return requests.get(f"{base_url}/.well-known/openid-configuration", timeout=5).json()


def authorization(discovery, scope="openid given_name family_name", **extra):
    """An authorization request with PKCE; returns (url, nonce, code_verifier)."""
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code",
        "client_id": "carnet",
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "etat-1",
        "nonce": nonce,
        "acr_values": "eidas2",
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{discovery['authorization_endpoint']}?{urlencode(params)}", nonce, verifier


def log_in(http, discovery, login="alice", **extra):
    """Through the real login form; returns (the callback's query, nonce, code_verifier)."""
    url, nonce, verifier = authorization(discovery, **extra)
    callback = provider_login(http, url, login, REDIRECT)
    return dict(parse_qsl(urlsplit(callback).query)), nonce, verifier


def exchange(discovery, code, verifier):
    response = requests.post(
        discovery["token_endpoint"],
        auth=("carnet", SECRET),  # client_secret_basic
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()


def verify(discovery, id_token):
    keys = KeySet.import_key_set(requests.get(discovery["jwks_uri"], timeout=5).json())
    return jwt.decode(id_token, keys, algorithms=["RS256"]).claims


def test_discovery_document(provider):
    document = discover(provider.issuer)

    assert provider.issuer.startswith("http://127.0.0.1:")
    assert document["issuer"] == provider.issuer
    assert document["end_session_endpoint"] == f"{provider.issuer}/session/end"
    assert document["jwks_uri"] == f"{provider.issuer}/jwks"
    assert document["acr_values_supported"] == ["eidas1", "eidas2", "eidas3"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"given_name", "family_name", "birthdate"} <= set(document["scopes_supported"])


def test_code_flow_with_pkce_gives_a_signed_id_token_for_the_account(provider):
    discovery, http = discover(provider.issuer), requests.Session()
    params, nonce, verifier = log_in(http, discovery)

    assert params["state"] == "etat-1"
    assert params["iss"] == provider.issuer  # RFC 9207, sent by oidc-provider
    tokens = exchange(discovery, params["code"], verifier)
    claims = verify(discovery, tokens["id_token"])

    assert claims["iss"] == provider.issuer
    assert claims["aud"] == "carnet"
    assert claims["sub"] == "fc-sub-alice-0001"  # the account's sub, not the login typed
    assert claims["acr"] == "eidas2"
    assert claims["nonce"] == nonce
    assert claims["given_name"] == "Alice"
    assert claims["family_name"] == "Martin"
    assert "birthdate" not in claims  # its scope was not asked

    # Same session, more scopes: no form again (it would refuse this login), and the new scope
    # is granted without a consent page.
    params, _, verifier = log_in(http, discovery, login="inconnu", scope="openid birthdate")
    claims = verify(discovery, exchange(discovery, params["code"], verifier)["id_token"])
    assert claims["birthdate"] == "1980-05-17"


def test_unknown_login_is_refused(provider):
    url, _, _ = authorization(discover(provider.issuer))

    with pytest.raises(AssertionError, match="Identifiant inconnu"):
        provider_login(requests.Session(), url, "mallory", REDIRECT)


def test_pkce_is_required(provider):
    discovery = discover(provider.issuer)
    query = {
        "response_type": "code",
        "client_id": "carnet",
        "redirect_uri": REDIRECT,
        "scope": "openid",
    }
    url = f"{discovery['authorization_endpoint']}?{urlencode(query)}"
    response = requests.get(url, allow_redirects=False, timeout=5)

    error = parse_qs(urlsplit(response.headers["Location"]).query)
    assert error["error"] == ["invalid_request"]
    assert error["error_description"] == [
        "Authorization Server policy requires PKCE to be used for this request"
    ]


def test_rp_initiated_logout_asks_then_returns_to_the_client(provider):
    discovery, http = discover(provider.issuer), requests.Session()
    params, _, verifier = log_in(http, discovery)
    id_token = exchange(discovery, params["code"], verifier)["id_token"]

    query = {"id_token_hint": id_token, "post_logout_redirect_uri": LOGGED_OUT, "state": "s"}
    page = http.get(f"{discovery['end_session_endpoint']}?{urlencode(query)}", timeout=5)
    assert ">Se déconnecter</button>" in page.text
    action, xsrf = re.search(
        r'action="([^"]+)"><input type="hidden" name="xsrf" value="([^"]+)"', page.text
    ).groups()
    response = http.post(action, data={"xsrf": xsrf, "logout": "yes"}, allow_redirects=False)

    assert response.headers["Location"] == f"{LOGGED_OUT}?state=s"
    # The provider's session is over.
    params, _, _ = log_in(http, discovery, prompt="none")
    assert params["error"] == "login_required"


def test_tampering_proxy_forges_the_id_token(provider, tampering_proxy):
    proxy = tampering_proxy(provider)
    discovery = discover(proxy.url)

    assert discovery["issuer"] == provider.issuer
    assert discovery["token_endpoint"] == f"{proxy.url}/token"
    assert discovery["authorization_endpoint"] == f"{provider.issuer}/auth"
    assert discovery["jwks_uri"] == f"{provider.issuer}/jwks"
    params, _, verifier = log_in(requests.Session(), discovery)
    id_token = exchange(discovery, params["code"], verifier)["id_token"]

    assert proxy.tampered == [id_token]
    with pytest.raises(BadSignatureError):
        verify(discovery, id_token)
