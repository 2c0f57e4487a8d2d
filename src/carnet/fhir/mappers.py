"""Our models as FHIR R4B resources (fhir.resources, validated on construction).

Pure mappings: no access decision, no audit, no HTTP — the caller (the FHIR views, the data
export) has already decided what the viewer may see, and passes live rows only. The bundles read
the live rows of a space themselves, through `profile.selectors.entries`.

Choices:
- Ids are our `public_id` UUIDs. Rows without one get a stable derived id: uuid5 of the space
  for a Consent (and of the lifestyle row for its observations), and "<chain>.<seq>" for an
  audit event (reversible: the pair is unique). References are relative ("Patient/<id>"); inside
  a Bundle they are rewritten to the entries' `urn:uuid:<id>` full URLs so that they resolve.
- The Patient's id is the space's public id (the space is the record); its identifier the INS.
- Partial dates ("en 2015", "en mars 2015") become FHIR partial dates ("2015", "2015-03").
- Codes: LOINC, SNOMED CT and HL7 codes only where sure (tables in `codes.py`); otherwise the
  French text alone, or a code system of ours for our own lists (document categories,
  vaccines, audit actions). Free text has its control characters removed (FHIR strings and
  XHTML narratives must not carry them) and narratives are XHTML-escaped.
- Measurements: vital signs and laboratory observations with LOINC and UCUM; blood pressure is
  one row (systolic `value`, diastolic `value2`), so one panel 85354-9 with two components.
  The pain score has no code (text only). BMI is never typed (computed on display): mapped only
  if a row exists.
- DocumentReference: no `hash` — FHIR R4's is SHA-1 and we keep SHA-256 only. The content is
  `Binary/<public_id>`, never decrypted here. Documents are in neither bundle.
- Not mapped: disabilities and "Entourage et volontés" (no clean FHIR code; a Condition or
  RelatedPerson would be invented detail), lifestyle activity, sleep and diet (no code we are
  sure of). The medical-treating doctor and emergency accesses are not Consents here.
- The International Patient Summary follows the IPS guidance where our data allows: ongoing
  treatments and conditions; past conditions, hospitalisations, vaccinations, the latest value
  of each vital sign and result, blood group and lifestyle in their optional sections.
"""

import html
import re
import uuid
from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.composition import Composition
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.familymemberhistory import FamilyMemberHistory
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure

from carnet.profile import measures
from carnet.profile import models as profile
from carnet.profile.models import PartialDate, partial
from carnet.profile.selectors import entries
from carnet.profile.vaccines import LABELS as VACCINE_LABELS

from . import codes
from .codes import Code

# Namespace of the ids we derive (uuid5) for what has no public id of its own.
NAMESPACE = uuid.UUID("6f1d7c0e-2b8a-5c43-9e61-3a4f0b6d2c85")
DEVICE_ID = str(uuid.uuid5(NAMESPACE, "carnet"))
NO_INFORMATION = "Aucune information"
XHTML = "http://www.w3.org/1999/xhtml"


# --- Small pieces -----------------------------------------------------------------------------

# Characters XML 1.0 refuses (C0 controls but tab, line feed, carriage return; non-characters).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def text(value) -> str | None:
    """Free text as FHIR takes it: no control characters, not blank; None if nothing is left."""
    cleaned = _NOT_XML.sub("", str(value or "")).strip()
    return cleaned or None


def fhir_date(value: PartialDate | None) -> str | None:
    """ "2015", "2015-03" or "2015-03-14" (a FHIR date, valid as a dateTime too)."""
    if value is None or not 1 <= value.year <= 9999:
        return None
    out = f"{value.year:04d}"
    if not value.month or not 1 <= value.month <= 12:
        return out
    out += f"-{value.month:02d}"
    if value.day:
        try:
            date(value.year, value.month, value.day)
        except ValueError:
            return out  # an impossible day is dropped, the month stays
        out += f"-{value.day:02d}"
    return out


def narrative(lines: list[str]) -> dict:
    """A generated XHTML narrative: the lines as a list, escaped; "Aucune information" if none."""
    items = [t for t in (text(line) for line in lines) if t]
    items = [t.replace("\r\n", "\n").replace("\r", "\n") for t in items]  # as XML reads them
    if items:
        body = "<ul>" + "".join(f"<li>{html.escape(t, quote=False)}</li>" for t in items) + "</ul>"
    else:
        body = f"<p>{NO_INFORMATION}</p>"
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{body}</div>'}


def _compact(values: dict) -> dict:
    """Leaves out what is absent (None, empty text, empty list or dict)."""
    return {k: v for k, v in values.items() if v is not None and v != "" and v != [] and v != {}}


def _coding(system: str, code: Code | None) -> dict | None:
    if code is None:
        return None
    return _compact({"system": system, "code": code.code, "display": code.display})


def _concept(label, *codings) -> dict | None:
    return _compact({"coding": [c for c in codings if c], "text": text(label)}) or None


def _note(comment) -> list | None:
    return [{"text": t}] if (t := text(comment)) else None


def _quantity(value, unit, ucum: str | None) -> dict:
    return _compact(
        {"value": value, "unit": text(unit), "system": ucum and codes.UCUM, "code": ucum}
    )


def _ref(kind: str, public_id, display=None) -> dict:
    return _compact({"reference": f"{kind}/{public_id}", "display": text(display)})


def reference(resource) -> str:
    return f"{resource.get_resource_type()}/{resource.id}"


def _person_name(person) -> str:
    return f"{person.first_name} {person.last_name}"


def _patient_ref(space, *, named: bool = False) -> dict:
    return _ref("Patient", space.public_id, _person_name(space.person) if named else None)


def _pro_ref(professional) -> dict:
    """A professional of the directory, by RPPS (we serve no Practitioner resource)."""
    return _compact(
        {
            "type": "Practitioner",
            "identifier": {"system": codes.RPPS, "value": professional.rpps},
            "display": text(professional.full_name),
        }
    )


def _author(user, space) -> dict | None:
    """Who wrote a profile entry: the patient, a professional, or a legal representative."""
    if user is None:
        return None
    if user.person_id is not None and user.person_id == space.person_id:
        return _patient_ref(space)
    professional = getattr(user, "professional", None)
    if professional is not None:
        return _pro_ref(professional)
    if user.person_id is not None:
        return {"type": "RelatedPerson", "display": _person_name(user.person)}
    return None


def _make(model, **values):
    return model.model_validate(_compact(values))


# --- Patient and documents --------------------------------------------------------------------


def patient(space) -> Patient:
    from carnet.enrollment.models import Space

    person = space.person
    return _make(
        Patient,
        id=str(space.public_id),
        identifier=[{"use": "official", "system": codes.INS_NIR, "value": person.nir}],
        active=space.state == Space.State.ACTIVE,
        name=[
            _compact(
                {
                    "use": "official",
                    "family": text(person.last_name),
                    "given": [g] if (g := text(person.first_name)) else None,
                }
            )
        ],
        gender={"M": "male", "F": "female"}.get(person.sex, "unknown"),
        birthDate=person.birth_date,
    )


def _replaced(doc) -> bool:
    """Superseded: deleted by a newer document of a category that keeps one (the audit knows)."""
    from carnet.audit.models import Event

    return doc.deleted_at is not None and (
        Event.objects.filter(action="document_remplace", object_id=str(doc.public_id)).exists()
    )


def document_reference(doc) -> DocumentReference:
    from carnet.documents.models import Category, Document

    label = dict(Category.choices).get(doc.category, doc.category)
    ours = _coding(codes.DOCUMENT_CATEGORY, Code(doc.category, label))
    loinc = _coding(codes.LOINC, codes.DOCUMENT_LOINC.get(doc.category))
    author = doc.author_name
    if doc.author_establishment:
        author = f"{author} ({doc.author_establishment})"
    if doc.author_kind == Document.AuthorKind.USAGER:
        author_ref = _patient_ref(doc.space) | {"display": text(author) or "Patient"}
    else:
        author_ref = _compact({"type": "Practitioner", "display": text(author)})
    return _make(
        DocumentReference,
        id=str(doc.public_id),
        status="superseded" if _replaced(doc) else "current",
        type=_concept(label, loinc, ours),
        category=[_concept(label, ours)],
        subject=_patient_ref(doc.space),
        date=doc.created_at,
        author=[author_ref] if author_ref.get("display") else None,
        description=text(doc.title),
        securityLabel=(
            [_concept(None, _coding(codes.CONFIDENTIALITY, codes.RESTRICTED))]
            if doc.confidential
            else None
        ),
        content=[
            {
                "attachment": _compact(
                    {
                        "contentType": doc.media_type,
                        "url": f"Binary/{doc.public_id}",
                        "size": doc.size,
                        "title": text(doc.title),
                        "creation": doc.document_date,
                    }
                )
            }
        ],
        context={"period": {"start": doc.document_date}},
    )


# --- Profile entries --------------------------------------------------------------------------


def _status(system: str, code: str) -> dict:
    return _concept(None, _coding(system, Code(code, code.capitalize())))


def condition(c) -> Condition:
    end = None if c.ongoing else fhir_date(partial(c, "end"))
    status = "active" if c.ongoing else ("resolved" if end else "inactive")
    return _make(
        Condition,
        id=str(c.public_id),
        clinicalStatus=_status(codes.CONDITION_CLINICAL, status),
        category=[
            _concept(
                None,
                _coding(codes.CONDITION_CATEGORY, Code("problem-list-item", "Problem List Item")),
            )
        ],
        code=_concept(c.name),
        subject=_patient_ref(c.space),
        onsetDateTime=fhir_date(partial(c, "start")),
        abatementDateTime=end,
        recordedDate=c.created_at,
        recorder=_author(c.author, c.space),
        note=_note(c.comment),
    )


def medication_statement(t) -> MedicationStatement:
    end = None if t.ongoing else fhir_date(partial(t, "end"))
    return _make(
        MedicationStatement,
        id=str(t.public_id),
        status="active" if t.ongoing else "completed",
        medicationCodeableConcept=_concept(t.name),
        subject=_patient_ref(t.space),
        effectivePeriod=_compact({"start": fhir_date(partial(t, "start")), "end": end}) or None,
        dateAsserted=t.created_at,
        informationSource=_author(t.author, t.space),
        dosage=[{"text": dosage}] if (dosage := text(t.dosage)) else None,
        note=_note(t.comment),
    )


def procedure(h) -> Procedure:
    notes = _note(h.comment) or []
    if h.stay_length:
        notes.append({"text": f"Durée du séjour : {h.stay_length} {h.get_stay_unit_display()}"})
    return _make(
        Procedure,
        id=str(h.public_id),
        status="completed",
        category=_concept("Hospitalisation ou chirurgie"),
        code=_concept(h.reason),
        subject=_patient_ref(h.space),
        performedDateTime=fhir_date(partial(h, "entry")),
        recorder=_author(h.author, h.space),
        location=_compact({"type": "Location", "display": text(h.establishment)})
        if text(h.establishment)
        else None,
        note=notes,
    )


def family_member_history(f) -> FamilyMemberHistory:
    return _make(
        FamilyMemberHistory,
        id=str(f.public_id),
        status="completed",
        patient=_patient_ref(f.space),
        date=f.updated_at,
        relationship=_concept(
            f.get_relation_display(), _coding(codes.ROLE_CODE, codes.RELATIONS.get(f.relation))
        ),
        condition=[_compact({"code": _concept(f.disease), "note": _note(f.comment)})],
    )


def allergy_intolerance(a) -> AllergyIntolerance:
    reaction = None
    if text(a.reaction) or a.severity:
        reaction = [
            _compact(
                {
                    "manifestation": [_concept(text(a.reaction) or "Réaction non précisée")],
                    "severity": codes.ALLERGY_SEVERITY.get(a.severity),
                }
            )
        ]
    return _make(
        AllergyIntolerance,
        id=str(a.public_id),
        clinicalStatus=_status(codes.ALLERGY_CLINICAL, "active"),
        code=_concept(a.allergen),
        patient=_patient_ref(a.space),
        recordedDate=a.created_at,
        recorder=_author(a.author, a.space),
        reaction=reaction,
        note=_note(a.comment),
    )


def immunization(v) -> Immunization:
    ours = _coding(codes.VACCINE, Code(v.vaccine, VACCINE_LABELS.get(v.vaccine)))
    return _make(
        Immunization,
        id=str(v.public_id),
        status="completed",
        vaccineCode=_concept(str(v), ours),
        patient=_patient_ref(v.space),
        occurrenceDateTime=v.date,
        recorded=v.created_at,
        lotNumber=text(v.lot),
        performer=[{"actor": {"display": name}}] if (name := text(v.vaccinator)) else None,
        note=_note(v.comment),
        protocolApplied=(
            [{"doseNumberString": v.get_kind_display()}]
            if v.kind != profile.Vaccination.Kind.UNKNOWN
            else None
        ),
    )


def _category(code: str | None) -> list | None:
    if code is None:
        return None
    display = codes.CATEGORY_DISPLAY.get(code)
    return [_concept(None, _coding(codes.OBSERVATION_CATEGORY, Code(code, display)))]


def _observation(entry, *, id, category, code, **values) -> Observation:
    return _make(
        Observation,
        id=id,
        status="final",
        category=_category(category),
        code=code,
        subject=_patient_ref(entry.space),
        performer=[p] if (p := _author(entry.author, entry.space)) else None,
        **values,
    )


def observation(m) -> Observation:
    """A measurement: LOINC and UCUM where `codes.MEASURES` has them, else text only."""
    spec = codes.MEASURES.get(m.kind, codes.Measure(None, None, None))
    kind = measures.TYPES.get(m.kind)
    label, unit = (kind.label, kind.unit) if kind else (m.kind, None)
    values = {"valueQuantity": _quantity(m.value, unit, spec.ucum)}
    if m.kind == "tension":
        values = {"component": _pressure(m)}
    return _observation(
        m,
        id=str(m.public_id),
        category=spec.category,
        code=_concept(label, _coding(codes.LOINC, spec.loinc)),
        effectiveDateTime=m.taken_at,
        note=_note(m.comment),
        **values,
    )


def observation_codes() -> dict[str, str]:
    """Measurement kind → its LOINC code (searches by code); kinds without one are left out."""
    return {kind: m.loinc.code for kind, m in codes.MEASURES.items() if m.loinc}


def observation_categories() -> dict[str, str]:
    """Measurement kind → its observation-category code (searches by category)."""
    return {kind: m.category for kind, m in codes.MEASURES.items() if m.category}


def _pressure(m) -> list[dict]:
    parts = [("Pression systolique", codes.SYSTOLIC, m.value)]
    if m.value2 is not None:
        parts.append(("Pression diastolique", codes.DIASTOLIC, m.value2))
    return [
        {
            "code": _concept(label, _coding(codes.LOINC, code)),
            "valueQuantity": _quantity(value, "mmHg", codes.MM_HG),
        }
        for label, code, value in parts
    ]


def blood_group_observation(b) -> Observation | None:
    """ABO and Rh group, as text (the SNOMED values are not needed to read it); None if both
    are unknown."""
    unknown = profile.BloodGroup.Group.UNKNOWN
    if b.group == unknown and b.rhesus == profile.BloodGroup.Rhesus.UNKNOWN:
        return None
    group = "groupe inconnu" if b.group == unknown else f"Groupe {b.group}"
    known = b.rhesus != profile.BloodGroup.Rhesus.UNKNOWN
    rhesus = b.get_rhesus_display() if known else "rhésus inconnu"
    return _observation(
        b,
        id=str(b.public_id),
        category=codes.LAB,
        code=_concept("Groupe sanguin", _coding(codes.LOINC, codes.BLOOD_GROUP)),
        effectiveDateTime=b.updated_at,
        valueCodeableConcept=_concept(f"{group}, {rhesus}"),
    )


def lifestyle_observations(life) -> list[Observation]:
    """Tobacco (72166-2, SNOMED values where sure) and alcohol (11331-6, text value)."""
    found = []
    if life.tobacco:
        value = _coding(codes.SNOMED, codes.TOBACCO_SNOMED.get(life.tobacco))
        found.append(_social(life, "tabac", codes.TOBACCO, "Tabac", life.get_tobacco_display(),
                             value))  # fmt: skip
    if life.alcohol:
        found.append(_social(life, "alcool", codes.ALCOHOL, "Alcool", life.get_alcohol_display()))
    return found


def _social(life, name: str, code: Code, label: str, value: str, coding=None) -> Observation:
    return _observation(
        life,
        id=str(uuid.uuid5(life.public_id, name)),
        category="social-history",
        code=_concept(label, _coding(codes.LOINC, code)),
        effectiveDateTime=life.updated_at,
        valueCodeableConcept=_concept(value, coding),
    )


# --- Agenda, messaging, consent, audit --------------------------------------------------------


def appointment(a) -> Appointment:
    """An appointment of the agenda. FHIR wants an end with a start: without one, the end is
    the start (Carnet does not know the length)."""
    participants = [{"actor": _patient_ref(a.space, named=True), "status": "accepted"}]
    if a.professional is not None:
        participants.append({"actor": _pro_ref(a.professional), "status": "accepted"})
    elif name := text(a.professional_name):
        participants.append({"actor": {"type": "Practitioner", "display": name},
                             "status": "accepted"})  # fmt: skip
    if place := text(a.place):
        participants.append({"actor": {"type": "Location", "display": place}, "status": "accepted"})
    return _make(
        Appointment,
        id=str(a.public_id),
        status="cancelled" if a.deleted_at else "booked",
        description=text(a.title),
        start=a.starts_at,
        end=a.ends_at or a.starts_at,
        created=a.created_at,
        comment=text(a.notes),
        participant=participants,
    )


def communication(message) -> Communication:
    """A secure message, its body decrypted by the messaging app; its stored attachments as
    `Binary/<attachment public id>`."""
    from carnet.messaging.models import Message
    from carnet.messaging.services import message_text

    conversation = message.conversation
    space = conversation.space
    person = _patient_ref(space, named=True)
    pro = conversation.professional
    other = _pro_ref(pro) if pro is not None else {"display": "Carnet"}
    if message.author_kind == Message.AuthorKind.PERSON:
        sender, recipient = person, other
    elif message.author_kind == Message.AuthorKind.PROFESSIONAL and pro is not None:
        sender, recipient = other | _compact({"display": text(message.author_name)}), person
    else:
        sender, recipient = {"display": text(message.author_name) or "Carnet"}, person
    payload = [{"contentString": body}] if (body := text(message_text(message))) else []
    for attachment in message.attachments.all():
        if attachment.blob_id is None:
            continue  # a refused attachment: listed, never stored
        content = {
            "url": f"Binary/{attachment.public_id}",
            "contentType": attachment.media_type,
            "size": attachment.size,
            "title": text(attachment.filename),
        }
        payload.append({"contentAttachment": _compact(content)})
    return _make(
        Communication,
        id=str(message.public_id),
        status="completed",
        subject=_patient_ref(space),
        topic=_concept(conversation.subject),
        sent=message.sent_at,
        sender=sender,
        recipient=[recipient],
        payload=payload,
    )


def consent(decision) -> Consent:
    """A patient's decision about one professional: an `Authorisation` (permit) or a `Block`
    (deny). Id: uuid5 of the space's public id, the kind and the professional's public id."""
    from carnet.consent.models import Authorisation

    permit = isinstance(decision, Authorisation)
    kind = "autorisation" if permit else "blocage"
    space, pro = decision.space, decision.professional
    rule = codes.OPT_IN if permit else codes.OPT_OUT
    return _make(
        Consent,
        id=str(uuid.uuid5(space.public_id, f"{kind}:{pro.public_id}")),
        status="active",
        scope=_concept(None, _coding(codes.CONSENT_SCOPE, codes.PRIVACY)),
        category=[_concept(None, _coding(codes.LOINC, codes.CONSENT_CATEGORY))],
        patient=_patient_ref(space),
        dateTime=decision.attested_at if permit else decision.blocked_at,
        policyRule=_concept(None, _coding(codes.ACT_CODE, rule)),
        provision={
            "type": "permit" if permit else "deny",
            "actor": [
                {
                    "role": _concept(None, _coding(codes.PARTICIPATION_TYPE, codes.RECIPIENT)),
                    "reference": _pro_ref(pro),
                }
            ],
        },
    )


def consents(space) -> list[Consent]:
    """Every authorisation and block of a space."""
    from carnet.consent.models import Authorisation, Block

    rows = [
        *Authorisation.objects.filter(space=space).select_related("space", "professional"),
        *Block.objects.filter(space=space).select_related("space", "professional"),
    ]
    return [consent(row) for row in rows]


# Our audit actions → FHIR AuditEvent.action (C, R, U, D, E), by the words they contain.
_AUDIT_VERBS = [
    ("R", ("consultation", "lecture", "telechargement", "liste", "_lue", "exporte")),
    ("C", ("ajout", "atteste", "_cree", "envoye", "recu", "import", "rattache", "designe")),
    ("D", ("suppression", "supprimee", "purge", "retire")),
    ("U", ("modif", "masque", "affiche", "epingle", "bloque", "parametres", "donne", "archivee",
           "remplace", "restauration", "statut", "rappels", "revoque")),
]  # fmt: skip
_AUDIT_TYPES = {
    "space": "Patient",
    "document": "DocumentReference",
    "appointment": "Appointment",
    "message": "Communication",
    "condition": "Condition",
    "treatment": "MedicationStatement",
    "hospitalisation": "Procedure",
    "familyhistory": "FamilyMemberHistory",
    "allergy": "AllergyIntolerance",
    "vaccination": "Immunization",
    "measurement": "Observation",
    "bloodgroup": "Observation",
}
_ACTOR_KINDS = {
    "systeme": "Le service Carnet",
    "operateur": "L'Assurance Maladie",
    "anonyme": "Personne non connectée",
}


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _actor(actor: str) -> dict:
    """ "professionnel:<uuid>" → the professional by RPPS; "usager:<uuid>" → their name."""
    from carnet.accounts.models import User

    kind, _, key = actor.partition(":")
    user = None
    if kind in ("usager", "professionnel") and (public_id := _uuid(key)) is not None:
        user = User.objects.select_related("person", "professional").filter(public_id=public_id)
        user = user.first()
    professional = getattr(user, "professional", None) if user else None
    if professional is not None:
        return _pro_ref(professional)
    if user is not None and user.person_id is not None:
        return {"display": _person_name(user.person)}
    labels = {"usager": "Usager", "professionnel": "Professionnel de santé", **_ACTOR_KINDS}
    return {"display": labels.get(kind, "Autre")}


def audit_event(event) -> AuditEvent:
    """One event of the trail. Id "<chain>.<seq>" (unique, and finds the row again)."""
    from carnet.accounts.selectors import ACTIONS

    label = event.action.replace("_", " ").capitalize()  # as the trail shows an unnamed one
    verb = next((v for v, words in _AUDIT_VERBS if any(w in event.action for w in words)), "E")
    entities = []
    if event.space_id:
        role = _coding(codes.AUDIT_OBJECT_ROLE, codes.OBJECT_ROLE_PATIENT)
        entities.append({"what": _ref("Patient", event.space_id), "role": role})
    kind = _AUDIT_TYPES.get(event.object_type)
    if kind and _uuid(event.object_id) and str(_uuid(event.object_id)) != str(event.space_id):
        entities.append({"what": _ref(kind, _uuid(event.object_id))})
    # No network address: the people's IP addresses are the service's, not the app's to read.
    agent = {"who": _actor(event.actor), "requestor": True}
    return _make(
        AuditEvent,
        id=f"{event.chain}.{event.seq}",
        type=_coding(codes.AUDIT_ACTION, Code(event.action, ACTIONS.get(event.action, label))),
        action=verb,
        recorded=event.at,
        agent=[agent],
        source={"observer": {"display": "Carnet"}},
        entity=entities,
    )


# --- Bundles ----------------------------------------------------------------------------------


def _live(space, model):
    """The live rows of a section, with what the mappers read (one query per section)."""
    return entries(space, model).select_related(
        "space__person", "author__person", "author__professional"
    )


def _listed(result) -> list:
    if result is None:
        return []
    return result if isinstance(result, list) else [result]


# Every live profile resource: (model, mapper returning a resource, a list or None).
PROFILE_MAPPERS = [
    (profile.Condition, condition),
    (profile.Treatment, medication_statement),
    (profile.Hospitalisation, procedure),
    (profile.FamilyHistory, family_member_history),
    (profile.Allergy, allergy_intolerance),
    (profile.Vaccination, immunization),
    (profile.Measurement, observation),
    (profile.BloodGroup, blood_group_observation),
    (profile.Lifestyle, lifestyle_observations),
]


def profile_resources(space) -> list:
    found = []
    for model, mapper in PROFILE_MAPPERS:
        for row in _live(space, model):
            found.extend(_listed(mapper(row)))
    return found


_REFERENCE = re.compile(r"^[A-Za-z]+/([0-9a-f-]{36})$")


def _localised(value, ids: set[str]):
    """References to resources of the bundle become their `urn:uuid:` full URLs."""
    if isinstance(value, list):
        return [_localised(v, ids) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _localised(v, ids) for k, v in value.items()}
    found = _REFERENCE.match(str(out.get("reference", "")))
    if found and found.group(1) in ids:
        out["reference"] = f"urn:uuid:{found.group(1)}"
    return out


def _bundle(resources: list, **values) -> Bundle:
    unique = list({r.id: r for r in resources}.values())
    ids = {r.id for r in unique}
    entry = [
        {"fullUrl": f"urn:uuid:{r.id}", "resource": _localised(r.model_dump(mode="json"), ids)}
        for r in unique
    ]
    return _make(Bundle, entry=entry, **values)


def profile_bundle(space, *, now=None) -> Bundle:
    """A `collection`: the Patient and every live profile resource (for the data export)."""
    return _bundle([patient(space), *profile_resources(space)], type="collection", timestamp=now)


@dataclass
class _Section:
    code: Code
    title: str
    items: list = field(default_factory=list)  # (narrative line, resource)
    required: bool = False


def _line(row) -> str:
    parts = [f"{label} : {value}" for label, value in row.summary()]
    if isinstance(row, profile.Measurement):
        parts.append(f"le {timezone.localtime(row.taken_at):%d/%m/%Y}")
    return " ; ".join(parts) or str(row)


def _latest(space, kinds) -> list:
    """The latest measurement of each kind: one indexed query per kind, whatever the history."""
    rows = _live(space, profile.Measurement).order_by("-taken_at", "-id")
    return [m for kind in kinds if (m := rows.filter(kind=kind).first()) is not None]


def _sections(space) -> list[_Section]:
    def rows(model, mapper, **filters):
        return [(_line(r), res) for r in _live(space, model).filter(**filters)
                for res in _listed(mapper(r))]  # fmt: skip

    vital = [k for k, m in codes.MEASURES.items() if m.category == codes.VITAL]
    lab = [k for k, m in codes.MEASURES.items() if m.category == codes.LAB]
    return [
        _Section(codes.SECTION_MEDICATIONS, "Traitements en cours",
                 rows(profile.Treatment, medication_statement, ongoing=True), required=True),
        _Section(codes.SECTION_ALLERGIES, "Allergies",
                 rows(profile.Allergy, allergy_intolerance), required=True),
        _Section(codes.SECTION_PROBLEMS, "Maladies et sujets de santé en cours",
                 rows(profile.Condition, condition, ongoing=True), required=True),
        _Section(codes.SECTION_PAST_ILLNESS, "Antécédents",
                 rows(profile.Condition, condition, ongoing=False)),
        _Section(codes.SECTION_PROCEDURES, "Hospitalisations et chirurgies",
                 rows(profile.Hospitalisation, procedure)),
        _Section(codes.SECTION_IMMUNIZATIONS, "Vaccinations",
                 rows(profile.Vaccination, immunization)),
        _Section(codes.SECTION_VITAL_SIGNS, "Signes vitaux (dernières mesures)",
                 [(_line(m), observation(m)) for m in _latest(space, vital)]),
        _Section(codes.SECTION_RESULTS, "Résultats",
                 [(_line(m), observation(m)) for m in _latest(space, lab)]
                 + rows(profile.BloodGroup, blood_group_observation)),
        _Section(codes.SECTION_SOCIAL_HISTORY, "Habitudes de vie",
                 rows(profile.Lifestyle, lifestyle_observations)),
    ]  # fmt: skip


def _section(s: _Section) -> dict:
    empty = not s.items
    lines = list(dict.fromkeys(line for line, _ in s.items))  # a lifestyle row: two resources
    return _compact(
        {
            "title": s.title,
            "code": _concept(None, _coding(codes.LOINC, s.code)),
            "text": narrative(lines),
            "entry": [{"reference": reference(r)} for _, r in s.items],
            "emptyReason": (
                _concept(None, _coding(codes.LIST_EMPTY_REASON, codes.EMPTY_UNAVAILABLE))
                if empty
                else None
            ),
        }
    )


def _device() -> Device:
    return _make(
        Device,
        id=DEVICE_ID,
        deviceName=[{"name": "Carnet", "type": "user-friendly-name"}],
    )


def ips_bundle(space, *, now) -> Bundle:
    """The International Patient Summary: a `document` Bundle, its Composition first."""
    sections = [s for s in _sections(space) if s.required or s.items]
    composition_id = uuid.uuid5(space.public_id, f"ips:{now.isoformat()}")
    title = "Synthèse médicale"
    composition = _make(
        Composition,
        id=str(composition_id),
        status="final",
        type=_concept(title, _coding(codes.LOINC, codes.IPS_DOCUMENT)),
        subject=_patient_ref(space, named=True),
        date=now,
        author=[_ref("Device", DEVICE_ID, "Carnet")],
        title=title,
        event=[
            {
                "code": [_concept(None, _coding(codes.ACT_CLASS, codes.CARE_PROVISION))],
                "period": {"end": now},
            }
        ],
        section=[_section(s) for s in sections],
    )
    resources = [composition, patient(space), _device()]
    resources += [resource for s in sections for _, resource in s.items]
    bundle_id = uuid.uuid5(composition_id, "bundle")
    return _bundle(
        resources,
        id=str(bundle_id),
        identifier={"system": codes.BUNDLE_IDENTIFIER, "value": f"urn:uuid:{bundle_id}"},
        type="document",
        timestamp=now,
    )


def to_json(resource) -> str:
    """The FHIR JSON of a resource (with `resourceType`, without empty elements)."""
    return resource.model_dump_json(exclude_none=True)
