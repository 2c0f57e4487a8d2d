"""The OpenID Connect client (Authlib, ADR 0022) for each provider of FEDERATION_PROVIDERS.

Authlib does the protocol's discipline: `state` bound to the session, a `nonce` in the
authorization request and in the ID token, PKCE (S256), the ID token's signature against the
provider's JWKS, its issuer, audience and expiry. Ours: the `acr` asked for and required in the
token, an ID token required (Authlib skips the checks when there is none), and the identity.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from joserfc.errors import JoseError

from carnet.core import clock

log = logging.getLogger(__name__)

# Everything that means "the provider's answer cannot be trusted or was not received".
# RuntimeError: Authlib's answer to a discovery document without a needed endpoint.
FAILURES = (
    OAuthError,
    JoseError,
    requests.RequestException,
    ValueError,
    KeyError,
    TypeError,
    RuntimeError,
)
UNAVAILABLE = "Le service d'identification ne répond pas. Réessayez dans quelques minutes."
REFUSED = (
    "L'identification n'a pas abouti : la réponse du service d'identification n'a pas pu "
    "être vérifiée. Recommencez, ou connectez-vous avec votre identifiant, votre mot de passe "
    "et un code."
)
STARTED_KEY = "federation_started"  # state → when the departure to the provider was made
STARTED_KEPT = 5  # departures remembered per session (a few tabs)
# Only asymmetric signatures, whatever the discovery document lists ("none" never).
ID_TOKEN_ALGORITHMS = ["ES256", "RS256", "PS256"]


class FederationError(Exception):
    """The login through the provider did not succeed; `message` is for the person. `record`
    is False for an answer that no departure of ours started (no or unknown `state`): anyone
    can send those, they go to no trail."""

    def __init__(self, message: str, *, reason: str = "", record: bool = True):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.record = record


def provider_config(key: str) -> dict | None:
    """The provider's settings when it is configured (discovery URL and client id set)."""
    config = settings.FEDERATION_PROVIDERS.get(key)
    if not config or not config["metadata_url"] or not config["client_id"]:
        return None
    return config


_clients: dict[tuple, object] = {}


def client(key: str):
    """Authlib's client for the provider, kept while its settings stay the same (it caches the
    discovery document and the JWKS)."""
    config = provider_config(key)
    if config is None:
        raise FederationError("Ce moyen d'identification n'est pas disponible.")
    cache_key = (key, config["metadata_url"], config["client_id"], config["client_secret"])
    if cache_key not in _clients:
        registry = OAuth()
        _clients[cache_key] = registry.register(
            name=key,
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            server_metadata_url=config["metadata_url"],
            client_kwargs={
                "scope": config["scope"],
                "code_challenge_method": "S256",
                # every call to the provider: discovery, token, JWKS, userinfo
                "default_timeout": settings.CARNET["FEDERATION_HTTP_TIMEOUT"].total_seconds(),
            },
        )
    return _clients[cache_key]


def _metadata(key: str) -> dict:
    metadata = client(key).load_server_metadata()
    metadata["id_token_signing_alg_values_supported"] = ID_TOKEN_ALGORITHMS
    return metadata


def authorize_redirect(request, key: str, redirect_uri: str):
    config = provider_config(key)
    try:
        _metadata(key)
        response = client(key).authorize_redirect(
            request,
            redirect_uri,
            acr_values=" ".join(config["acr_values"]),
        )
    except FAILURES as exc:
        log.warning("federation %s: authorization request failed (%s)", key, type(exc).__name__)
        raise FederationError(UNAVAILABLE, reason="indisponible") from exc
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    started = dict(list(request.session.get(STARTED_KEY, {}).items())[-(STARTED_KEPT - 1) :])
    started[state] = clock.now().isoformat()
    request.session[STARTED_KEY] = started
    return response


def _departure_check(request) -> None:
    """The answer must come back to a departure of this session, in time (Authlib keeps the
    state for the session's whole life)."""
    state = request.GET.get("state", "")
    started = request.session.get(STARTED_KEY, {})
    at = started.pop(state, None)
    request.session[STARTED_KEY] = started
    if at is None:
        raise FederationError(REFUSED, reason="etat_inconnu", record=False)
    validity = settings.CARNET["FEDERATION_STATE_VALIDITY"]
    if clock.now() - datetime.fromisoformat(at) > validity:
        raise FederationError(REFUSED, reason="etat_expire")


@dataclass
class Identity:
    provider: str
    subject: str
    claims: dict
    id_token: str


def callback(request, key: str, *, needed: tuple[str, ...] = ()) -> Identity:
    """The verified identity from the provider's answer on our redirect URI. Claims of
    `needed` missing from the ID token are read at the userinfo endpoint (FranceConnect+ gives
    the identity pivot there), which must name the same `sub`."""
    config = provider_config(key)
    app = client(key)
    _departure_check(request)
    try:
        metadata = _metadata(key)
        token = app.authorize_access_token(
            request,
            claims_options={
                "iss": {"essential": True, "values": [metadata["issuer"]]},
                "acr": {"essential": True, "values": config["acr_values"]},
            },
        )
    except MismatchingStateError as exc:
        raise FederationError(REFUSED, reason="etat_inconnu", record=False) from exc
    except FAILURES as exc:
        log.warning("federation %s: answer refused (%s)", key, type(exc).__name__)
        raise FederationError(REFUSED, reason=type(exc).__name__) from exc
    claims = token.get("userinfo")
    if not claims or not claims.get("sub"):
        # No ID token: nothing was checked (Authlib verifies one only when it is there).
        log.warning("federation %s: no ID token in the token response", key)
        raise FederationError(REFUSED, reason="sans_id_token")
    claims = dict(claims)
    if any(name not in claims for name in needed):
        try:
            extra = dict(app.userinfo(token=token))
        except FAILURES as exc:
            log.warning("federation %s: userinfo failed (%s)", key, type(exc).__name__)
            raise FederationError(REFUSED, reason="userinfo") from exc
        if str(extra.get("sub")) != str(claims["sub"]):
            raise FederationError(REFUSED, reason="userinfo_sub")
        claims = {**extra, **claims}
    return Identity(
        provider=key, subject=str(claims["sub"]), claims=claims, id_token=token["id_token"]
    )


def logout_url(key: str, *, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """The provider's end-session URL (RP-initiated logout), when it advertises one."""
    try:
        metadata = client(key).load_server_metadata()
    except (*FAILURES, FederationError):
        return None
    if not metadata.get("end_session_endpoint"):
        return None
    return client(key).create_logout_url(
        post_logout_redirect_uri=post_logout_redirect_uri, id_token_hint=id_token
    )["url"]
