"""The FHIR API's HTTP glue: bearer-token callers, scope checks, FHIR JSON and OperationOutcome.

Every call is authenticated by django-oauth-toolkit (the token's checksum, its expiry, its
app still serving, its connection neither revoked nor expired: catalogue.oauth.Validator), then
its SMART scopes are checked for the resource and the interaction. Denials are FHIR
OperationOutcome documents with a French diagnostic.
"""

from dataclasses import dataclass

from django.http import HttpResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from oauth2_provider.oauth2_backends import get_oauthlib_core

from carnet.catalogue import scopes as smart
from carnet.catalogue.models import AccessToken, App, Connection
from carnet.core.http import client_address
from carnet.enrollment.models import Space

FHIR_JSON = "application/fhir+json; charset=utf-8"


def resource_response(resource, *, status: int = 200, headers: dict | None = None):
    response = HttpResponse(
        resource.model_dump_json(exclude_none=True, by_alias=True),
        content_type=FHIR_JSON,
        status=status,
    )
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    429: "throttled",
}


def outcome(status: int, diagnostics: str, *, code: str = "") -> HttpResponse:
    issue = {
        "severity": "error",
        "code": code or _ISSUE_CODES.get(status, "exception"),
        "diagnostics": diagnostics,
    }
    response = resource_response(OperationOutcome(issue=[issue]), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="carnet", error="invalid_token"'
    return response


class Refusal(Exception):
    """Stops a FHIR call with an OperationOutcome."""

    def __init__(self, status: int, diagnostics: str, code: str = ""):
        super().__init__(diagnostics)
        self.response = outcome(status, diagnostics, code=code)


@dataclass
class Caller:
    app: App
    token: AccessToken
    connection: Connection | None
    space: Space | None  # the profile the app was connected to (None: professional software)
    scopes: list[str]
    client: str

    @property
    def context(self) -> str:
        return "system" if self.connection is None else "patient"

    def require(self, resource: str, letter: str) -> None:
        if not smart.permits(self.scopes, self.context, resource, letter):
            verb = smart.VERBS[letter]
            raise Refusal(
                403,
                f"L'accès accordé à ce service ne permet pas de {verb} « {resource} ».",
                code="forbidden",
            )


def caller_of(request) -> Caller:
    """The app calling, from its bearer token; a Refusal (401) when the token is not valid."""
    if "access_token" in request.GET:
        raise Refusal(401, "Le jeton d'accès se transmet dans l'en-tête Authorization.")
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        raise Refusal(401, "Jeton d'accès absent, expiré ou révoqué.", code="login")
    token = oauth_request.access_token
    connection = getattr(oauth_request, "carnet_connection", None)
    space = None
    if connection is not None:
        space = connection.space
        if space.state != Space.State.ACTIVE:
            raise Refusal(403, "Ce profil n'est pas actif.", code="forbidden")
        # Granted by a representative: a minor's confidential acts stay out of every read.
        if connection.granted_by.person_id != space.person_id:
            space.seen_by_representative = True
    elif not token.application.is_software:
        raise Refusal(401, "Jeton d'accès sans profil.", code="login")
    return Caller(
        app=token.application,
        token=token,
        connection=connection,
        space=space,
        scopes=effective_scopes(token, connection),
        client=client_address(request),
    )


def effective_scopes(token, connection) -> list[str]:
    """What the token may do now: its scopes, as far as the person's consent (which may have
    been narrowed since) and the app's catalogue entry (which an operator may have narrowed)
    still allow."""
    allowed = token.application.allowed_scopes.split()
    granted = connection.scopes if connection is not None else allowed
    return [
        scope
        for scope in token.scope.split()
        if smart.within(scope, allowed) and smart.within(scope, granted)
    ]
