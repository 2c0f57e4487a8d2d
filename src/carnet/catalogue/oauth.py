"""Our parts of django-oauth-toolkit: the validator, the server and the scopes backend.

- Authorization codes are kept as their keyed hash, access and refresh tokens as checksums
  (COMPLIANT_BCP_RFC9700_TOKEN_STORAGE): nothing a thief of the database could replay.
- A grant and its tokens carry the patient's `Connection`; a revoked or expired connection,
  or an app an operator suspended, ends them at once.
- PKCE with S256 only: "plain" (or no method) is refused at the authorization request.
- Scopes follow SMART v2 and never exceed what the app's catalogue entry allows.
- The token response carries the SMART launch context (`patient`), the ID token `fhirUser`.
"""

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server as OpenIDServer

from carnet.core import clock
from carnet.core.crypto import keyed_hash

from . import scopes as smart
from .models import Connection

_CODE_PURPOSE = "oauth-code"


def _hashed(code: str) -> str:
    return keyed_hash(code, purpose=_CODE_PURPOSE)


def connection_usable(connection: Connection | None, user=None) -> bool:
    """The consent holds: not revoked, not expired, and the account the tokens were issued to
    is still active and still manages the profile's sharing (a representative whose link ended,
    or a deactivated account, loses its apps' access at the next call)."""
    from carnet.family.selectors import manages_sharing

    if connection is None or connection.revoked_at is not None:
        return False
    if connection.expires_at <= clock.now():
        return False
    return user is None or (user.is_active and manages_sharing(user, connection.space))


class Scopes(BaseScopes):
    def get_all_scopes(self):
        return smart.all_known()

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        if application is None:
            return []
        return application.allowed_scopes.split()

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return []


class Validator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "fhirUser": "fhirUser"}

    # Scopes: SMART's rule ("patient/Observation.rs" is within "patient/Observation.cruds").
    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        allowed = client.allowed_scopes.split()
        context = "system" if client.is_software else "patient"
        for scope in scopes:
            parsed = smart.parse(scope)
            if parsed is not None and parsed.context != context:
                return False
            if not smart.within(scope, allowed):
                return False
        return bool(scopes)

    # Authorization codes: stored as their keyed hash; every lookup hashes the code first.
    def _create_authorization_code(self, request, code, expires=None):
        grant = super()._create_authorization_code(
            request, {**code, "code": _hashed(code["code"])}, expires
        )
        connection = getattr(request, "carnet_connection", None)
        if connection is not None:
            grant.connection = connection
            grant.save(update_fields=["connection"])
        return grant

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not super().validate_code(client_id, _hashed(code), client, request, *args, **kwargs):
            return False
        from .models import Grant

        grant = Grant.objects.select_related("connection__space", "user").get(
            code=_hashed(code), application=client
        )
        if grant.connection is not None and not connection_usable(grant.connection, grant.user):
            return False
        request.carnet_connection = grant.connection
        return True

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs):
        return super().confirm_redirect_uri(
            client_id, _hashed(code), redirect_uri, client, *args, **kwargs
        )

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        return super().invalidate_authorization_code(
            client_id, _hashed(code), request, *args, **kwargs
        )

    def get_code_challenge(self, code, request):
        return super().get_code_challenge(_hashed(code), request)

    def get_code_challenge_method(self, code, request):
        return super().get_code_challenge_method(_hashed(code), request)

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        return super().get_authorization_code_scopes(
            client_id, _hashed(code), redirect_uri, request
        )

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        return super().get_authorization_code_nonce(client_id, _hashed(code), redirect_uri, request)

    # Tokens belong to the connection they were issued under.
    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(
            expires, request, token, source_refresh_token=source_refresh_token
        )
        connection = getattr(request, "carnet_connection", None)
        if connection is not None:
            access_token.connection = connection
            access_token.save(update_fields=["connection"])
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous):
        refresh_token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous
        )
        connection = getattr(request, "carnet_connection", None)
        if connection is not None:
            refresh_token.connection = connection
            refresh_token.save(update_fields=["connection"])
        return refresh_token

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        refresh = request.refresh_token_instance
        connection = refresh.connection
        if connection is not None and not connection_usable(connection, refresh.user):
            return False
        request.carnet_connection = connection
        return True

    def validate_bearer_token(self, token, scopes, request):
        if not super().validate_bearer_token(token, scopes, request):
            return False
        token = request.access_token
        connection = token.connection
        if connection is not None and not connection_usable(connection, token.user):
            return False
        request.carnet_connection = connection
        return True

    # OpenID Connect: the subject is the account's public id, never a row number.
    def get_additional_claims(self, request):
        claims = {"sub": str(request.user.public_id)}
        connection = getattr(request, "carnet_connection", None)
        if connection is not None and "fhirUser" in request.scopes:
            claims["fhirUser"] = f"Patient/{connection.space.public_id}"
        return claims


def _launch_context(token, token_handler, request):
    """SMART: the token response names the profile the person chose (`launch/patient`)."""
    connection = getattr(request, "carnet_connection", None)
    if connection is not None and "launch/patient" in (request.scopes or []):
        token["patient"] = str(connection.space.public_id)
    return token


class Server(OpenIDServer):
    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        s256_only = {"S256": code_challenge_method_s256}
        for grant in (self.auth_grant, self.openid_connect_auth.proxy_target):
            grant._code_challenge_methods = s256_only  # RFC 9700: never "plain"
            grant.register_token_modifier(_launch_context)
        self.refresh_grant.register_token_modifier(_launch_context)
