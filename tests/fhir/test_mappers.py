"""The FHIR mappers: every resource validates (built, then re-parsed from its JSON), carries the
right codes and units, and the bundles hold live entries only, with resolvable references.

Data is written through the real services (profile, documents, consent, messaging, agenda);
the hypothesis properties use unsaved model instances (no database: pure mapping)."""

import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from defusedxml import ElementTree
from fhir.resources.R4B.patient import Patient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from carnet.agenda import services as agenda
from carnet.audit.models import Event
from carnet.consent import services as consent_services
from carnet.consent.models import Authorisation, Block
from carnet.core import clock
from carnet.documents.files import file_check
from carnet.documents.models import Category
from carnet.documents.services import document_add
from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user
from carnet.fhir import codes, mappers
from carnet.messaging import services as messaging
from carnet.messaging.models import Message
from carnet.profile import models
from carnet.registry.models import InsuredPerson
from tests.consent.conftest import add_document, make_professional
from tests.documents.conftest import pdf_bytes

from .conftest import add, measure

PARIS = ZoneInfo("Europe/Paris")
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
VITAL_SIGNS = "vital-signs"
EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"


# --- Helpers --------------------------------------------------------------------------------


def reparsed(resource):
    """The resource's FHIR JSON parsed again by its own model: it must validate."""
    raw = mappers.to_json(resource)
    data = json.loads(raw)
    assert data["resourceType"] == resource.get_resource_type()
    return type(resource).model_validate_json(raw), data


def codings(concept) -> set[tuple[str, str]]:
    return {(c.system, c.code) for c in concept.coding or []}


def xhtml_items(div: str) -> list[str]:
    """The <li> texts of a narrative, parsed as XML (it must be well-formed)."""
    root = ElementTree.fromstring(div)
    assert root.tag == "{http://www.w3.org/1999/xhtml}div"
    return [li.text or "" for li in root.iter("{http://www.w3.org/1999/xhtml}li")]


def section(bundle, code):
    composition = bundle.entry[0].resource
    found = [s for s in composition.section if s.code.coding[0].code == code]
    return found[0] if found else None


def resources(bundle) -> list:
    return [e.resource for e in bundle.entry]


# --- Patient ----------------------------------------------------------------------------------


def test_patient_has_the_ins_names_birth_date_and_gender(space):
    resource, data = reparsed(mappers.patient(space))
    person = space.person
    assert resource.id == str(space.public_id)
    [identifier] = resource.identifier
    assert (identifier.system, identifier.value) == ("urn:oid:1.2.250.1.213.1.4.8", person.nir)
    assert resource.name[0].family == person.last_name
    assert resource.name[0].given == ["Alice"]
    assert data["birthDate"] == "1980-05-17"
    assert resource.gender == "female"
    assert resource.active is True


# --- Profile entries --------------------------------------------------------------------------


def test_condition_is_a_problem_with_partial_dates(filled, space):
    rows, _ = filled
    resource, data = reparsed(mappers.condition(rows["condition"]))
    assert resource.code.text == "Diabète de type 2"
    assert data["onsetDateTime"] == "2015-03"
    assert "abatementDateTime" not in data
    assert resource.clinicalStatus.coding[0].code == "active"
    assert resource.category[0].coding[0].code == "problem-list-item"
    assert resource.subject.reference == f"Patient/{space.public_id}"
    assert resource.recorder.reference == f"Patient/{space.public_id}"

    past, data = reparsed(mappers.condition(rows["past"]))
    assert past.clinicalStatus.coding[0].code == "resolved"
    assert (data["onsetDateTime"], data["abatementDateTime"]) == ("1999", "1999-06")


def test_medication_statement_active_or_completed(filled):
    rows, _ = filled
    ongoing, data = reparsed(mappers.medication_statement(rows["treatment"]))
    assert ongoing.status == "active"
    assert ongoing.medicationCodeableConcept.text == "Metformine"
    assert ongoing.dosage[0].text == "1 comprimé matin et soir"
    assert data["effectivePeriod"] == {"start": "2016"}
    old, data = reparsed(mappers.medication_statement(rows["old_treatment"]))
    assert old.status == "completed"
    assert data["effectivePeriod"] == {"start": "2020-02-03", "end": "2020-02-10"}


def test_procedure_family_history_allergy_immunization(filled):
    rows, _ = filled
    stay, data = reparsed(mappers.procedure(rows["hospitalisation"]))
    assert (stay.status, stay.code.text, data["performedDateTime"]) == (
        "completed",
        "Appendicectomie",
        "1999-06",
    )
    assert stay.location.display == "Hôpital Fictif"
    assert any("3 jours" in n.text for n in stay.note)

    family, _ = reparsed(mappers.family_member_history(rows["family"]))
    assert codings(family.relationship) == {
        ("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "MTH")
    }
    assert family.condition[0].code.text == "Diabète"

    allergy, _ = reparsed(mappers.allergy_intolerance(rows["allergy"]))
    assert allergy.code.text == "Pénicilline"
    assert allergy.reaction[0].severity == "severe"
    assert allergy.reaction[0].manifestation[0].text == "Œdème"

    vaccine, data = reparsed(mappers.immunization(rows["vaccination"]))
    assert data["occurrenceDateTime"] == "2020-01-15"
    assert codings(vaccine.vaccineCode) == {(codes.VACCINE, "dtp")}
    assert vaccine.lotNumber == "AB12"
    assert vaccine.protocolApplied[0].doseNumberString == "rappel"


EXPECTED = {
    # kind: (value, LOINC, UCUM, category)
    "poids": ("72.5", "29463-7", "kg", VITAL_SIGNS),
    "taille": ("170", "8302-2", "cm", VITAL_SIGNS),
    "imc": ("25.1", "39156-5", "kg/m2", VITAL_SIGNS),
    "frequence_cardiaque": ("62", "8867-4", "/min", VITAL_SIGNS),
    "temperature": ("37.2", "8310-5", "Cel", VITAL_SIGNS),
    "perimetre_cranien": ("35", "9843-4", "cm", VITAL_SIGNS),
    "glycemie": ("1.05", "2339-0", "g/L", "laboratory"),
    "hba1c": ("6.8", "4548-4", "%", "laboratory"),
    "tour_taille": ("80", "8280-0", "cm", "exam"),
    "pas": ("8000", "41950-7", "/d", "activity"),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_measurement_codes_and_units(alice, space, kind):
    value, loinc, ucum, category = EXPECTED[kind]
    resource, _ = reparsed(mappers.observation(measure(alice, space, kind, value)))
    assert codings(resource.code) == {(LOINC, loinc)}
    assert resource.category[0].coding[0].code == category
    assert resource.category[0].coding[0].system == codes.OBSERVATION_CATEGORY
    quantity = resource.valueQuantity
    assert (quantity.system, quantity.code, quantity.value) == (UCUM, ucum, Decimal(value))
    assert resource.status == "final"


def test_search_tables_agree_with_the_mapped_observations():
    assert {k: v[1] for k, v in EXPECTED.items()} | {"tension": "85354-9"} == (
        mappers.observation_codes()
    )
    assert {k: v[3] for k, v in EXPECTED.items()} | {"tension": VITAL_SIGNS} == (
        mappers.observation_categories()
    )


def test_blood_pressure_is_one_panel_with_both_components(alice, space):
    resource, data = reparsed(mappers.observation(measure(alice, space, "tension", "130", "85")))
    assert codings(resource.code) == {(LOINC, "85354-9")}
    assert resource.category[0].coding[0].code == VITAL_SIGNS
    assert "valueQuantity" not in data
    parts = {c.code.coding[0].code: c.valueQuantity for c in resource.component}
    assert set(parts) == {"8480-6", "8462-4"}
    assert (parts["8480-6"].value, parts["8462-4"].value) == (130, 85)
    assert {(q.system, q.code) for q in parts.values()} == {(UCUM, "mm[Hg]")}


def test_pain_score_is_text_only(alice, space):
    resource, data = reparsed(mappers.observation(measure(alice, space, "douleur", "4")))
    assert resource.code.coding is None and resource.code.text == "Douleur"
    assert data["valueQuantity"] == {"value": 4, "unit": "/10"}


def test_blood_group_and_lifestyle(filled):
    rows, _ = filled
    blood, _ = reparsed(mappers.blood_group_observation(rows["blood"]))
    assert codings(blood.code) == {(LOINC, "882-1")}
    assert "A" in blood.valueCodeableConcept.text and "positif" in blood.valueCodeableConcept.text

    tobacco, alcohol = mappers.lifestyle_observations(rows["lifestyle"])
    tobacco, _ = reparsed(tobacco)
    alcohol, _ = reparsed(alcohol)
    assert codings(tobacco.code) == {(LOINC, "72166-2")}
    assert codings(tobacco.valueCodeableConcept) == {("http://snomed.info/sct", "8517006")}
    assert codings(alcohol.code) == {(LOINC, "11331-6")}
    assert alcohol.valueCodeableConcept.text == "occasionnellement"
    assert tobacco.id != alcohol.id


def test_blood_group_unknown_is_not_an_observation(alice, space):
    row = add(alice, space, models.BloodGroup, group="inconnu", rhesus="inconnu")
    assert mappers.blood_group_observation(row) is None


# --- Documents --------------------------------------------------------------------------------


def test_document_reference(alice, space):
    doc = add_document(alice, space, Category.BIOLOGIE, title="Bilan sanguin")
    resource, data = reparsed(mappers.document_reference(doc))
    assert resource.id == str(doc.public_id)
    assert resource.status == "current"
    assert codings(resource.type) == {(LOINC, "11502-2"), (codes.DOCUMENT_CATEGORY, "BIOLOGIE")}
    assert resource.type.text == "Résultats de biologie"
    assert codings(resource.category[0]) == {(codes.DOCUMENT_CATEGORY, "BIOLOGIE")}
    assert resource.description == "Bilan sanguin"
    attachment = data["content"][0]["attachment"]
    assert attachment == {
        "contentType": "application/pdf",
        "url": f"Binary/{doc.public_id}",
        "size": doc.size,
        "title": "Bilan sanguin",
        "creation": "2026-11-02",
    }
    assert "hash" not in attachment and "data" not in attachment
    assert resource.author[0].display
    assert "securityLabel" not in data


def test_a_replaced_advance_directive_is_superseded(alice, space):
    first = add_document(alice, space, Category.DIR_ANT, title="Directives 2025")
    second = add_document(alice, space, Category.DIR_ANT, title="Directives 2026")
    first.refresh_from_db()
    assert mappers.document_reference(first).status == "superseded"
    resource = mappers.document_reference(second)
    assert resource.status == "current"
    assert (LOINC, "42348-3") in codings(resource.type)


def test_a_category_without_loinc_carries_ours_only(alice, space):
    doc = add_document(alice, space, Category.CERT_MED)
    assert codings(mappers.document_reference(doc).type) == {(codes.DOCUMENT_CATEGORY, "CERT_MED")}


def test_a_confidential_document_is_labelled_and_in_no_bundle(space):
    pro = make_professional()
    doc = document_add(
        user=pro.user,
        space=space,
        checked=file_check("ivg.pdf", pdf_bytes("Confidentiel")),
        title="Acte confidentiel",
        category=Category.CPT_REND,
        document_date=date(2026, 1, 5),
        confidential=True,
    )
    resource, _ = reparsed(mappers.document_reference(doc))
    assert codings(resource.securityLabel[0]) == {(codes.CONFIDENTIALITY, "R")}
    for bundle in (mappers.profile_bundle(space), mappers.ips_bundle(space, now=clock.now())):
        text = mappers.to_json(bundle)
        assert str(doc.public_id) not in text and "Acte confidentiel" not in text


# --- Agenda, messaging, consent, audit --------------------------------------------------------


def test_appointment(alice, space):
    pro = make_professional(last_name="DUPONT")
    start = clock.now().replace(microsecond=0) + timedelta(days=10)
    data = agenda.AppointmentData(
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        title="Consultation de suivi",
        professional=pro,
        place="Cabinet, 3 rue des Lilas",
        notes="Apporter les analyses",
    )
    row = agenda.appointment_add(user=alice, space=space, data=data)
    resource, _ = reparsed(mappers.appointment(row))
    assert (resource.status, resource.description) == ("booked", "Consultation de suivi")
    assert (resource.start, resource.end) == (start, start + timedelta(minutes=30))
    actors = [p.actor for p in resource.participant]
    assert actors[0].reference == f"Patient/{space.public_id}"
    assert actors[1].identifier.system == "urn:oid:1.2.250.1.71.4.2.1"
    assert actors[1].identifier.value == pro.rpps
    assert actors[2].display == "Cabinet, 3 rue des Lilas"

    bare = agenda.appointment_add(user=alice, space=space, data=agenda.AppointmentData(start))
    resource, _ = reparsed(mappers.appointment(bare))
    assert resource.end == resource.start  # FHIR: no start without an end


def test_communication_carries_the_decrypted_body_and_attachments(alice, space):
    pro = make_professional(last_name="DUPONT")
    consent_services.consent_attest(user=pro.user, professional=pro, space=space)
    attachment = messaging.OutgoingFile(
        filename="résultat.pdf", data=pdf_bytes("Résultat"), media_type="application/pdf",
        extension="pdf",
    )  # fmt: skip
    conversation = messaging.conversation_start(
        user=pro.user,
        professional=pro,
        space=space,
        subject="Vos résultats",
        body="Bonjour,\nTout va bien <ou presque> & c'est tout.",
        files=[attachment],
    )
    received = Message.objects.get(conversation=conversation)
    resource, _ = reparsed(mappers.communication(received))
    assert resource.status == "completed"
    assert resource.payload[0].contentString == "Bonjour,\nTout va bien <ou presque> & c'est tout."
    stored = received.attachments.get()
    content = resource.payload[1].contentAttachment
    assert (content.url, content.contentType, content.title) == (
        f"Binary/{stored.public_id}",
        "application/pdf",
        "résultat.pdf",
    )
    assert resource.sender.identifier.value == pro.rpps
    assert resource.recipient[0].reference == f"Patient/{space.public_id}"
    assert resource.topic.text == "Vos résultats"

    reply = messaging.person_reply(user=alice, conversation=conversation, body="Merci docteur")
    resource, _ = reparsed(mappers.communication(reply))
    assert resource.sender.reference == f"Patient/{space.public_id}"
    assert resource.recipient[0].identifier.value == pro.rpps
    assert [p.contentString for p in resource.payload] == ["Merci docteur"]


def test_consent_permit_and_deny(alice, space):
    trusted, blocked = make_professional(), make_professional()
    consent_services.consent_attest(user=trusted.user, professional=trusted, space=space)
    consent_services.block_set(user=alice, space=space, professional=blocked, blocked=True)
    permit, _ = reparsed(mappers.consent(Authorisation.objects.get(space=space)))
    deny, _ = reparsed(mappers.consent(Block.objects.get(space=space)))
    for resource, pro, kind in ((permit, trusted, "permit"), (deny, blocked, "deny")):
        assert codings(resource.scope) == {
            ("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy")
        }
        assert resource.patient.reference == f"Patient/{space.public_id}"
        assert resource.provision.type == kind
        actor = resource.provision.actor[0].reference
        assert (actor.identifier.system, actor.identifier.value) == (
            "urn:oid:1.2.250.1.71.4.2.1",
            pro.rpps,
        )
    assert {c.id for c in mappers.consents(space)} == {permit.id, deny.id}


def test_audit_event(alice, space):
    row = add(alice, space, models.Allergy, allergen="Pollen")
    event = Event.objects.get(space_id=space.public_id, action="profil_ajout")
    resource, data = reparsed(mappers.audit_event(event))
    assert resource.id == f"{event.chain}.{event.seq}"
    assert (resource.type.system, resource.type.code) == (codes.AUDIT_ACTION, "profil_ajout")
    assert resource.action == "C"
    assert resource.recorded == event.at
    assert resource.agent[0].requestor is True
    assert resource.agent[0].who.display == f"Alice {space.person.last_name}"
    assert resource.source.observer.display == "Carnet"
    whats = [e.what.reference for e in resource.entity]
    assert whats == [f"Patient/{space.public_id}", f"AllergyIntolerance/{row.public_id}"]


def test_every_audit_event_of_a_space_maps(alice, space, filled):
    add_document(alice, space, Category.CPT_REND)
    events = Event.objects.filter(space_id=space.public_id)
    assert events.count() > 10
    for event in events:
        reparsed(mappers.audit_event(event))


# --- Bundles ----------------------------------------------------------------------------------


REQUIRED = ("10160-0", "48765-2", "11450-4")
OPTIONAL = ("11348-0", "47519-4", "11369-6", "8716-3", "30954-2", "29762-2")


def check_document_bundle(bundle) -> dict:
    """Composition first; every reference to a resource of the bundle resolves."""
    again, data = reparsed(bundle)
    assert again.type == "document"
    assert again.identifier.system == "urn:ietf:rfc:3986"
    assert again.timestamp is not None
    composition = again.entry[0].resource
    assert composition.get_resource_type() == "Composition"
    assert codings(composition.type) == {(LOINC, "60591-5")}
    assert composition.title == "Synthèse médicale"
    urls = [e.fullUrl for e in again.entry]
    assert len(urls) == len(set(urls))
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", u) for u in urls)
    assert composition.subject.reference in urls
    assert composition.author[0].reference in urls
    for s in composition.section:
        for entry in s.entry or []:
            assert entry.reference in urls
        xhtml_items(s.text.div)  # well-formed
    ids = {e.resource.id for e in again.entry}
    for ref in re.findall(r'"reference":"([^"]+)"', mappers.to_json(again)):
        if ref.startswith("urn:uuid:"):
            assert ref in urls
        else:
            assert ref.rsplit("/", 1)[-1] not in ids  # left relative, yet in the bundle
    return data


def test_ips_of_an_empty_profile_has_the_three_required_sections(space):
    now = datetime(2026, 11, 26, 9, 5, tzinfo=PARIS)
    bundle = mappers.ips_bundle(space, now=now)
    check_document_bundle(bundle)
    composition = bundle.entry[0].resource
    assert [s.code.coding[0].code for s in composition.section] == list(REQUIRED)
    for s in composition.section:
        assert s.entry is None
        assert codings(s.emptyReason) == {(EMPTY_REASON, "unavailable")}
        assert "Aucune information" in s.text.div
        ElementTree.fromstring(s.text.div)
    kinds = [r.get_resource_type() for r in resources(bundle)]
    assert kinds == ["Composition", "Patient", "Device"]
    assert bundle.timestamp == now


def test_ips_of_a_full_profile(filled, space):
    rows, gone = filled
    bundle = mappers.ips_bundle(space, now=clock.now())
    check_document_bundle(bundle)
    composition = bundle.entry[0].resource
    assert [s.code.coding[0].code for s in composition.section] == [*REQUIRED, *OPTIONAL]
    ids = {r.id for r in resources(bundle)}

    def entries_of(code):
        return {e.reference.removeprefix("urn:uuid:") for e in section(bundle, code).entry}

    assert entries_of("10160-0") == {str(rows["treatment"].public_id)}  # ongoing only
    assert entries_of("11450-4") == {str(rows["condition"].public_id)}
    assert entries_of("11348-0") == {str(rows["past"].public_id)}
    assert entries_of("48765-2") == {str(rows["allergy"].public_id)}
    assert entries_of("11369-6") == {str(rows["vaccination"].public_id)}
    # The latest of each vital sign; glucose, HbA1c and the blood group in the results.
    assert entries_of("8716-3") == {str(rows[k].public_id) for k in ("weight", "pressure")}
    assert entries_of("30954-2") == {str(rows[k].public_id) for k in ("glucose", "hba1c", "blood")}
    assert len(entries_of("29762-2")) == 2
    for s in composition.section:
        assert s.emptyReason is None
        assert len(xhtml_items(s.text.div)) >= 1
    assert "Metformine" in section(bundle, "10160-0").text.div
    for row in gone.values():
        assert str(row.public_id) not in ids
    assert str(rows["old_weight"].public_id) not in ids
    assert str(rows["old_treatment"].public_id) not in ids


def test_ips_optional_sections_only_when_data_exist(alice, space):
    add(alice, space, models.Vaccination, vaccine="grippe", date=date(2025, 10, 20))
    measure(alice, space, "glycemie", "0.95")
    bundle = mappers.ips_bundle(space, now=clock.now())
    composition = bundle.entry[0].resource
    assert [s.code.coding[0].code for s in composition.section] == [
        *REQUIRED,
        "11369-6",
        "30954-2",
    ]
    check_document_bundle(bundle)


def test_profile_bundle_contains_every_live_entry(filled, space):
    rows, gone = filled
    bundle = mappers.profile_bundle(space)
    again, _ = reparsed(bundle)
    assert again.type == "collection"
    ids = [e.resource.id for e in again.entry]
    lifestyle = {str(o.id) for o in mappers.lifestyle_observations(rows["lifestyle"])}
    expected = {str(r.public_id) for k, r in rows.items() if k != "lifestyle"}
    assert set(ids) == {str(space.public_id)} | expected | lifestyle
    assert len(ids) == len(set(ids))
    for row in gone.values():
        assert str(row.public_id) not in ids
    kinds = {e.resource.get_resource_type() for e in again.entry}
    assert kinds == {
        "Patient", "Condition", "MedicationStatement", "Procedure", "FamilyMemberHistory",
        "AllergyIntolerance", "Immunization", "Observation",
    }  # fmt: skip
    urls = {e.fullUrl for e in again.entry}
    for e in again.entry:
        subject = getattr(e.resource, "subject", None) or getattr(e.resource, "patient", None)
        if subject is not None:
            assert subject.reference in urls
    # The export serialises it as is.
    assert json.loads(bundle.model_dump_json())["resourceType"] == "Bundle"


def test_bundles_of_another_space_hold_nothing_of_this_one(filled, bob):
    rows, _ = filled
    text = mappers.to_json(mappers.profile_bundle(space_for_user(bob)))
    for row in rows.values():
        assert str(row.public_id) not in text


# --- Properties (no database) -----------------------------------------------------------------


def unsaved_space() -> Space:
    person = InsuredPerson(
        nir="280057511200142",
        last_name="MARTIN",
        first_name="Alice",
        birth_date=date(1980, 5, 17),
        sex="F",
    )
    return Space(person=person, state=Space.State.ACTIVE)


partial_dates = st.tuples(
    st.integers(1, 9999),
    st.none() | st.integers(1, 12),
    st.none() | st.integers(1, 31),
)


@given(partial_dates)
def test_partial_dates_are_fhir_dates(value):
    year, month, day = value
    out = mappers.fhir_date(models.PartialDate(year, month, day))
    assert out.startswith(f"{year:04d}")
    if month is None:
        assert out == f"{year:04d}"
    else:
        try:
            valid = date(year, month, day) if day else None
        except ValueError:
            valid = None
        expected = valid.isoformat() if valid else f"{year:04d}-{month:02d}"
        assert out == expected
    # Valid where FHIR wants a date and where it wants a dateTime.
    Patient.model_validate({"birthDate": out})
    condition = models.Condition(
        space=unsaved_space(), name="x", start_year=year, start_month=month, start_day=day
    )
    condition.created_at = condition.updated_at = datetime(2026, 1, 1, tzinfo=PARIS)
    resource, data = reparsed(mappers.condition(condition))
    assert data["onsetDateTime"] == out


@hsettings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=50), st.text(max_size=300), st.lists(st.text(max_size=40), max_size=5))
def test_any_unicode_text_stays_valid_fhir_and_xhtml(name, comment, lines):
    condition = models.Condition(
        space=unsaved_space(), name=name, start_year=2020, ongoing=True, comment=comment
    )
    condition.created_at = condition.updated_at = datetime(2026, 1, 1, tzinfo=PARIS)
    resource, data = reparsed(mappers.condition(condition))
    assert resource.code is None or resource.code.text == mappers.text(name)
    narrative = mappers.narrative([name, comment, *lines])
    items = xhtml_items(narrative["div"])
    expected = [t for t in (mappers.text(x) for x in [name, comment, *lines]) if t]
    expected = [t.replace("\r\n", "\n").replace("\r", "\n") for t in expected]
    assert items == expected
    if not expected:
        assert "Aucune information" in narrative["div"]
