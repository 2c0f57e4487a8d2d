"""Passkeys through HTTP (Django test client): what the browser tests (tests/e2e/test_passkeys.py,
Chromium's virtual authenticator) do not reach. Re-authentication before managing passkeys, the
registration options, the add form's refusals, single-use and short-lived challenges, the limit
per account, deletion, and the login endpoints' refusals."""

import base64
import hashlib
import json
import secrets
import struct
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings as django_settings
from django.test import Client

from carnet.accounts.models import Passkey, SessionRecord, User
from carnet.audit.models import Event
from carnet.core import clock
from carnet.notifications.models import OutboxMessage

from .helpers import is_logged_in, page, reauthenticate

pytestmark = pytest.mark.django_db

PASSKEYS = "/parametres/cles-d-acces/"
OPTIONS = "/parametres/cles-d-acces/options/"
REAUTH = "/parametres/confirmer-mon-identite/"
LOGIN = "/connexion/"
LOGIN_PASSKEY = "/connexion/cle-d-acces/"
LOGIN_OPTIONS = "/connexion/cle-d-acces/options/"

NO_CREDENTIAL = "La clé d'accès n'a pas été créée : votre navigateur doit la proposer"
NOT_REGISTERED = "La clé d'accès n'a pas pu être enregistrée"
USED = "La demande a expiré ou a déjà servi"
EXPIRED = "La demande a expiré : recommencez."
REFUSED_LOGIN = "Connexion avec la clé d'accès refusée"
UNKNOWN_PASSKEY = "n'est pas (ou plus) enregistrée"
DELETED_SUBJECT = "Une clé d'accès a été supprimée de votre compte"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def passkey_of(user, name: str = "Mon téléphone", credential_id: bytes | None = None) -> Passkey:
    """A passkey row written directly (arbitrary bytes: never verified by these tests)."""
    return Passkey.objects.create(
        user=user,
        name=name,
        credential_id=credential_id or secrets.token_bytes(16),
        public_key=secrets.token_bytes(77),
        created_at=clock.now(),
    )


def fake_assertion(raw_id: bytes) -> str:
    """An authentication answer with the right shape and meaningless content."""
    client_data = {
        "type": "webauthn.get",
        "challenge": b64url(secrets.token_bytes(32)),
        "origin": django_settings.WEBAUTHN_ORIGINS[0],
    }
    return json.dumps(
        {
            "id": b64url(raw_id),
            "rawId": b64url(raw_id),
            "response": {
                "clientDataJSON": b64url(json.dumps(client_data).encode()),
                "authenticatorData": b64url(secrets.token_bytes(37)),
                "signature": b64url(secrets.token_bytes(70)),
            },
            "type": "public-key",
            "clientExtensionResults": {},
        }
    )


def cbor(value) -> bytes:
    """The little CBOR a software authenticator needs: small ints, bytes, text, maps."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        if length < 256:
            return bytes([major << 5 | 24, length])
        return bytes([major << 5 | 25]) + struct.pack(">H", length)

    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        return head(3, len(value.encode())) + value.encode()
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(value)


class SoftwareAuthenticator:
    """One P-256 passkey held in memory: answers create() and get() as a browser would."""

    def __init__(self, credential_id: bytes | None = None, cose_key: bytes | None = None):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private_key.public_key().public_numbers()
        self.cose_key = cose_key or cbor(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32), -3: numbers.y.to_bytes(32)}
        )
        self.credential_id = credential_id or secrets.token_bytes(16)
        self.counter = 0

    def _client_data(self, kind: str, challenge: str) -> bytes:
        origin = django_settings.WEBAUTHN_ORIGINS[0]
        data = {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        return json.dumps(data).encode()

    def _rp_id_hash(self) -> bytes:
        return hashlib.sha256(django_settings.WEBAUTHN_RP_ID.encode()).digest()

    def create(self, options: dict) -> str:
        client_data = self._client_data("webauthn.create", options["challenge"])
        auth_data = (
            self._rp_id_hash()
            + bytes([0x45])  # user present, user verified, attested credential data
            + struct.pack(">I", self.counter)
            + bytes(16)  # AAGUID
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self.cose_key
        )
        attestation = cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["internal"],
                },
                "type": "public-key",
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )

    def get(self, options: dict, user_handle: bytes) -> str:
        self.counter += 1
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = self._rp_id_hash() + bytes([0x05]) + struct.pack(">I", self.counter)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(user_handle),
                },
                "type": "public-key",
                "clientExtensionResults": {},
            }
        )

    def passkey_for(self, user) -> Passkey:
        """Its passkey written directly on `user`'s account."""
        return Passkey.objects.create(
            user=user,
            name="Clé logicielle",
            credential_id=self.credential_id,
            public_key=self.cose_key,
            created_at=clock.now(),
        )


def form_errors(response) -> str:
    assert response.status_code == 200, response.status_code
    return page(response)


@pytest.fixture
def reauthenticated(logged_in):
    """(client, user): the holder, logged in, who just confirmed their identity."""
    client, user = logged_in
    reauthenticate(client, user)
    return client, user


@pytest.fixture
def with_challenge(reauthenticated):
    """(client, user): a registration challenge has just been issued to the session."""
    client, user = reauthenticated
    assert client.post(OPTIONS).status_code == 200
    return client, user


# --- Re-authentication first ----------------------------------------------------------------


def test_the_passkeys_page_sends_to_reauthentication_then_comes_back(logged_in):
    client, user = logged_in
    response = client.get(PASSKEYS)
    assert response.status_code == 302
    assert response["Location"] == REAUTH
    response = reauthenticate(client, user)
    assert response.status_code == 302
    assert response["Location"] == PASSKEYS
    response = client.get(PASSKEYS)
    assert response.status_code == 200
    assert "Mes clés d'accès" in page(response)


def test_the_registration_options_need_a_fresh_reauthentication(logged_in):
    client, _ = logged_in
    response = client.post(OPTIONS)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "Confirmez d'abord votre identité."
    assert "passkey_challenge" not in client.session


# --- Registration options -------------------------------------------------------------------


def test_registration_options_ask_a_discoverable_verified_key_for_this_service(reauthenticated):
    client, user = reauthenticated
    response = client.post(OPTIONS)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    options = response.json()
    assert options["rp"]["id"] == django_settings.WEBAUTHN_RP_ID
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["user"]["name"] == user.identifier
    assert len(unb64url(options["challenge"])) >= 32
    assert options.get("excludeCredentials", []) == []


def test_the_user_handle_is_the_public_id_not_the_identifier_or_email(reauthenticated):
    client, user = reauthenticated
    handle = unb64url(client.post(OPTIONS).json()["user"]["id"])
    assert handle == user.public_id.bytes
    assert user.identifier.encode() not in handle
    assert user.email.encode() not in handle
    assert handle not in (user.identifier.encode(), user.email.encode(), str(user.pk).encode())


def test_each_options_request_gets_a_new_challenge(reauthenticated):
    client, _ = reauthenticated
    first = client.post(OPTIONS).json()["challenge"]
    second = client.post(OPTIONS).json()["challenge"]
    assert first != second


def test_registration_options_exclude_the_passkeys_already_registered(reauthenticated, bob):
    client, user = reauthenticated
    phone = passkey_of(user, "Téléphone", b"\x01" * 16)
    laptop = passkey_of(user, "Ordinateur", b"\x02" * 20)
    passkey_of(bob, "Chez Bob", b"\x03" * 16)  # another account's: not listed
    options = client.post(OPTIONS).json()
    excluded = {unb64url(c["id"]) for c in options["excludeCredentials"]}
    assert excluded == {bytes(phone.credential_id), bytes(laptop.credential_id)}
    assert {c["type"] for c in options["excludeCredentials"]} == {"public-key"}


def test_registration_options_refused_at_the_limit_per_account(reauthenticated, settings):
    client, user = reauthenticated
    settings.CARNET = {**settings.CARNET, "PASSKEYS_MAX_PER_ACCOUNT": 2}
    passkey_of(user, "Un")
    assert client.post(OPTIONS).status_code == 200  # one of two: still allowed
    passkey_of(user, "Deux")
    response = client.post(OPTIONS)
    assert response.status_code == 400
    assert response.json()["error"] == (
        "Vous avez déjà 2 clés d'accès : supprimez-en une avant d'en ajouter une autre."
    )


def test_registration_options_refuse_get(reauthenticated):
    client, _ = reauthenticated
    assert client.get(OPTIONS).status_code == 405


# --- The add form ---------------------------------------------------------------------------


def test_adding_without_a_credential_javascript_off_is_explained(reauthenticated):
    client, _ = reauthenticated
    text = form_errors(client.post(PASSKEYS, {"name": "Mon téléphone", "credential": ""}))
    assert NO_CREDENTIAL in text
    assert Passkey.objects.count() == 0


def test_adding_needs_a_name(with_challenge):
    client, _ = with_challenge
    text = form_errors(client.post(PASSKEYS, {"name": "   ", "credential": "{}"}))
    assert "Donnez un nom à la clé d'accès" in text
    assert Passkey.objects.count() == 0


def test_adding_refuses_a_name_longer_than_60_characters(with_challenge):
    client, _ = with_challenge
    text = form_errors(client.post(PASSKEYS, {"name": "x" * 61, "credential": "{}"}))
    assert "Le nom ne doit pas dépasser 60 caractères." in text
    assert Passkey.objects.count() == 0


def test_adding_refuses_a_garbage_credential(with_challenge):
    client, user = with_challenge
    response = client.post(PASSKEYS, {"name": "Mon téléphone", "credential": "pas du JSON"})
    assert NOT_REGISTERED in form_errors(response)
    assert Passkey.objects.count() == 0
    assert not Event.objects.filter(action="cle_acces_ajoutee").exists()
    assert not OutboxMessage.objects.filter(to=user.email, kind="cle_acces_ajoutee").exists()


def test_adding_refuses_a_well_formed_but_fake_registration(with_challenge):
    client, _ = with_challenge
    credential = json.dumps(
        {
            "id": b64url(b"\x05" * 16),
            "rawId": b64url(b"\x05" * 16),
            "response": {
                "clientDataJSON": b64url(b'{"type":"webauthn.create"}'),
                "attestationObject": b64url(secrets.token_bytes(64)),
            },
            "type": "public-key",
        }
    )
    response = client.post(PASSKEYS, {"name": "Mon téléphone", "credential": credential})
    assert NOT_REGISTERED in form_errors(response)
    assert Passkey.objects.count() == 0


def test_a_registration_challenge_serves_only_once(with_challenge):
    client, _ = with_challenge
    data = {"name": "Mon téléphone", "credential": "pas du JSON"}
    assert NOT_REGISTERED in form_errors(client.post(PASSKEYS, data))
    text = form_errors(client.post(PASSKEYS, data))  # the same challenge again
    assert USED in text
    assert NOT_REGISTERED not in text
    assert Passkey.objects.count() == 0


def test_adding_without_any_challenge_issued_is_refused(reauthenticated):
    client, _ = reauthenticated
    text = form_errors(client.post(PASSKEYS, {"name": "Mon téléphone", "credential": "{}"}))
    assert USED in text
    assert Passkey.objects.count() == 0


def test_a_registration_challenge_expires(with_challenge):
    client, _ = with_challenge
    validity = django_settings.CARNET["PASSKEY_CHALLENGE_VALIDITY"]
    assert validity < django_settings.CARNET["REAUTH_VALIDITY"]  # re-authentication still fresh
    with clock.travel(validity + timedelta(seconds=1)):
        response = client.post(PASSKEYS, {"name": "Mon téléphone", "credential": "pas du JSON"})
    text = form_errors(response)
    assert EXPIRED in text
    assert NOT_REGISTERED not in text
    assert Passkey.objects.count() == 0


def test_a_login_challenge_does_not_serve_for_registration(reauthenticated):
    client, _ = reauthenticated
    assert client.post(LOGIN_OPTIONS).status_code == 200  # a "login" challenge in the session
    text = form_errors(client.post(PASSKEYS, {"name": "Mon téléphone", "credential": "{}"}))
    assert USED in text


def test_a_registered_credential_is_kept_and_cannot_be_registered_twice(reauthenticated):
    client, user = reauthenticated
    authenticator = SoftwareAuthenticator()
    credential = authenticator.create(client.post(OPTIONS).json())
    response = client.post(PASSKEYS, {"name": "  Clé   logicielle ", "credential": credential})
    assert response.status_code == 302
    assert response["Location"] == PASSKEYS
    passkey = Passkey.objects.get(user=user)
    assert passkey.name == "Clé logicielle"
    assert bytes(passkey.credential_id) == authenticator.credential_id
    assert bytes(passkey.public_key) == authenticator.cose_key

    options = client.post(OPTIONS).json()
    assert [unb64url(c["id"]) for c in options["excludeCredentials"]] == [
        authenticator.credential_id
    ]
    again = authenticator.create(options)  # an authenticator that ignores excludeCredentials
    text = form_errors(client.post(PASSKEYS, {"name": "Encore", "credential": again}))
    assert "Cette clé d'accès est déjà enregistrée." in text
    assert Passkey.objects.count() == 1


def test_a_credential_registered_on_another_account_is_refused(reauthenticated, bob):
    client, user = reauthenticated
    authenticator = SoftwareAuthenticator()
    bobs = authenticator.passkey_for(bob)
    credential = authenticator.create(client.post(OPTIONS).json())
    text = form_errors(client.post(PASSKEYS, {"name": "La clé de Bob", "credential": credential}))
    assert "Cette clé d'accès est déjà enregistrée." in text
    assert list(Passkey.objects.all()) == [bobs]
    assert not Event.objects.filter(action="cle_acces_ajoutee").exists()


@pytest.mark.parametrize(
    "cose_key",
    [cbor({1: 99, 3: -7}), cbor("x")],
    ids=["unsupported-key-type", "not-a-cose-map"],
)
def test_a_registration_with_an_unreadable_public_key_is_refused_not_a_crash(
    reauthenticated, cose_key
):
    """Challenge, origin, relying party and flags are right; the public key is not one."""
    client, _ = reauthenticated
    credential = SoftwareAuthenticator(cose_key=cose_key).create(client.post(OPTIONS).json())
    response = client.post(PASSKEYS, {"name": "Mon téléphone", "credential": credential})
    assert NOT_REGISTERED in form_errors(response)
    assert Passkey.objects.count() == 0


# --- Deletion -------------------------------------------------------------------------------


def test_deletion_asks_for_confirmation_naming_the_passkey(reauthenticated):
    client, user = reauthenticated
    passkey = passkey_of(user, "Ordinateur du bureau")
    response = client.get(f"{PASSKEYS}{passkey.public_id}/supprimer/")
    assert response.status_code == 200
    assert "Supprimer la clé d'accès « Ordinateur du bureau » ?" in page(response)
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_deletion_removes_the_passkey_records_it_and_notifies(reauthenticated):
    client, user = reauthenticated
    passkey = passkey_of(user, "Ordinateur du bureau")
    kept = passkey_of(user, "Téléphone")
    response = client.post(f"{PASSKEYS}{passkey.public_id}/supprimer/")
    assert response.status_code == 302
    assert response["Location"] == PASSKEYS
    assert list(Passkey.objects.filter(user=user)) == [kept]
    event = Event.objects.get(action="cle_acces_supprimee")
    assert event.object_id == str(user.public_id)
    # The passkey's id in the trail, never the name the person typed
    assert event.detail == {"cle": str(passkey.public_id)}
    notice = OutboxMessage.objects.get(kind="cle_acces_supprimee")
    assert notice.to == user.email
    assert notice.subject == DELETED_SUBJECT
    assert "La clé d'accès « Ordinateur du bureau » est supprimée." in page(client.get(PASSKEYS))


def test_another_accounts_passkey_cannot_be_deleted(reauthenticated, bob):
    client, _ = reauthenticated
    foreign = passkey_of(bob, "Chez Bob")
    url = f"{PASSKEYS}{foreign.public_id}/supprimer/"
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert Passkey.objects.filter(pk=foreign.pk).exists()
    assert not Event.objects.filter(action="cle_acces_supprimee").exists()
    assert not OutboxMessage.objects.filter(kind="cle_acces_supprimee").exists()


def test_deletion_without_a_fresh_reauthentication_deletes_nothing(logged_in):
    client, user = logged_in
    passkey = passkey_of(user)
    response = client.post(f"{PASSKEYS}{passkey.public_id}/supprimer/")
    assert response.status_code == 302
    assert response["Location"] == REAUTH
    assert Passkey.objects.filter(pk=passkey.pk).exists()
    assert not Event.objects.filter(action="cle_acces_supprimee").exists()


def test_deletion_after_the_reauthentication_expired_deletes_nothing(reauthenticated):
    client, user = reauthenticated
    passkey = passkey_of(user)
    with clock.travel(django_settings.CARNET["REAUTH_VALIDITY"] + timedelta(seconds=1)):
        response = client.post(f"{PASSKEYS}{passkey.public_id}/supprimer/")
    assert response["Location"] == REAUTH
    assert Passkey.objects.filter(pk=passkey.pk).exists()


# --- Login with a passkey -------------------------------------------------------------------


def refused_with(client, response, message: str) -> None:
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert message in page(client.get(LOGIN))
    assert "_auth_user_id" not in client.session
    assert not is_logged_in(client)


def test_login_without_a_challenge_is_refused(holder):
    client = Client()
    passkey_of(holder, credential_id=b"\x07" * 16)
    response = client.post(LOGIN_PASSKEY, {"credential": fake_assertion(b"\x07" * 16)})
    refused_with(client, response, USED)


def test_login_with_a_challenge_but_no_credential_is_refused(holder):
    client = Client()
    assert client.post(LOGIN_OPTIONS).status_code == 200
    refused_with(client, client.post(LOGIN_PASSKEY, {}), REFUSED_LOGIN)


def test_login_options_name_no_account_and_require_verification(holder):
    passkey_of(holder)
    client = Client()
    response = client.post(LOGIN_OPTIONS)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    options = response.json()
    assert options["userVerification"] == "required"
    assert not options.get("allowCredentials")
    assert options["rpId"] == django_settings.WEBAUTHN_RP_ID
    assert len(unb64url(options["challenge"])) >= 32


def test_login_with_a_garbage_credential_is_refused(holder):
    client = Client()
    assert client.post(LOGIN_OPTIONS).status_code == 200
    response = client.post(LOGIN_PASSKEY, {"credential": "pas du JSON"})
    refused_with(client, response, REFUSED_LOGIN)


def test_login_with_an_unknown_passkey_is_refused(holder):
    passkey_of(holder, credential_id=b"\x08" * 16)
    client = Client()
    assert client.post(LOGIN_OPTIONS).status_code == 200
    response = client.post(LOGIN_PASSKEY, {"credential": fake_assertion(b"\x09" * 16)})
    refused_with(client, response, UNKNOWN_PASSKEY)


def test_login_with_a_known_passkey_but_a_fake_signature_is_refused(holder):
    passkey = passkey_of(holder, credential_id=b"\x0a" * 16)
    client = Client()
    assert client.post(LOGIN_OPTIONS).status_code == 200
    response = client.post(LOGIN_PASSKEY, {"credential": fake_assertion(b"\x0a" * 16)})
    refused_with(client, response, REFUSED_LOGIN)
    passkey.refresh_from_db()
    assert passkey.last_used_at is None
    assert not Event.objects.filter(action="connexion", detail__moyen="cle_acces").exists()


def test_a_login_challenge_serves_only_once(holder):
    client = Client()
    assert client.post(LOGIN_OPTIONS).status_code == 200
    client.post(LOGIN_PASSKEY, {"credential": "pas du JSON"})
    response = client.post(LOGIN_PASSKEY, {"credential": "pas du JSON"})
    refused_with(client, response, USED)


def test_a_login_challenge_expires(holder):
    client = Client()
    assert client.post(LOGIN_OPTIONS).status_code == 200
    validity = django_settings.CARNET["PASSKEY_CHALLENGE_VALIDITY"]
    with clock.travel(validity + timedelta(seconds=1)):
        response = client.post(LOGIN_PASSKEY, {"credential": fake_assertion(b"\x0b" * 16)})
    refused_with(client, response, EXPIRED)


def test_login_options_refuse_get(db):
    response = Client().get(LOGIN_OPTIONS)
    assert response.status_code == 405
    assert Client().get(LOGIN_PASSKEY).status_code == 405


def test_login_options_need_the_csrf_token(db):
    client = Client(enforce_csrf_checks=True)
    assert client.post(LOGIN_OPTIONS).status_code == 403
    assert "passkey_challenge" not in client.session
    client.get(LOGIN)  # the login page sets the CSRF cookie
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    response = client.post(LOGIN_OPTIONS, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert "challenge" in response.json()


def test_login_with_a_passkey_needs_the_csrf_token(holder):
    client = Client(enforce_csrf_checks=True)
    response = client.post(LOGIN_PASSKEY, {"credential": fake_assertion(b"\x0c" * 16)})
    assert response.status_code == 403


def test_a_signed_answer_carrying_another_accounts_user_handle_is_refused(holder, bob):
    authenticator = SoftwareAuthenticator()
    authenticator.passkey_for(holder)
    client = Client()
    options = client.post(LOGIN_OPTIONS).json()
    answer = authenticator.get(options, user_handle=bob.public_id.bytes)
    refused_with(client, client.post(LOGIN_PASSKEY, {"credential": answer}), REFUSED_LOGIN)
    # The same authenticator with the account's own handle logs in: only the handle was wrong.
    options = client.post(LOGIN_OPTIONS).json()
    answer = authenticator.get(options, user_handle=holder.public_id.bytes)
    response = client.post(LOGIN_PASSKEY, {"credential": answer})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(holder.pk)


def test_a_professionals_passkey_does_not_open_the_patient_portal(professional):
    authenticator = SoftwareAuthenticator()
    passkey = authenticator.passkey_for(professional)
    client = Client()
    options = client.post(LOGIN_OPTIONS).json()
    answer = authenticator.get(options, user_handle=professional.public_id.bytes)
    refused_with(client, client.post(LOGIN_PASSKEY, {"credential": answer}), REFUSED_LOGIN)
    passkey.refresh_from_db()
    assert passkey.last_used_at is None


def test_the_passkey_of_a_deactivated_account_logs_nobody_in(holder):
    authenticator = SoftwareAuthenticator()
    authenticator.passkey_for(holder)
    User.objects.filter(pk=holder.pk).update(is_active=False)
    client = Client()
    options = client.post(LOGIN_OPTIONS).json()
    answer = authenticator.get(options, user_handle=holder.public_id.bytes)
    refused_with(client, client.post(LOGIN_PASSKEY, {"credential": answer}), REFUSED_LOGIN)


def test_an_answer_signed_by_another_key_is_refused(holder):
    genuine = SoftwareAuthenticator()
    passkey = genuine.passkey_for(holder)
    impostor = SoftwareAuthenticator(credential_id=genuine.credential_id)
    client = Client()
    options = client.post(LOGIN_OPTIONS).json()
    answer = impostor.get(options, user_handle=holder.public_id.bytes)
    refused_with(client, client.post(LOGIN_PASSKEY, {"credential": answer}), REFUSED_LOGIN)
    passkey.refresh_from_db()
    assert passkey.sign_count == 0
    assert passkey.last_used_at is None


def test_a_passkey_session_follows_the_session_rules(holder):
    """Rotation of the session key, a listed device, the twelve hours, and the logout."""
    authenticator = SoftwareAuthenticator()
    authenticator.passkey_for(holder)
    client = Client()
    options = client.post(LOGIN_OPTIONS).json()
    anonymous_key = client.session.session_key
    answer = authenticator.get(options, user_handle=holder.public_id.bytes)
    assert client.post(LOGIN_PASSKEY, {"credential": answer}).status_code == 302
    key = client.session.session_key
    assert key != anonymous_key
    record = SessionRecord.objects.get(session_key=key, user=holder)
    lifetime = django_settings.CARNET["SESSION_ABSOLUTE_LIFETIME"]
    with clock.travel(lifetime - timedelta(minutes=1)):
        assert is_logged_in(client)
    with clock.travel(lifetime + timedelta(seconds=1)):
        assert not is_logged_in(client)
    record.refresh_from_db()
    assert record.ended_at is not None

    options = client.post(LOGIN_OPTIONS).json()
    answer = authenticator.get(options, user_handle=holder.public_id.bytes)
    client.post(LOGIN_PASSKEY, {"credential": answer})
    assert is_logged_in(client)
    client.post("/deconnexion/")
    assert not is_logged_in(client)


def test_the_limit_holds_even_when_options_were_fetched_before_it_was_reached(
    reauthenticated, settings
):
    settings.CARNET = {**settings.CARNET, "PASSKEYS_MAX_PER_ACCOUNT": 1}
    client, user = reauthenticated
    options = client.post(OPTIONS).json()  # fetched at 0 of 1
    passkey_of(user, "Ajoutée dans un autre onglet")  # the limit is reached meanwhile
    answer = SoftwareAuthenticator().create(options)
    response = client.post(PASSKEYS, {"name": "Une de trop", "credential": answer})
    assert response.status_code == 200
    assert "Vous avez déjà 1 clés d'accès" in page(response)
    assert Passkey.objects.filter(user=user).count() == 1


def test_a_low_counter_with_a_forged_signature_writes_no_clone_alert(holder):
    genuine = SoftwareAuthenticator()
    passkey = genuine.passkey_for(holder)
    Passkey.objects.filter(pk=passkey.pk).update(sign_count=50)
    impostor = SoftwareAuthenticator(credential_id=genuine.credential_id)  # another key
    client = Client()
    options = client.post(LOGIN_OPTIONS).json()
    answer = impostor.get(options, user_handle=holder.public_id.bytes)  # counter 1 < 50
    refused_with(client, client.post(LOGIN_PASSKEY, {"credential": answer}), REFUSED_LOGIN)
    assert not Event.objects.filter(action="cle_acces_clone_suspecte").exists()
    # The genuine key with a counter that went back: that one is the sign of a copy.
    options = client.post(LOGIN_OPTIONS).json()
    answer = genuine.get(options, user_handle=holder.public_id.bytes)
    refused_with(client, client.post(LOGIN_PASSKEY, {"credential": answer}), REFUSED_LOGIN)
    assert Event.objects.filter(action="cle_acces_clone_suspecte").count() == 1


def test_refused_passkey_logins_are_limited_per_client(holder, settings):
    settings.CARNET = {**settings.CARNET, "LOGIN_MAX_FAILURES_PER_CLIENT": 3}
    authenticator = SoftwareAuthenticator()
    authenticator.passkey_for(holder)
    client = Client()
    for _ in range(3):
        client.post(LOGIN_OPTIONS)
        client.post(LOGIN_PASSKEY, {"credential": fake_assertion(secrets.token_bytes(16))})
    # Locked now: even a genuine answer waits.
    options = client.post(LOGIN_OPTIONS).json()
    answer = authenticator.get(options, user_handle=holder.public_id.bytes)
    refused_with(client, client.post(LOGIN_PASSKEY, {"credential": answer}), "Trop de tentatives")


def test_an_oversized_login_answer_is_refused_before_it_is_read(holder, settings):
    client = Client()
    client.post(LOGIN_OPTIONS)
    huge = "x" * (settings.CARNET["PASSKEY_CREDENTIAL_MAX_CHARS"] + 1)
    refused_with(client, client.post(LOGIN_PASSKEY, {"credential": huge}), REFUSED_LOGIN)
