"""A professional's software (client credentials) deposits a DocumentReference with its file,
for a professional of its establishment, under the portal's consent rules and file checks."""

import base64
import json

import pytest
from django.test import Client

from carnet.audit.models import Event
from carnet.catalogue.models import App
from carnet.catalogue.services import app_register
from carnet.documents.models import Document
from carnet.fhir import codes
from tests.consent.conftest import (
    FINESS_HOSPITAL,
    FINESS_OTHER,
    authorise,
    block,
    make_professional,
)
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import space_of

SCOPES = "system/DocumentReference.c"


@pytest.fixture
def software(operator):
    app, secret = app_register(
        operator=operator,
        name="Logiciel de l'hôpital",
        editor="Éditeur Hospitalier",
        description="Dossier patient informatisé (démonstration).",
        category=App.Category.PRO_SOFTWARE,
        allowed_scopes=SCOPES.split(),
        software_finess=FINESS_HOSPITAL,
        status=App.Status.ONLINE,
    )
    app.plain_secret = secret
    return app


def token_for(app) -> str:
    response = Client().post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": SCOPES},
        HTTP_AUTHORIZATION="Basic "
        + base64.b64encode(f"{app.client_id}:{app.plain_secret}".encode()).decode(),
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def deposit(token, *, nir, rpps, data=None, category="CPT_REND", content_type="application/pdf"):
    resource = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"identifier": {"system": codes.INS_NIR, "value": nir}},
        "author": [{"identifier": {"system": codes.RPPS, "value": rpps}}],
        "category": [{"coding": [{"system": codes.DOCUMENT_CATEGORY, "code": category}]}],
        "description": "Compte rendu opératoire",
        "context": {"period": {"start": "2026-11-20"}},
        "content": [
            {
                "attachment": {
                    "contentType": content_type,
                    "data": base64.b64encode(data or pdf_bytes("CR")).decode(),
                }
            }
        ],
    }
    return Client().post(
        "/fhir/DocumentReference",
        json.dumps(resource),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_a_software_deposits_for_an_authorised_professional(alice, software):
    space = space_of(alice.person)
    surgeon = make_professional(finess=FINESS_HOSPITAL)
    authorise(space, surgeon)
    response = deposit(token_for(software), nir=alice.person.nir, rpps=surgeon.rpps)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["resourceType"] == "DocumentReference"
    assert response["Location"].endswith(f"/fhir/DocumentReference/{body['id']}")
    doc = Document.objects.get(public_id=body["id"])
    assert doc.space == space and doc.title == "Compte rendu opératoire"
    assert doc.author == surgeon.user and str(doc.document_date) == "2026-11-20"
    assert Event.objects.filter(
        space_id=space.public_id, action="document_ajout", actor=surgeon.user.actor
    ).exists()


def test_a_blocked_professional_cannot_deposit(alice, software):
    space = space_of(alice.person)
    surgeon = make_professional(finess=FINESS_HOSPITAL)
    authorise(space, surgeon)
    block(space, surgeon)
    response = deposit(token_for(software), nir=alice.person.nir, rpps=surgeon.rpps)
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not Document.objects.exists()


def test_unknown_patient_and_refusal_look_the_same(alice, software):
    surgeon = make_professional(finess=FINESS_HOSPITAL)
    unknown = deposit(token_for(software), nir="180057511200192", rpps=surgeon.rpps)
    refused = deposit(token_for(software), nir=alice.person.nir, rpps=surgeon.rpps)  # no consent
    assert unknown.status_code == refused.status_code == 404
    assert unknown.json() == refused.json()


def test_a_professional_of_another_establishment_is_refused(alice, software):
    space = space_of(alice.person)
    elsewhere = make_professional(finess=FINESS_OTHER)
    authorise(space, elsewhere)
    response = deposit(token_for(software), nir=alice.person.nir, rpps=elsewhere.rpps)
    assert response.status_code == 403
    assert not Document.objects.exists()


def test_a_forged_file_type_is_refused_like_in_the_portal(alice, software):
    space = space_of(alice.person)
    surgeon = make_professional(finess=FINESS_HOSPITAL)
    authorise(space, surgeon)
    response = deposit(
        token_for(software),
        nir=alice.person.nir,
        rpps=surgeon.rpps,
        data=b"MZ\x90\x00 not a pdf at all",
        content_type="application/pdf",
    )
    assert response.status_code == 422
    assert "Document refusé" in response.json()["issue"][0]["diagnostics"]
    assert not Document.objects.exists()


def test_an_oversize_body_is_refused_before_reading(alice, software, settings):
    settings.CARNET = {**settings.CARNET, "DOCUMENT_MAX_BYTES": 1000}
    surgeon = make_professional(finess=FINESS_HOSPITAL)
    response = deposit(
        token_for(software), nir=alice.person.nir, rpps=surgeon.rpps, data=b"%PDF" + b"0" * 100_000
    )
    assert response.status_code == 413


def test_an_invalid_resource_gets_an_operation_outcome(alice, software):
    response = Client().post(
        "/fhir/DocumentReference",
        '{"resourceType": "DocumentReference", "status": "nimportequoi"}',
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(software)}",
    )
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_software_cannot_read_patient_data_nor_get_patient_scopes(alice, software):
    token = token_for(software)
    space = space_of(alice.person)
    response = Client().get(
        f"/fhir/Patient/{space.public_id}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 403
    refused = Client().post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": "patient/Patient.rs"},
        HTTP_AUTHORIZATION="Basic "
        + base64.b64encode(f"{software.client_id}:{software.plain_secret}".encode()).decode(),
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"


def test_a_patient_app_cannot_deposit(alice_client, alice):
    from carnet.accounts.models import User

    from .conftest import connect, register

    operator = User.objects.create_user("op.deux", None, kind=User.Kind.OPERATOR)
    app = register(operator, scopes="launch/patient patient/DocumentReference.crs")
    token = connect(alice_client, app, "launch/patient patient/DocumentReference.crs")
    surgeon = make_professional(finess=FINESS_HOSPITAL)
    response = deposit(token["access_token"], nir=alice.person.nir, rpps=surgeon.rpps)
    assert response.status_code == 403
