"""Passkeys (WebAuthn): register one in settings, log in with it alone, remove it.

The ceremonies are py_webauthn's (ADR 0022): it checks the challenge, the origin, the relying
party, user presence and verification, the signature and the signature counter. What is ours:
challenges kept in the session, single-use and short-lived; which account a credential logs
into; the trail and the notices.
"""

import base64
import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from carnet.core import clock, ratelimit

from .models import Passkey, User
from .services import activity_record, notify

CHALLENGE_KEY = "passkey_challenge"
# Anything the browser may send that py_webauthn cannot read or refuses: its own exceptions,
# and the plain ones its parsers let through on malformed data (a key that is not a COSE map).
_REFUSED = (WebAuthnException, ValueError, LookupError, TypeError)


class PasskeyError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _limits():
    return settings.CARNET


def _challenge_issue(session: SessionBase, purpose: str, challenge: bytes) -> None:
    session[CHALLENGE_KEY] = {
        "purpose": purpose,
        "value": base64.urlsafe_b64encode(challenge).decode(),
        "at": clock.now().isoformat(),
    }


def _challenge_take(session: SessionBase, purpose: str) -> bytes:
    """The challenge issued to this session for `purpose`, removed at once (single use)."""
    issued = session.pop(CHALLENGE_KEY, None)
    if not issued or issued.get("purpose") != purpose:
        raise PasskeyError("La demande a expiré ou a déjà servi : recommencez.")
    age = clock.now() - datetime.fromisoformat(issued["at"])
    if age > _limits()["PASSKEY_CHALLENGE_VALIDITY"]:
        raise PasskeyError("La demande a expiré : recommencez.")
    return base64.urlsafe_b64decode(issued["value"])


def _too_many() -> str:
    return (
        f"Vous avez déjà {_limits()['PASSKEYS_MAX_PER_ACCOUNT']} clés d'accès : "
        "supprimez-en une avant d'en ajouter une autre."
    )


def _user_handle(user: User) -> bytes:
    # The public id: random, stable, and says nothing about the person.
    return user.public_id.bytes


# --- Registration (settings) ----------------------------------------------------------------


def registration_options(*, session: SessionBase, user: User) -> str:
    """The options for navigator.credentials.create(), as JSON; the challenge is kept."""
    if user.passkeys.count() >= _limits()["PASSKEYS_MAX_PER_ACCOUNT"]:
        raise PasskeyError(_too_many())
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_id=_user_handle(user),
        user_name=user.identifier,
        challenge=secrets.token_bytes(32),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=bytes(key.credential_id))
            for key in user.passkeys.all()
        ],
    )
    _challenge_issue(session, "register", options.challenge)
    return options_to_json(options)


def passkey_register(
    *, session: SessionBase, user: User, name: str, credential: str, client: str
) -> Passkey:
    """Verify the authenticator's answer and keep the new passkey."""
    challenge = _challenge_take(session, "register")
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=settings.WEBAUTHN_ORIGINS,
            require_user_verification=True,
        )
    except _REFUSED as exc:
        raise PasskeyError(
            "La clé d'accès n'a pas pu être enregistrée. Vérifiez que vous êtes bien sur le "
            "site du service, puis recommencez."
        ) from exc
    if Passkey.objects.filter(credential_id=verified.credential_id).exists():
        raise PasskeyError("Cette clé d'accès est déjà enregistrée.")
    with transaction.atomic():
        # Counted again under the account's lock: two tabs could each have had options.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if user.passkeys.count() >= _limits()["PASSKEYS_MAX_PER_ACCOUNT"]:
            raise PasskeyError(_too_many())
        passkey = Passkey.objects.create(
            user=user,
            name=name,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            aaguid=str(verified.aaguid),
            backed_up=verified.credential_backed_up,
            created_at=clock.now(),
        )
        # The passkey's id, not its name: the person's free text stays out of the trail.
        activity_record(user, "cle_acces_ajoutee", client=client, cle=str(passkey.public_id))
    _notice(user, "cle_acces_ajoutee")
    return passkey


def passkey_delete(*, user: User, public_id, client: str) -> bool:
    passkey = Passkey.objects.filter(user=user, public_id=public_id).first()
    if passkey is None:
        return False
    with transaction.atomic():
        passkey.delete()
        activity_record(user, "cle_acces_supprimee", client=client, cle=str(public_id))
    _notice(user, "cle_acces_supprimee")
    return True


def _notice(user: User, event: str) -> None:
    added = event == "cle_acces_ajoutee"
    what = "ajoutée à" if added else "supprimée de"
    notify(
        user,
        event,
        kind=event,
        sms_text=f"Carnet : une clé d'accès a été {what} votre compte. Si vous n'êtes pas à "
        "l'origine de ce changement, contactez l'assistance.",
        url=settings.SERVICE_URL,
    )


# --- Login with a passkey alone -------------------------------------------------------------


def authentication_options(*, session: SessionBase) -> str:
    """Options for navigator.credentials.get(): no account named, the authenticator offers
    the passkeys it holds for this site (discoverable credentials)."""
    options = generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        challenge=secrets.token_bytes(32),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _challenge_issue(session, "login", options.challenge)
    return options_to_json(options)


REFUSED_LOGIN = "Connexion avec la clé d'accès refusée. Recommencez ou identifiez-vous autrement."


def _client_key(client: str) -> str:
    return f"passkey-login:client:{client}"


def _genuine(verify) -> bool:
    try:
        verify(0)
    except _REFUSED:
        return False
    return True


def passkey_authenticate(*, session: SessionBase, credential: str, kind: str, client: str) -> User:
    """The account the passkey logs into; PasskeyError (in French) otherwise. Refusals are
    counted per client address, as wrong passwords are."""
    limits = _limits()
    if ratelimit.blocked_until(_client_key(client)):
        minutes = int(limits["LOGIN_LOCKOUT"].total_seconds() // 60)
        raise PasskeyError(
            f"Trop de tentatives infructueuses. Par sécurité, réessayez dans {minutes} minutes."
        )
    try:
        user = _authenticate(session, credential, kind, client)
    except PasskeyError:
        ratelimit.record_failure(
            _client_key(client),
            limit=limits["LOGIN_MAX_FAILURES_PER_CLIENT"],
            window=limits["LOGIN_FAILURE_WINDOW"],
            lockout=limits["LOGIN_LOCKOUT"],
        )
        raise
    return user


def _authenticate(session: SessionBase, credential: str, kind: str, client: str) -> User:
    challenge = _challenge_take(session, "login")
    if len(credential) > _limits()["PASSKEY_CREDENTIAL_MAX_CHARS"]:
        raise PasskeyError(REFUSED_LOGIN)
    try:
        parsed = parse_authentication_credential_json(credential)
    except _REFUSED as exc:
        raise PasskeyError(REFUSED_LOGIN) from exc
    passkey = Passkey.objects.select_related("user").filter(credential_id=parsed.raw_id).first()
    if passkey is None:
        raise PasskeyError(
            "Cette clé d'accès n'est pas (ou plus) enregistrée sur votre compte. "
            "Identifiez-vous avec votre identifiant et votre mot de passe."
        )
    user = passkey.user
    handle = parsed.response.user_handle
    if not user.is_active or user.kind != kind or (handle and handle != _user_handle(user)):
        raise PasskeyError(REFUSED_LOGIN)

    def verify(current_count: int):
        return verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=settings.WEBAUTHN_ORIGINS,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=current_count,
            require_user_verification=True,
        )

    try:
        verified = verify(passkey.sign_count)
    except InvalidAuthenticationResponse as exc:
        # py_webauthn checks the counter before the signature: only a genuine signature with
        # a counter that went back is the spec's sign of a cloned authenticator.
        if "sign count" in str(exc) and _genuine(verify):
            activity_record(
                user, "cle_acces_clone_suspecte", client=client, cle=str(passkey.public_id)
            )
        raise PasskeyError(REFUSED_LOGIN) from exc
    except _REFUSED as exc:
        raise PasskeyError(REFUSED_LOGIN) from exc
    Passkey.objects.filter(pk=passkey.pk).update(
        sign_count=verified.new_sign_count,
        backed_up=verified.credential_backed_up,
        last_used_at=clock.now(),
    )
    return user
