"""Regression tests of the security review of the OAuth and FHIR code: each one failed before
its fix."""

import json

from django.test import Client

from carnet.catalogue.models import Connection
from carnet.enrollment.selectors import space_for_user
from carnet.family.services import link_leave
from tests.enrollment.helpers import space_of
from tests.family.test_children import attach

from .conftest import REDIRECT, connect, consent_page, fhir, pkce, register

SCOPE = "launch/patient patient/Patient.rs patient/DocumentReference.rs"


def refresh(app, token):
    return Client().post(
        "/oauth/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app.client_id,
        },
    )


def test_a_representative_who_leaves_takes_their_apps_access_with_them(
    alice_client, alice, child, app
):
    attach(alice_client, child)
    space = space_of(child.person)
    alice_client.post("/profils/choisir/", {"profil": str(space.public_id)})
    token = connect(alice_client, app, SCOPE)
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 200
    from carnet.family.models import Link

    link = Link.objects.get(space=space, user=alice)
    link_leave(user=alice, link=link, confirmed=True)
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 401
    assert refresh(app, token).status_code == 400


def test_a_deactivated_account_takes_its_apps_access_with_it(alice_client, alice, app):
    token = connect(alice_client, app, SCOPE)
    space = space_of(alice.person)
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 401
    assert refresh(app, token).status_code == 400


def test_approval_prompt_auto_never_skips_the_consent_screen(alice_client, alice, child, app):
    connect(alice_client, app, SCOPE)  # an app already connected to Alice's own profile
    attach(alice_client, child)
    child_space = space_of(child.person)
    alice_client.post("/profils/choisir/", {"profil": str(child_space.public_id)})
    verifier, challenge = pkce()
    response = alice_client.get(
        "/oauth/authorize/",
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": REDIRECT,
            "scope": SCOPE,
            "state": "x",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "approval_prompt": "auto",
        },
    )
    assert response.status_code == 200  # the screen, not a redirect with a code
    assert not Connection.objects.filter(space=child_space).exists()


def test_a_narrower_consent_narrows_the_tokens_already_issued(alice_client, alice, app):
    broad = connect(alice_client, app, SCOPE)
    connect(alice_client, app, "launch/patient patient/Patient.rs")
    assert fhir(broad["access_token"], "DocumentReference").status_code in (401, 403)
    assert refresh(app, broad).status_code == 400


def test_a_consent_refused_by_the_oauth_checks_leaves_no_connection(alice_client, app):
    verifier, challenge = pkce()
    page = consent_page(alice_client, app, SCOPE, challenge=challenge)
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    data.pop("code_challenge")
    data.pop("code_challenge_method")
    data["allow"] = "Authorize"
    answer = alice_client.post("/oauth/authorize/", data)
    assert answer.status_code in (302, 400)
    assert "code=" not in answer.get("Location", "")
    assert not Connection.objects.exists()


def test_no_token_introspection_endpoint(app):
    response = Client().post("/oauth/introspect/", {"token": "x", "client_id": app.client_id})
    assert response.status_code == 404


def test_a_public_client_has_no_usable_empty_secret(app):
    response = Client().post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": ""},
    )
    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()


def test_summary_needs_the_procedure_scope_too(alice_client, alice, operator):
    needs = "Patient Condition MedicationStatement AllergyIntolerance Immunization Observation"
    scope = "launch/patient " + " ".join(f"patient/{t}.rs" for t in needs.split())
    app = register(operator, scopes=scope, name="Sans séjours")
    token = connect(alice_client, app, scope)["access_token"]
    space = space_of(alice.person)
    assert fhir(token, f"Patient/{space.public_id}/$summary").status_code == 403


def test_a_read_only_token_cannot_make_the_server_read_a_big_body(alice_client, alice, app):
    token = connect(alice_client, app, SCOPE)["access_token"]
    big = json.dumps({"resourceType": "Observation", "note": [{"text": "x" * 3_000_000}]})
    response = Client().post(
        "/fhir/Observation",
        big,
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 403


def test_a_measurement_body_is_small(alice_client, alice, operator):
    scope = "launch/patient patient/Observation.crs"
    app = register(operator, scopes=scope, name="Balance")
    token = connect(alice_client, app, scope)["access_token"]
    big = json.dumps({"resourceType": "Observation", "note": [{"text": "x" * 100_000}]})
    response = Client().post(
        "/fhir/Observation",
        big,
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 413


def test_odd_search_values_are_400_not_500(alice_client, alice, app):
    token = connect(alice_client, app, SCOPE)["access_token"]
    for params in [{"_count": "²"}, {"date": "9999-12-31"}, {"date": "ge0001-01-01"}]:
        response = fhir(token, "DocumentReference", **params)
        assert response.status_code == 400, params


def test_a_measurement_needs_a_time(alice_client, alice, operator):
    scope = "launch/patient patient/Observation.crs"
    app = register(operator, scopes=scope, name="Thermomètre")
    token = connect(alice_client, app, scope)["access_token"]
    space = space_for_user(alice)
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
        "subject": {"reference": f"Patient/{space.public_id}"},
        "effectiveDateTime": "2024-03-01",
        "valueQuantity": {"value": 37.2, "unit": "Cel"},
    }
    response = Client().post(
        "/fhir/Observation",
        json.dumps(resource),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 422


def test_audit_events_give_no_ip_address(alice_client, alice, operator):
    scope = "launch/patient patient/AuditEvent.rs"
    app = register(operator, scopes=scope, name="Journal")
    token = connect(alice_client, app, scope)["access_token"]
    found = fhir(token, "AuditEvent").json()
    assert found["total"] >= 1
    assert all("network" not in agent for e in found["entry"] for agent in e["resource"]["agent"])
    assert "198.51.100" not in json.dumps(found)
