"""OAuth 2.0 / SMART on FHIR: the authorization code with PKCE S256 only, tokens kept as
checksums, the consent bound to one profile, revocation and suspension effective at once, and
scopes enforced on every FHIR call."""

import hashlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client

from carnet.audit.models import Event
from carnet.catalogue.models import AccessToken, App, Connection, Grant, RefreshToken
from carnet.core import clock
from tests.documents.test_access import add_document
from tests.enrollment.helpers import space_of
from tests.family.test_children import attach

from .conftest import (
    REDIRECT,
    authorize,
    connect,
    consent_page,
    exchange,
    fhir,
    pkce,
    register,
)

SCOPE = (
    "launch/patient openid fhirUser offline_access patient/Patient.rs patient/DocumentReference.rs"
)


def test_the_whole_flow_gives_a_token_for_the_persons_profile(alice_client, alice, app):
    doc = add_document(alice, "Compte rendu.pdf")
    page = consent_page(alice_client, app, SCOPE, challenge=pkce()[1]).content.decode()
    assert "Connecter Suivi Tension au profil de Alice" in page
    assert "Lire et rechercher vos documents de santé" in page
    token = connect(alice_client, app, SCOPE)
    space = space_of(alice.person)
    assert token["patient"] == str(space.public_id)
    assert token["token_type"] == "Bearer" and token["refresh_token"] and token["id_token"]
    assert set(token["scope"].split()) == set(SCOPE.split())

    patient = fhir(token["access_token"], f"Patient/{space.public_id}")
    assert patient.status_code == 200
    assert patient["Content-Type"].startswith("application/fhir+json")
    assert patient.json()["resourceType"] == "Patient"

    found = fhir(token["access_token"], "DocumentReference", patient=str(space.public_id)).json()
    assert found["resourceType"] == "Bundle" and found["total"] == 1
    [entry] = found["entry"]
    assert entry["resource"]["id"] == str(doc.public_id)
    binary = fhir(token["access_token"], f"Binary/{doc.public_id}")
    assert binary.status_code == 200
    from carnet.core.blobs import blob_read

    assert b"".join(binary.streaming_content) == blob_read(doc.blob)

    connection = Connection.objects.get(space=space, app=app)
    assert connection.last_access_at is not None
    calls = Event.objects.filter(space_id=space.public_id, actor=f"application:{app.public_id}")
    assert {e.action for e in calls} >= {"application_lecture", "application_recherche"}
    history = alice_client.get("/historique/", {"onglet": "services"})
    rows = history.context["rows"]
    assert rows and {row.who for row in rows} == {"Suivi Tension"}
    assert {row.channel for row in rows} == {"API (service connecté)"}
    assert "Lecture par un service connecté" in {row.label for row in rows}


def test_codes_and_tokens_are_never_stored_in_clear(alice_client, app):
    authorized = authorize(alice_client, app, SCOPE)
    [grant] = Grant.objects.all()
    assert grant.code != authorized.code and authorized.code not in grant.code
    token = exchange(app, authorized).json()
    for row in [*AccessToken.objects.all(), *RefreshToken.objects.all()]:
        assert row.token == ""
        assert row.token_checksum in (
            hashlib.sha256(token["access_token"].encode()).hexdigest(),
            hashlib.sha256(token["refresh_token"].encode()).hexdigest(),
        )
    assert not Grant.objects.exists()  # the code is used once


def test_a_code_is_used_once(alice_client, app):
    authorized = authorize(alice_client, app, SCOPE)
    assert exchange(app, authorized).status_code == 200
    again = exchange(app, authorized)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_wrong_verifier_is_refused(alice_client, app):
    authorized = authorize(alice_client, app, SCOPE)
    refused = exchange(app, authorized, code_verifier=pkce()[0])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("method", ["plain", ""])
def test_pkce_other_than_s256_is_refused(alice_client, app, method):
    verifier, challenge = pkce()
    page = consent_page(alice_client, app, SCOPE, challenge=verifier, method=method)
    assert page.status_code == 400
    assert "PKCE" in page.content.decode()
    assert not Connection.objects.exists()


def test_an_app_never_gets_more_than_its_catalogue_entry(alice_client, app):
    verifier, challenge = pkce()
    page = consent_page(alice_client, app, "patient/Condition.rs", challenge=challenge)
    # Outside what the entry allows: back to the app with invalid_scope, nothing granted.
    assert page.status_code == 302 and "error=invalid_scope" in page["Location"]
    assert not Connection.objects.exists()


def test_refusing_gives_nothing(alice_client, app):
    answer = authorize(alice_client, app, SCOPE, allow=False)
    assert answer["error"] == "access_denied"
    assert not Connection.objects.exists() and not Grant.objects.exists()


def test_scopes_are_enforced_on_every_call(alice_client, alice, operator):
    measures = register(operator, scopes="launch/patient patient/Observation.rs", name="Mesures")
    token = connect(alice_client, measures, "launch/patient patient/Observation.rs")
    assert fhir(token["access_token"], "Observation").status_code == 200
    denied = fhir(token["access_token"], "DocumentReference")
    assert denied.status_code == 403
    assert denied.json()["resourceType"] == "OperationOutcome"
    assert "ne permet pas" in denied.json()["issue"][0]["diagnostics"]
    space = space_of(alice.person)
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 403


def test_desynchroniser_revokes_at_once(alice_client, alice, app):
    token = connect(alice_client, app, SCOPE)
    space = space_of(alice.person)
    listing = alice_client.get("/parametres/services-connectes/").content.decode()
    assert "Suivi Tension" in listing and "Lire et rechercher vos documents" in listing
    connection = Connection.objects.get(space=space)
    page = f"/parametres/services-connectes/{connection.public_id}/desynchroniser/"
    assert alice_client.get(page).status_code == 200
    alice_client.post(page)
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 401
    refreshed = Client().post(
        "/oauth/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app.client_id,
        },
    )
    assert refreshed.status_code == 400
    assert Event.objects.filter(space_id=space.public_id, action="service_deconnecte").exists()
    after = alice_client.get("/parametres/services-connectes/").content.decode()
    assert "Désynchroniser Suivi Tension" not in after and "Aucun service n'est connecté" in after


def test_refresh_keeps_the_profile_and_rotates(alice_client, alice, app):
    token = connect(alice_client, app, SCOPE)
    refreshed = Client().post(
        "/oauth/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app.client_id,
        },
    )
    assert refreshed.status_code == 200, refreshed.content
    new = refreshed.json()
    assert new["patient"] == token["patient"]
    assert new["refresh_token"] != token["refresh_token"]
    space = space_of(alice.person)
    assert fhir(new["access_token"], f"Patient/{space.public_id}").status_code == 200


def test_a_suspended_app_loses_access_at_once(alice_client, alice, app, operator):
    token = connect(alice_client, app, SCOPE)
    space = space_of(alice.person)
    call_command("catalogue_status", app.client_id, "suspendue", operateur=operator.identifier)
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 401
    call_command("catalogue_status", app.client_id, "en_ligne", operateur=operator.identifier)
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 200
    call_command("catalogue_status", app.client_id, "dereferencee", operateur=operator.identifier)
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 401
    assert Connection.objects.get(space=space).revoked_reason == "dereferencement"


def test_an_expired_consent_ends_access(alice_client, alice, app):
    token = connect(alice_client, app, SCOPE)
    Connection.objects.update(expires_at=clock.now())
    space = space_of(alice.person)
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 401


def test_an_offline_app_is_not_offered_but_keeps_its_connections(
    alice_client, alice, app, operator
):
    token = connect(alice_client, app, SCOPE)
    call_command("catalogue_status", app.client_id, "hors_ligne", operateur=operator.identifier)
    assert "Suivi Tension" not in alice_client.get("/catalogue/").content.decode()
    page = consent_page(alice_client, app, SCOPE, challenge=pkce()[1])
    assert page.status_code == 400
    space = space_of(alice.person)
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 200


def test_a_token_for_one_profile_reads_nothing_of_another(alice_client, alice, bob, app):
    token = connect(alice_client, app, SCOPE)
    add_document(bob, "Ordonnance de Bob.pdf")
    bob_space = space_of(bob.person)
    assert fhir(token["access_token"], f"Patient/{bob_space.public_id}").status_code == 404
    found = fhir(token["access_token"], "DocumentReference", patient=str(bob_space.public_id))
    assert found.json()["total"] == 0


def test_a_parent_connects_an_app_for_a_child(alice_client, alice, child, app):
    attach(alice_client, child)
    child_space = space_of(child.person)
    alice_client.post("/profils/choisir/", {"profil": str(child_space.public_id)})
    page = consent_page(alice_client, app, SCOPE, challenge=pkce()[1]).content.decode()
    assert "au profil de Léa" in page
    token = connect(alice_client, app, SCOPE)
    assert token["patient"] == str(child_space.public_id)
    connection = Connection.objects.get(app=app)
    assert connection.space == child_space and connection.granted_by == alice


def test_a_caregiver_cannot_connect_an_app(client, alice, bob, app):
    from carnet.family.services import caregiver_add

    space = space_of(alice.person)
    caregiver_add(user=alice, space=space, nir=bob.person.nir)
    client.force_login(bob)
    client.post("/profils/choisir/", {"profil": str(space.public_id)})
    page = consent_page(client, app, SCOPE, challenge=pkce()[1])
    assert "Seul le titulaire du profil" in page.content.decode()
    assert not Connection.objects.exists()


def test_bearer_token_only_in_the_header(alice_client, alice, app):
    token = connect(alice_client, app, SCOPE)
    space = space_of(alice.person)
    response = Client().get(
        f"/fhir/Patient/{space.public_id}", {"access_token": token["access_token"]}
    )
    assert response.status_code == 401


def test_no_token_no_data(alice):
    space = space_of(alice.person)
    response = Client().get(f"/fhir/Patient/{space.public_id}")
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_discovery_documents(db):
    smart = Client().get("/.well-known/smart-configuration").json()
    assert smart["code_challenge_methods_supported"] == ["S256"]
    assert "permission-v2" in smart["capabilities"]
    assert Client().get("/fhir/.well-known/smart-configuration").json() == smart
    oidc = Client().get("/oauth/.well-known/openid-configuration")
    assert oidc.status_code == 200 and oidc.json()["jwks_uri"]
    metadata = Client().get("/fhir/metadata")
    assert metadata.status_code == 200
    body = metadata.json()
    assert body["resourceType"] == "CapabilityStatement"
    types = {r["type"] for r in body["rest"][0]["resource"]}
    assert {"Patient", "DocumentReference", "Binary", "Observation"} <= types


def test_the_catalogue_lists_and_searches_online_apps(alice_client, app, operator):
    register(
        operator, scopes="patient/Appointment.rs", name="Agenda Santé", status=App.Status.SUSPENDED
    )
    listing = alice_client.get("/catalogue/").content.decode()
    assert "Suivi Tension" in listing and "Agenda Santé" not in listing
    assert "Suivi Tension" not in alice_client.get("/catalogue/", {"q": "zzz"}).content.decode()
    detail = alice_client.get(f"/catalogue/{app.public_id}/").content.decode()
    assert "Lire et rechercher vos documents de santé" in detail
    assert REDIRECT not in detail


def test_an_app_revokes_its_own_token(alice_client, alice, app):
    token = connect(alice_client, app, SCOPE)
    space = space_of(alice.person)
    revoked = Client().post(
        "/oauth/revoke_token/", {"token": token["access_token"], "client_id": app.client_id}
    )
    assert revoked.status_code == 200
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 401


def test_an_expired_code_is_refused(alice_client, app):
    authorized = authorize(alice_client, app, SCOPE)
    Grant.objects.update(expires=clock.now() - timedelta(seconds=1))  # past its 60 seconds
    refused = exchange(app, authorized)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()
