"""The FHIR API through HTTP, with a token from the real OAuth flow: every resource type reads
and searches with valid FHIR, search parameters and paging, the IPS $summary, the writes of
connected apps (a measurement, a booking service's appointments), and a fuzz that never gets a
server error."""

import json
import string
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from carnet.agenda.models import Appointment
from carnet.catalogue.models import App
from carnet.core import clock
from carnet.documents.files import file_check
from carnet.documents.services import document_add
from carnet.profile.models import Measurement
from tests.catalogue.conftest import connect, fhir, register
from tests.consent.conftest import authorise, block, make_professional
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import space_of
from tests.messaging.conftest import pro_writes

PARIS = ZoneInfo("Europe/Paris")
TYPES = [
    "Patient",
    "DocumentReference",
    "Condition",
    "MedicationStatement",
    "Procedure",
    "FamilyMemberHistory",
    "AllergyIntolerance",
    "Immunization",
    "Observation",
    "Appointment",
    "Communication",
    "Consent",
    "AuditEvent",
]
EVERYTHING = "launch/patient " + " ".join(f"patient/{t}.rs" for t in TYPES)
WRITER = "launch/patient patient/Observation.cruds patient/Appointment.cruds"


def add_document(space, category, *, document_date=None, confidential=False):
    from carnet.enrollment.models import Space

    owner = Space.objects.get(pk=space.pk)  # as its holder sees it
    holder = getattr(owner.person, "account", None)
    return document_add(
        user=holder or make_professional().user,  # a child's: added by a professional
        space=owner,
        checked=file_check("document.pdf", pdf_bytes("Document de test")),
        title=f"Document {category}",
        category=category,
        document_date=document_date or date(2026, 11, 2),
        confidential=confidential,
    )


@pytest.fixture
def reader(operator):
    return register(operator, scopes=EVERYTHING, name="Lecteur")


@pytest.fixture
def token(alice_client, reader):
    return connect(alice_client, reader, EVERYTHING)["access_token"]


def post(token, path, resource, method="post"):
    return getattr(Client(), method)(
        f"/fhir/{path}",
        json.dumps(resource),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.fixture
def everything(alice, space, filled):
    """Every kind of data: profile entries, documents, an appointment, messages, consents."""
    doctor = make_professional()
    authorise(space, doctor)
    block(space, make_professional())
    add_document(space, "CPT_REND")
    add_document(space, "ORDO")
    pro_writes(doctor, space)
    from carnet.agenda import services as agenda

    agenda.appointment_add(
        user=alice,
        space=space,
        data=agenda.AppointmentData(starts_at=clock.now() + timedelta(days=3), title="Dentiste"),
    )
    return space


@pytest.mark.parametrize("resource_type", TYPES)
def test_every_type_searches_and_reads_back_valid_fhir(everything, token, resource_type):
    response = fhir(token, resource_type)
    assert response.status_code == 200, response.content
    bundle = Bundle.model_validate_json(response.content)
    assert bundle.type == "searchset" and bundle.total >= 1
    first = bundle.entry[0].resource
    assert first.get_resource_type() == resource_type
    again = fhir(token, f"{resource_type}/{first.id}")
    assert again.status_code == 200, again.content
    assert type(first).model_validate_json(again.content).id == first.id


def test_unknown_ids_and_types_are_404_outcomes(everything, token):
    for path in ["Condition/00000000-0000-0000-0000-000000000000", "Condition/pas-un-id",
                 "Medication", "AuditEvent/service.1"]:  # fmt: skip
        response = fhir(token, path)
        assert response.status_code == 404, path
        assert response.json()["resourceType"] == "OperationOutcome"


def test_documents_search_by_category_date_sort_and_pages(alice, space, token):
    for day in range(1, 6):
        add_document(space, "CPT_REND", document_date=date(2026, 3, day))
    add_document(space, "ORDO", document_date=date(2026, 4, 1))
    only = fhir(token, "DocumentReference", category="ORDO").json()
    assert only["total"] == 1
    march = fhir(token, "DocumentReference", date=["ge2026-03-02", "le2026-03-04"]).json()
    assert march["total"] == 3
    first = fhir(token, "DocumentReference", _sort="date", _count="2").json()
    assert first["total"] == 6 and len(first["entry"]) == 2
    dates = [e["resource"]["context"]["period"]["start"] for e in first["entry"]]
    assert dates == ["2026-03-01", "2026-03-02"]
    seen = []
    page = first
    while True:
        seen += [e["resource"]["id"] for e in page["entry"]]
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            break
        page = Client().get(following[0], HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert len(seen) == len(set(seen)) == 6


def test_observations_by_category_and_code(alice, space, filled, token):
    vital = fhir(token, "Observation", category="vital-signs").json()
    codes = {e["resource"]["code"]["coding"][0]["code"] for e in vital["entry"]}
    assert "29463-7" in codes and "4548-4" not in codes
    lab = fhir(token, "Observation", code="http://loinc.org|4548-4").json()
    assert lab["total"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"foo": "1"},
        {"_count": "0"},
        {"_count": "abc"},
        {"date": "hier"},
        {"_sort": "title"},
        {"_format": "xml"},
    ],  # fmt: skip
)
def test_bad_search_parameters_are_400_with_a_french_diagnostic(space, token, params):
    response = fhir(token, "DocumentReference", **params)
    assert response.status_code in (400, 406)
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["diagnostics"]


_text = st.text(alphabet=string.printable + "éàç€\u2028", max_size=30)


@hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    resource_type=st.sampled_from(TYPES + ["Binary", "Nope", "Patient/x/$summary"]),
    params=st.dictionaries(
        st.sampled_from(
            [
                "_count",
                "_offset",
                "_sort",
                "date",
                "category",
                "code",
                "patient",
                "_format",
                "x",
                "_id",
            ]
        ),
        _text,
        max_size=4,
    ),  # fmt: skip
)
def test_fuzzed_searches_never_fail_on_the_server(space, token, resource_type, params):
    response = fhir(token, resource_type, **params)
    assert response.status_code < 500, (resource_type, params, response.content[:300])


def test_summary_is_an_ips_document(everything, token):
    response = fhir(token, f"Patient/{everything.public_id}/$summary")
    assert response.status_code == 200, response.content
    bundle = Bundle.model_validate_json(response.content)
    assert bundle.type == "document"
    composition = bundle.entry[0].resource
    assert composition.get_resource_type() == "Composition"
    sections = {s.code.coding[0].code for s in composition.section}
    assert {"10160-0", "48765-2", "11450-4", "11369-6", "8716-3"} <= sections


def test_summary_needs_read_access_to_what_it_holds(alice_client, alice, operator):
    app = register(operator, scopes="launch/patient patient/Patient.rs", name="Identité")
    token = connect(alice_client, app, "launch/patient patient/Patient.rs")["access_token"]
    space = space_of(alice.person)
    assert fhir(token, f"Patient/{space.public_id}/$summary").status_code == 403


# --- Writes of connected apps -----------------------------------------------------------------


@pytest.fixture
def writer(alice_client, operator):
    app = register(operator, scopes=WRITER, name="Tensiomètre", category=App.Category.MEASURES)
    return connect(alice_client, app, WRITER)["access_token"]


def pressure_components(systolic, diastolic):
    return [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": systolic, "unit": "mm[Hg]"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": diastolic, "unit": "mm[Hg]"}},
    ]  # fmt: skip


def pressure(space, systolic=128, diastolic=82, when="2026-11-20T08:30:00+01:00"):
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],  # noqa: E501
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": f"Patient/{space.public_id}"},
        "effectiveDateTime": when,
        "component": pressure_components(systolic, diastolic),
    }  # fmt: skip


def test_a_measurement_app_adds_a_blood_pressure(alice, space, writer):
    response = post(writer, "Observation", pressure(space))
    assert response.status_code == 201, response.content
    row = Measurement.objects.get(public_id=response.json()["id"])
    assert (row.kind, int(row.value), int(row.value2)) == ("tension", 128, 82)
    assert row.author is None
    page = Client()
    page.force_login(alice)
    assert "128" in page.get("/profil-medical/mesures/").content.decode()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"component": []}, "Saisissez la valeur"),
        ({"component": pressure_components(400, 80)}, "systolique doit être comprise"),
        ({"effectiveDateTime": "2099-01-01T10:00:00+01:00"}, "futur"),
        ({"code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]}}, "LOINC"),
    ],
)
def test_a_bad_measurement_is_refused_and_nothing_saved(space, writer, change, message):
    response = post(writer, "Observation", {**pressure(space), **change})
    assert response.status_code == 422
    assert message in response.json()["issue"][0]["diagnostics"]
    assert not Measurement.objects.exists()


def test_an_app_writes_only_for_its_profile(bob, space, writer):
    other = space_of(bob.person)
    response = post(writer, "Observation", pressure(other))
    assert response.status_code == 422
    assert not Measurement.objects.exists()


def test_reading_scopes_do_not_write(space, token):
    assert post(token, "Observation", pressure(space)).status_code == 403


def booking(space, start="2026-12-03T10:00:00+01:00", status="booked"):
    return {
        "resourceType": "Appointment",
        "status": status,
        "description": "Consultation de dermatologie",
        "start": start,
        "end": "2026-12-03T10:30:00+01:00",
        "participant": [
            {"actor": {"reference": f"Patient/{space.public_id}"}, "status": "accepted"},
            {"actor": {"display": "Dr Fictif"}, "status": "accepted"},
        ],
    }


def test_a_booking_service_adds_changes_and_cancels_its_appointment(alice, space, writer):
    created = post(writer, "Appointment", booking(space))
    assert created.status_code == 201, created.content
    row = Appointment.objects.get(public_id=created.json()["id"])
    assert row.source == Appointment.Source.SERVICE and row.source_name == "Tensiomètre"
    assert row.read_only  # the person cannot change it in Carnet
    page = Client()
    page.force_login(alice)
    detail = page.get(f"/agenda/rendez-vous/{row.public_id}/modifier/")
    assert detail.status_code in (403, 404) or "se modifie dans" in detail.content.decode()

    moved = {**booking(space, start="2026-12-04T10:00:00+01:00"), "id": str(row.public_id)}
    moved["end"] = "2026-12-04T10:30:00+01:00"
    changed = post(writer, f"Appointment/{row.public_id}", moved, method="put")
    assert changed.status_code == 200, changed.content
    row.refresh_from_db()
    assert row.starts_at.astimezone(PARIS).day == 4

    cancelled = post(writer, f"Appointment/{row.public_id}", {**moved, "status": "cancelled"},
                     method="put")  # fmt: skip
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    row.refresh_from_db()
    assert row.deleted_at is not None


def test_another_app_cannot_touch_an_appointment(alice_client, alice, space, writer, operator):
    created = post(writer, "Appointment", booking(space)).json()
    other = register(operator, scopes=WRITER, name="Autre service")
    token = connect(alice_client, other, WRITER)["access_token"]
    response = post(token, f"Appointment/{created['id']}", booking(space), method="put")
    assert response.status_code == 404
    mine = Appointment.objects.create(
        space=space, starts_at=clock.now(), created_at=clock.now(), updated_at=clock.now()
    )
    response = post(token, f"Appointment/{mine.public_id}", booking(space), method="put")
    assert response.status_code == 404


def test_a_minors_confidential_document_never_reaches_an_app_a_parent_connected(
    alice_client, alice, child, reader
):
    from tests.family.test_children import attach

    attach(alice_client, child)
    child_space = space_of(child.person)
    add_document(child_space, "CPT_REND", confidential=True)
    add_document(child_space, "ORDO")
    alice_client.post("/profils/choisir/", {"profil": str(child_space.public_id)})
    token = connect(alice_client, reader, EVERYTHING)["access_token"]
    found = fhir(token, "DocumentReference").json()
    assert found["total"] == 1
    assert found["entry"][0]["resource"]["category"][0]["coding"][0]["code"] == "ORDO"
