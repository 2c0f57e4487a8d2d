"""The consent services, each through its function: what they allow, write to the trail and
queue in the outbox, and what they refuse without writing anything (issue 6)."""

from datetime import timedelta

import pytest
from django.conf import settings

from carnet.audit.models import Event
from carnet.consent import rules, services
from carnet.consent.models import (
    Action,
    Authorisation,
    Block,
    EmergencyAccess,
    EmergencySettings,
    TreatingDoctor,
)
from carnet.core import clock
from carnet.documents.models import Category
from carnet.enrollment import services as enrollment
from carnet.notifications.models import OutboxMessage

from .conftest import authorise, block, make_professional, make_treating

pytestmark = pytest.mark.django_db

CLIENT = "198.51.100.9"
DURATION = settings.CARNET["EMERGENCY_ACCESS_DURATION"]
REASON = "Patient inconscient aux urgences, allergies à vérifier"
TREATING_MESSAGE = (
    "Votre médecin traitant ne peut pas être bloqué : désignez d'abord un autre médecin traitant."
)


def written():
    """Everything a service may write: compared before and after a refusal."""
    return {
        model.__name__: model.objects.count()
        for model in (
            Event,
            OutboxMessage,
            Authorisation,
            Block,
            TreatingDoctor,
            EmergencyAccess,
        )
    }


def outbox_mark() -> int:
    """The last message queued so far (the patients' activation queued some)."""
    last = OutboxMessage.objects.order_by("-id").first()
    return last.id if last else 0


def queued_since(mark):
    return OutboxMessage.objects.filter(id__gt=mark).order_by("id")


def events(space, action):
    return list(Event.objects.filter(space_id=space.public_id, action=action).order_by("seq"))


def access_events(space):
    return list(Event.objects.filter(space_id=space.public_id, action__startswith="acces_"))


def read(professional, space, doc):
    return rules.decide(professional.user, space, Action.DOCUMENT_READ, doc)


def with_verified_email(professional, email):
    user = professional.user
    user.email = email
    user.email_verified = True
    user.save(update_fields=["email", "email_verified"])
    return professional


@pytest.fixture
def doc(docs):
    """A visible document a médecin may read."""
    return docs[Category.CPT_REND]


def test_alice_has_a_verified_email(alice):
    # notify() only emails a verified address: the patient notices below rely on it.
    assert alice.email == "alice.martin@exemple.fr"
    assert alice.email_verified


# --- access() --------------------------------------------------------------------------------


def test_access_allowed_document_read_is_audited_with_reason_and_document(space, doc, generalist):
    authorise(space, generalist)

    decision = services.access(generalist.user, space, Action.DOCUMENT_READ, doc, client=CLIENT)

    assert decision == rules.Decision(True, rules.AUTHORISED)
    [event] = access_events(space)
    assert event.action == "acces_document_lecture"
    assert event.actor == generalist.user.actor
    assert event.object_type == "document"
    assert event.object_id == str(doc.public_id)
    assert event.detail == {"motif": "autorise"}
    assert event.client == CLIENT


def test_access_allowed_without_object_is_audited_with_reason_only(space, generalist):
    make_treating(space, generalist)

    decision = services.access(generalist.user, space, Action.DOCUMENT_LIST)

    assert decision.reason == rules.TREATING
    [event] = access_events(space)
    assert event.action == "acces_documents_liste"
    assert (event.object_type, event.object_id) == ("", "")
    assert event.detail == {"motif": "medecin_traitant"}


def test_access_of_the_care_team_is_audited_as_such(space, doc, generalist, colleague):
    authorise(space, generalist)

    services.access(colleague.user, space, Action.DOCUMENT_READ, doc)

    [event] = access_events(space)
    assert event.actor == colleague.user.actor
    assert event.detail == {"motif": "equipe"}


def test_the_owner_access_writes_no_access_event(alice, space, doc, hidden_doc):
    before = written()

    for action, obj in [
        (Action.DOCUMENT_READ, doc),
        (Action.DOCUMENT_READ, hidden_doc),
        (Action.DOCUMENT_LIST, None),
        (Action.SYNTHESIS_READ, None),
    ]:
        assert services.access(alice, space, action, obj).reason == rules.OWNER

    assert access_events(space) == []
    assert written() == before


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda space, pro: None, rules.NO_CONSENT),
        (lambda space, pro: (authorise(space, pro), block(space, pro)), rules.BLOCKED),
    ],
    ids=["sans_autorisation", "bloque"],
)
def test_access_denied_raises_with_the_decision_and_writes_nothing(
    space, doc, outsider, setup, reason
):
    setup(space, outsider)
    before = written()

    with pytest.raises(services.Denied) as denied:
        services.access(outsider.user, space, Action.DOCUMENT_READ, doc)

    assert denied.value.decision == rules.Decision(False, reason)
    assert written() == before


def test_access_to_a_hidden_document_is_denied_and_not_audited(space, hidden_doc, generalist):
    authorise(space, generalist)
    before = written()

    with pytest.raises(services.Denied) as denied:
        services.access(generalist.user, space, Action.DOCUMENT_READ, hidden_doc)

    assert denied.value.decision.reason == rules.HIDDEN
    assert written() == before


def test_access_denied_to_a_patient_of_another_space(space, doc, bob):
    before = written()

    with pytest.raises(services.Denied) as denied:
        services.access(bob, space, Action.DOCUMENT_READ, doc)

    assert denied.value.decision.reason == rules.NOT_A_PROFESSIONAL
    assert written() == before


# --- consent_attest() ------------------------------------------------------------------------


def test_consent_attest_creates_the_authorisation_audits_and_tells_the_patient(
    alice, space, docs, generalist
):
    mark = outbox_mark()

    authorisation = services.consent_attest(
        user=generalist.user, professional=generalist, space=space, client=CLIENT
    )

    assert Authorisation.objects.get() == authorisation
    assert (authorisation.space, authorisation.professional) == (space, generalist)
    assert not authorisation.administrator
    [event] = events(space, "consentement_atteste")
    assert event.actor == generalist.user.actor
    assert event.client == CLIENT
    [message] = queued_since(mark)
    assert message.channel == OutboxMessage.Channel.EMAIL
    assert message.to == alice.email
    assert message.kind == "nouveau_professionnel"
    assert message.subject == "Un nouveau professionnel a accédé à votre dossier"
    # No health content: no document, no category, no professional.
    text = f"{message.subject}\n{message.body}"
    for document in docs.values():
        assert document.title not in text
    for code, label in Category.choices:
        assert code not in text
        assert label not in text
    for name in (generalist.last_name, generalist.first_name, generalist.rpps, generalist.finess):
        assert name not in text
    # Once attested, the professional may read.
    assert read(generalist, space, docs[Category.CPT_REND]).reason == rules.AUTHORISED


def test_consent_attest_twice_creates_and_sends_nothing_more(space, generalist):
    first = services.consent_attest(user=generalist.user, professional=generalist, space=space)
    before = written()

    second = services.consent_attest(user=generalist.user, professional=generalist, space=space)

    assert second == first
    assert written() == before
    assert len(events(space, "consentement_atteste")) == 1
    assert OutboxMessage.objects.filter(kind="nouveau_professionnel").count() == 1


def test_consent_attest_refused_on_a_closed_space(alice, space, generalist):
    space = enrollment.space_close(space=space, actor=alice.actor, confirmed=True)
    before = written()

    with pytest.raises(services.Denied) as denied:
        services.consent_attest(user=generalist.user, professional=generalist, space=space)

    assert denied.value.decision == rules.Decision(False, rules.INACTIVE_SPACE)
    assert written() == before


def test_consent_attest_refused_for_a_blocked_professional(space, generalist):
    block(space, generalist)
    before = written()

    with pytest.raises(services.Denied) as denied:
        services.consent_attest(user=generalist.user, professional=generalist, space=space)

    assert denied.value.decision == rules.Decision(False, rules.BLOCKED)
    assert written() == before


# --- block_set() -----------------------------------------------------------------------------


def test_block_and_unblock_are_audited_and_decide_follows(alice, space, doc, generalist):
    authorise(space, generalist)

    services.block_set(
        user=alice, space=space, professional=generalist, blocked=True, client=CLIENT
    )

    assert Block.objects.filter(space=space, professional=generalist).exists()
    [event] = events(space, "professionnel_bloque")
    assert event.actor == alice.actor
    assert (event.object_type, event.object_id) == ("professionnel", str(generalist.public_id))
    assert event.client == CLIENT
    assert read(generalist, space, doc) == rules.Decision(False, rules.BLOCKED)
    for action in Action.values:
        obj = doc if action == Action.DOCUMENT_READ else None
        assert rules.decide(generalist.user, space, action, obj).reason == rules.BLOCKED

    services.block_set(user=alice, space=space, professional=generalist, blocked=False)

    assert not Block.objects.exists()
    [event] = events(space, "professionnel_debloque")
    assert event.object_id == str(generalist.public_id)
    assert read(generalist, space, doc) == rules.Decision(True, rules.AUTHORISED)


def test_blocking_twice_keeps_one_block(alice, space, generalist):
    services.block_set(user=alice, space=space, professional=generalist, blocked=True)
    services.block_set(user=alice, space=space, professional=generalist, blocked=True)

    assert Block.objects.filter(space=space, professional=generalist).count() == 1


def test_the_treating_doctor_cannot_be_blocked(alice, space, generalist):
    make_treating(space, generalist)
    before = written()

    with pytest.raises(ValueError) as error:
        services.block_set(user=alice, space=space, professional=generalist, blocked=True)

    assert str(error.value) == TREATING_MESSAGE
    assert written() == before


# --- treating_doctor_set() -------------------------------------------------------------------


@pytest.mark.parametrize("profession", ["pharmacien", "chirurgien_dentiste", "infirmier"])
def test_only_a_medecin_can_be_the_treating_doctor(alice, space, profession):
    professional = make_professional(profession)
    before = written()

    with pytest.raises(ValueError, match="doit être un médecin"):
        services.treating_doctor_set(user=alice, space=space, professional=professional)

    assert written() == before


def test_designating_the_treating_doctor_removes_a_block_and_opens_hidden_documents(
    alice, space, hidden_doc, generalist
):
    authorise(space, generalist)
    block(space, generalist)
    assert read(generalist, space, hidden_doc).reason == rules.BLOCKED

    services.treating_doctor_set(user=alice, space=space, professional=generalist, client=CLIENT)

    assert TreatingDoctor.objects.get(space=space).professional == generalist
    assert not Block.objects.exists()
    [event] = events(space, "medecin_traitant_designe")
    assert event.actor == alice.actor
    assert (event.object_type, event.object_id) == ("professionnel", str(generalist.public_id))
    assert read(generalist, space, hidden_doc) == rules.Decision(True, rules.TREATING)


def test_a_new_treating_doctor_replaces_the_previous_one(alice, space, hidden_doc, generalist):
    previous = make_professional("medecin", first_name="Jean")
    make_treating(space, previous)
    assert read(previous, space, hidden_doc).reason == rules.TREATING
    assert read(generalist, space, hidden_doc).reason == rules.NO_CONSENT

    services.treating_doctor_set(user=alice, space=space, professional=generalist)

    assert TreatingDoctor.objects.get(space=space).professional == generalist
    assert read(generalist, space, hidden_doc) == rules.Decision(True, rules.TREATING)
    assert read(previous, space, hidden_doc).reason == rules.NO_CONSENT
    # The former médecin traitant can now be blocked.
    services.block_set(user=alice, space=space, professional=previous, blocked=True)
    assert read(previous, space, hidden_doc).reason == rules.BLOCKED


# --- administrator_set() ---------------------------------------------------------------------


def test_administrator_needs_an_authorisation(alice, space, generalist):
    before = written()

    with pytest.raises(ValueError, match="recueilli votre consentement"):
        services.administrator_set(
            user=alice, space=space, professional=generalist, administrator=True
        )

    assert written() == before


def test_administrator_toggles_hidden_documents(alice, space, hidden_doc, generalist, outsider):
    authorise(space, generalist)
    authorise(space, outsider)
    assert read(generalist, space, hidden_doc) == rules.Decision(False, rules.HIDDEN)

    services.administrator_set(
        user=alice, space=space, professional=generalist, administrator=True, client=CLIENT
    )

    assert Authorisation.objects.get(professional=generalist).administrator
    [event] = events(space, "administrateur_donne")
    assert event.actor == alice.actor
    assert (event.object_type, event.object_id) == ("professionnel", str(generalist.public_id))
    assert event.client == CLIENT
    assert read(generalist, space, hidden_doc) == rules.Decision(True, rules.AUTHORISED)
    # Only that professional.
    assert read(outsider, space, hidden_doc) == rules.Decision(False, rules.HIDDEN)

    services.administrator_set(
        user=alice, space=space, professional=generalist, administrator=False
    )

    assert not Authorisation.objects.get(professional=generalist).administrator
    [event] = events(space, "administrateur_retire")
    assert event.object_id == str(generalist.public_id)
    assert read(generalist, space, hidden_doc) == rules.Decision(False, rules.HIDDEN)


# --- emergency_start() -----------------------------------------------------------------------


def start(professional, space, reason=REASON, kind=EmergencyAccess.Kind.OTHER, **kwargs):
    return services.emergency_start(
        user=professional.user,
        professional=professional,
        space=space,
        kind=kind,
        reason=reason,
        **kwargs,
    )


@pytest.mark.parametrize("reason", ["", "urgence", "  court   ", "a b c d e"])
def test_emergency_needs_a_reason_of_ten_characters(space, outsider, reason):
    before = written()

    with pytest.raises(ValueError, match="10 caractères"):
        start(outsider, space, reason)

    assert written() == before


@pytest.mark.parametrize(
    ("kind", "switch"),
    [
        (EmergencyAccess.Kind.OTHER, "emergency_allowed"),
        (EmergencyAccess.Kind.SAMU, "samu_allowed"),
    ],
)
def test_emergency_refused_when_the_patient_switched_it_off(space, outsider, kind, switch):
    EmergencySettings.objects.create(space=space, **{switch: False})
    before = written()

    with pytest.raises(services.Denied) as denied:
        start(outsider, space, kind=kind)

    assert denied.value.decision == rules.Decision(False, rules.EMERGENCY_REFUSED)
    assert written() == before


def test_emergency_refused_to_a_blocked_professional(space, outsider):
    block(space, outsider)
    before = written()

    with pytest.raises(services.Denied) as denied:
        start(outsider, space)

    assert denied.value.decision.reason == rules.BLOCKED
    assert written() == before


def test_emergency_opens_reads_for_the_duration_and_tells_patient_and_treating_doctor(
    alice, space, doc, hidden_doc, outsider, generalist
):
    make_treating(space, with_verified_email(generalist, "dr.claire@exemple.fr"))
    assert read(outsider, space, doc).reason == rules.NO_CONSENT
    mark = outbox_mark()

    emergency = start(outsider, space, client=CLIENT)

    assert EmergencyAccess.objects.get() == emergency
    assert (emergency.space, emergency.professional) == (space, outsider)
    assert emergency.kind == EmergencyAccess.Kind.OTHER
    assert emergency.reason == REASON
    assert emergency.expires_at - emergency.started_at == DURATION
    [event] = events(space, "acces_urgence_ouvert")
    assert event.actor == outsider.user.actor
    assert event.client == CLIENT
    assert event.detail == {"type": "urgence"}
    assert REASON not in str(event.detail)
    messages = queued_since(mark)
    assert sorted(m.to for m in messages) == sorted([alice.email, "dr.claire@exemple.fr"])
    assert {m.kind for m in messages} == {"acces_urgence"}
    for message in messages:
        assert message.channel == OutboxMessage.Channel.EMAIL
        assert REASON not in message.subject + message.body
        assert "inconscient" not in message.body
        assert outsider.last_name not in message.body
    patient = messages.get(to=alice.email)
    doctor = messages.get(to="dr.claire@exemple.fr")
    assert "votre dossier" in patient.body
    assert "médecin traitant" in doctor.body

    # Reads allowed by the emergency, hidden documents kept hidden (switch off by default).
    assert read(outsider, space, doc) == rules.Decision(True, rules.EMERGENCY)
    assert read(outsider, space, hidden_doc) == rules.Decision(False, rules.HIDDEN)
    with clock.travel(DURATION - timedelta(minutes=1)):
        assert read(outsider, space, doc) == rules.Decision(True, rules.EMERGENCY)
    with clock.travel(DURATION + timedelta(seconds=1)):
        assert read(outsider, space, doc) == rules.Decision(False, rules.NO_CONSENT)
        with pytest.raises(services.Denied):
            services.access(outsider.user, space, Action.DOCUMENT_READ, doc)


def test_emergency_reason_is_normalised(space, outsider):
    emergency = start(outsider, space, "  Patient   inconscient\n aux urgences ")

    assert emergency.reason == "Patient inconscient aux urgences"


def test_emergency_without_treating_doctor_emails_only_the_patient(alice, space, outsider):
    mark = outbox_mark()

    start(outsider, space, kind=EmergencyAccess.Kind.SAMU)

    [message] = queued_since(mark)
    assert message.to == alice.email
    assert message.kind == "acces_urgence"
    assert events(space, "acces_urgence_ouvert")[0].detail == {"type": "samu"}


@pytest.mark.parametrize("linked", ["no_user", "unverified"])
def test_emergency_emails_no_treating_doctor_without_a_verified_email(
    alice, space, outsider, linked
):
    if linked == "no_user":
        doctor = make_professional("medecin", user=False)
    else:
        doctor = make_professional("medecin")
        doctor.user.email = "dr.nonverifie@exemple.fr"
        doctor.user.save(update_fields=["email"])
    make_treating(space, doctor)
    mark = outbox_mark()

    start(outsider, space)

    assert list(queued_since(mark).values_list("to", flat=True)) == [alice.email]


def test_emergency_with_hidden_documents_allowed_opens_them(space, hidden_doc, outsider):
    EmergencySettings.objects.create(space=space, hidden_visible=True)

    start(outsider, space)

    assert read(outsider, space, hidden_doc) == rules.Decision(True, rules.EMERGENCY)
