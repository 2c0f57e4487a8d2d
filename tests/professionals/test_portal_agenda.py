"""The pro portal's « Rendez-vous » of a patient: a professional whom consent lets in adds an
appointment to the patient's agenda (their own name, source « professionnel »), lists the ones they
added, changes or cancels them. Adding writes the access event with the agenda's own; every refusal,
and another professional's appointment, is the 404 of a missing id; the patient cannot change what
a professional added."""

import re
from datetime import datetime, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from carnet.agenda import services as agenda
from carnet.agenda.models import Appointment
from carnet.audit.models import Event
from carnet.core import clock
from carnet.enrollment.selectors import space_for_user
from carnet.notifications.models import OutboxMessage
from carnet.professionals.portal_agenda import source_name
from tests.consent.conftest import (
    FINESS_HOSPITAL,
    authorise,
    block,
    emergency,
    make_professional,
    make_treating,
)
from tests.pages import field_error, is_invalid

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
MISSING = "00000000-0000-0000-0000-000000000001"
NAV = re.compile(r'<nav aria-label="Rubriques du dossier du patient".*?</nav>', re.S)


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def generalist(db):
    return make_professional("medecin", finess=FINESS_HOSPITAL, last_name="NOGUES")


@pytest.fixture
def colleague(db):
    """A médecin of the same establishment: the care team lets him in, not into her appointments."""
    return make_professional("medecin", finess=FINESS_HOSPITAL, first_name="Paul")


def pro_client(professional) -> Client:
    client = Client()
    client.force_login(professional.user)
    return client


def url(space_id, suffix=""):
    return f"/pro/patients/{space_id}/rendez-vous/{suffix}"


def edit_url(space, appointment):
    return url(space.public_id, f"{appointment.public_id}/modifier/")


def cancel_url(space, appointment):
    return url(space.public_id, f"{appointment.public_id}/annuler/")


def html(response) -> str:
    return CSRF.sub("", response.content.decode())


def local(days: int, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(
        datetime.combine(clock.today() + timedelta(days=days), time(hour, minute))
    )


def form(**values) -> dict:
    data = {
        "title": "Consultation de suivi",
        "date": (clock.today() + timedelta(days=7)).isoformat(),
        "start_time": "14:30",
        "duration": "30",
        "end_time": "",
        "place": "Cabinet des Tilleuls, 3 rue des Lilas, Paris",
        "notes": "Apporter les derniers résultats.",
    }
    data.update(values)
    return data


def added_by(professional, space, *, title="Consultation", days=7, hour=10) -> Appointment:
    """An appointment the professional added, through the agenda's service as the portal does."""
    return agenda.appointment_add(
        user=professional.user,
        space=space,
        data=agenda.AppointmentData(
            title=title,
            starts_at=local(days, hour),
            ends_at=local(days, hour) + timedelta(minutes=20),
            professional=professional,
        ),
        source=Appointment.Source.PROFESSIONAL,
        source_name=source_name(professional),
    )


def events(space, action=None):
    found = Event.objects.filter(space_id=space.public_id, actor__startswith="professionnel:")
    return found.filter(action=action) if action else found


# --- Adding -----------------------------------------------------------------------------


def test_an_authorised_doctor_adds_an_appointment_to_the_patients_agenda(generalist, alice, space):
    authorise(space, generalist)
    client = pro_client(generalist)
    outbox = OutboxMessage.objects.count()

    response = client.post(url(space.public_id), form(), REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 302
    assert response["Location"] == url(space.public_id)
    [appointment] = Appointment.objects.filter(space=space)
    assert appointment.source == Appointment.Source.PROFESSIONAL
    assert appointment.source_name == "Dr Claire NOGUES"
    assert appointment.professional == generalist
    assert appointment.professional_name == "Claire NOGUES"
    assert appointment.author == generalist.user
    assert appointment.title == "Consultation de suivi"
    assert appointment.starts_at == local(7, 14, 30)
    assert appointment.ends_at == local(7, 15, 0)
    assert appointment.place == "Cabinet des Tilleuls, 3 rue des Lilas, Paris"
    assert appointment.notes == "Apporter les derniers résultats."
    assert appointment.read_only
    # The patient's usual reminder (24 hours before by default) is the only notice.
    assert appointment.notify_at == local(6, 14, 30)
    assert OutboxMessage.objects.count() == outbox

    # Two events, both the professional's: the access that allowed it, and the addition.
    access, addition = events(space).order_by("seq")
    assert (access.action, access.detail, access.client) == (
        "acces_rendez_vous_ajout",
        {"motif": "autorise"},
        "198.51.100.7",
    )
    assert (addition.action, addition.object_id) == (
        "rendez_vous_ajout",
        str(appointment.public_id),
    )
    assert addition.actor == access.actor == generalist.user.actor

    page = client.get(response["Location"])
    text = page.content.decode()
    assert "Le rendez-vous a été ajouté à l&#x27;agenda du patient." in text
    assert "Consultation de suivi" in text
    assert "de 14:30 à 15:00" in text
    assert edit_url(space, appointment) in text and cancel_url(space, appointment) in text

    # The patient reads the addition in their history, by the professional.
    patient = Client()
    patient.force_login(alice)
    rows = patient.get("/historique/").context["rows"]
    labels = {row.label for row in rows if "NOGUES" in row.who}
    assert "Ajout d'un rendez-vous par un professionnel" in labels


def test_an_end_time_instead_of_a_duration_and_the_optional_fields_left_empty(generalist, space):
    authorise(space, generalist)
    response = pro_client(generalist).post(
        url(space.public_id),
        form(title="", duration="", end_time="15:10", place="", notes=""),
    )
    assert response.status_code == 302
    [appointment] = Appointment.objects.filter(space=space)
    assert (appointment.starts_at, appointment.ends_at) == (local(7, 14, 30), local(7, 15, 10))
    assert appointment.title == appointment.place == appointment.notes == ""

    pro_client(generalist).post(url(space.public_id), form(duration="", date="2099-01-01"))
    assert Appointment.objects.count() == 1


def test_other_professions_are_named_with_their_profession(space):
    pharmacist = make_professional("pharmacien", first_name="Hugo", last_name="MARTIN")
    authorise(space, pharmacist)
    assert pro_client(pharmacist).post(url(space.public_id), form()).status_code == 302
    assert Appointment.objects.get(space=space).source_name == "Hugo MARTIN, Pharmacien"
    dentist = make_professional("chirurgien_dentiste", first_name="Inès", last_name="ROUX")
    assert source_name(dentist) == "Dr Inès ROUX"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"date": ""}, "date", "Indiquez la date du rendez-vous."),
        ({"date": "31/02/2027"}, "date", "Indiquez une date valide, par exemple 17/03/2027."),
        ({"start_time": ""}, "start_time", "Indiquez l'heure du rendez-vous."),
        ({"start_time": "25:00"}, "start_time", "Indiquez une heure valide, par exemple 14:30."),
        ({"duration": "7"}, "duration", "Choisissez une durée de la liste."),
        (
            {"end_time": "15:00"},
            "end_time",
            "Indiquez une durée ou une heure de fin, pas les deux.",
        ),
        (
            {"duration": "", "end_time": "14:00"},
            "end_time",
            "L'heure de fin doit être après l'heure de début.",
        ),
        (
            {"date": "2020-01-01"},
            "date",
            "Le rendez-vous doit être à venir : choisissez une date et une heure futures.",
        ),
        ({"title": "x" * 101}, "title", "L'objet ne doit pas dépasser 100 caractères."),
        ({"place": "x" * 201}, "place", "Le lieu ne doit pas dépasser 200 caractères."),
        ({"notes": "x" * 1001}, "notes", "Les notes ne doivent pas dépasser 1000 caractères."),
    ],
)
def test_bad_input_is_said_next_to_its_field_and_changes_nothing(
    generalist, space, values, field, message
):
    authorise(space, generalist)
    response = pro_client(generalist).post(url(space.public_id), form(**values))
    assert response.status_code == 400
    page = response.content.decode()
    assert field_error(page, field) == message
    assert is_invalid(page, field)
    assert f'aria-describedby="id_{field}-aide id_{field}-erreur"' in page
    assert f'href="#id_{field}"' in page  # the summary links to the field
    assert page.count("<h1>") == 1 and "<title>Erreur : " in page
    assert not Appointment.objects.exists()
    assert not events(space).exists()


def test_a_time_already_past_today_and_a_date_too_far_ahead(generalist, space):
    authorise(space, generalist)
    client = pro_client(generalist)
    clock.set_offset(local(0, 15) - clock.now())  # today, 15:00
    earlier = client.post(url(space.public_id), form(date=clock.today().isoformat()))
    assert field_error(earlier.content.decode(), "start_time").startswith(
        "Le rendez-vous doit être à venir"
    )
    too_far = (clock.today() + timedelta(days=800)).isoformat()
    page = client.post(url(space.public_id), form(date=too_far)).content.decode()
    assert field_error(page, "date").startswith("Choisissez une date au plus tard le ")
    assert client.post(url(space.public_id), form(date="9999-12-31")).status_code == 400
    later = client.post(
        url(space.public_id), form(date=clock.today().isoformat(), start_time="16h")
    )
    assert later.status_code == 302
    assert Appointment.objects.get().starts_at == local(0, 16)


# --- The list ---------------------------------------------------------------------------


def test_the_list_shows_this_professionals_appointments_upcoming_first(
    generalist, colleague, alice, space, django_assert_max_num_queries
):
    authorise(space, generalist)
    past = added_by(generalist, space, title="Passé", days=-3)
    later = added_by(generalist, space, title="Plus tard", days=20)
    sooner = added_by(generalist, space, title="Bientôt", days=2)
    cancelled = added_by(generalist, space, title="Annulé", days=4)
    agenda.appointment_delete(user=generalist.user, appointment=cancelled, by_source=True)
    added_by(colleague, space, title="Du collègue", days=3)
    agenda.appointment_add(
        user=alice,
        space=space,
        data=agenda.AppointmentData(
            title="Le mien", starts_at=local(5, 9), professional=generalist
        ),
    )
    client = pro_client(generalist)

    response = client.get(url(space.public_id))

    assert response.status_code == 200
    text = response.content.decode()
    assert [a.title for a in response.context["upcoming"]] == ["Bientôt", "Plus tard"]
    assert [a.title for a in response.context["past"]] == ["Passé"]
    assert text.index("Bientôt") < text.index("Plus tard") < text.index("Passé")
    for absent in ("Annulé", "Du collègue", "Le mien"):
        assert absent not in text
    # A past appointment is listed, not changed.
    assert edit_url(space, sooner) in text and edit_url(space, later) in text
    assert edit_url(space, past) not in text and cancel_url(space, past) not in text
    # Opening the page shows the patient and their appointments: one access in the trail.
    [read] = events(space).filter(action__startswith="acces_")
    assert (read.action, read.detail) == ("acces_rendez_vous_ajout", {"motif": "autorise"})

    # As many queries whatever the number of appointments.
    with django_assert_max_num_queries(15) as few:  # its audit event included
        client.get(url(space.public_id))
    for n in range(6):
        added_by(generalist, space, title=f"Encore {n}", days=30 + n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url(space.public_id))


def test_an_empty_list_says_so(generalist, space):
    authorise(space, generalist)
    text = pro_client(generalist).get(url(space.public_id)).content.decode()
    assert "Aucun rendez-vous à venir ajouté par vous." in text
    assert "Passés" not in text


def test_the_record_navigation_leads_to_the_appointments(generalist, space):
    authorise(space, generalist)
    client = pro_client(generalist)
    for page in ("", "vaccinations/", "entourage/", "synthese/", "rendez-vous/"):
        text = client.get(f"/pro/patients/{space.public_id}/{page}").content.decode()
        links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>', NAV.search(text)[0])
        assert links[-1][0] == url(space.public_id)
        assert bool(links[-1][1]) == (page == "rendez-vous/")
    nav = NAV.search(client.get(url(space.public_id)).content.decode())[0]
    assert "<strong>Rendez-vous</strong>" in nav


# --- Who may add ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("basis", "motif"), [("treating", "medecin_traitant"), ("colleague", "equipe")]
)
def test_every_basis_of_consent_lets_the_professional_add(generalist, space, basis, motif):
    doctor = make_professional("medecin", finess=FINESS_HOSPITAL, first_name="Paul")
    if basis == "treating":
        make_treating(space, doctor)
    else:
        authorise(space, generalist)
    client = pro_client(doctor)
    assert client.get(url(space.public_id)).status_code == 200  # the page read: one event
    assert client.post(url(space.public_id), form()).status_code == 302  # the addition: one
    accesses = events(space, "acces_rendez_vous_ajout")
    assert [a.detail for a in accesses] == [{"motif": motif}, {"motif": motif}]
    assert Appointment.objects.get().professional == doctor


def test_an_emergency_access_does_not_plan_the_patients_care(space):
    doctor = make_professional("medecin", first_name="Paul")
    emergency(space, doctor)
    client = pro_client(doctor)
    assert client.get(url(space.public_id)).status_code == 404
    assert client.post(url(space.public_id), form()).status_code == 404
    assert not Appointment.objects.exists()
    assert not events(space, "acces_rendez_vous_ajout").exists()


def test_every_refusal_is_the_404_of_a_missing_id_and_writes_nothing(
    professional, generalist, bob, alice, space
):
    client = pro_client(generalist)
    missing = client.get(url(MISSING))
    assert missing.status_code == 404

    without_consent = [client.get(url(space.public_id)), client.post(url(space.public_id), form())]

    authorise(space, generalist)
    block(space, generalist)
    blocked = [client.get(url(space.public_id)), client.post(url(space.public_id), form())]

    bob_space = space_for_user(bob)
    authorise(bob_space, generalist)
    bob_space.state = bob_space.State.CLOSED
    bob_space.save(update_fields=["state"])
    closed = [client.get(url(bob_space.public_id)), client.post(url(bob_space.public_id), form())]

    # A professional account not linked to the directory reaches no record.
    unlinked = Client()
    unlinked.force_login(professional)
    not_linked = unlinked.get(url(space.public_id))

    pages = [*without_consent, *blocked, *closed]
    assert {r.status_code for r in [*pages, not_linked]} == {404}
    assert {html(r) for r in pages} == {html(missing)}
    assert html(not_linked) == html(unlinked.get(url(MISSING)))
    for page in [*pages, not_linked]:
        assert "Alice" not in page.content.decode() and "Bob" not in page.content.decode()
    assert not Appointment.objects.exists()
    assert not events(space).exists() and not events(bob_space).exists()


def test_the_patient_does_not_use_the_portals_page(alice_client, space):
    assert alice_client.get(url(space.public_id)).status_code != 200
    assert alice_client.post(url(space.public_id), form()).status_code != 200
    assert not Appointment.objects.exists()


# --- Changing and cancelling ------------------------------------------------------------


def test_the_professional_changes_their_appointment(generalist, space):
    authorise(space, generalist)
    appointment = added_by(generalist, space, title="Avant", days=3, hour=10)
    Appointment.objects.filter(pk=appointment.pk).update(notified_at=clock.now())
    client = pro_client(generalist)

    page = client.get(edit_url(space, appointment))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'value="Avant"' in text
    assert f'value="{(clock.today() + timedelta(days=3)).isoformat()}"' in text
    assert 'value="10:00"' in text and 'value="10:20"' in text

    response = client.post(
        edit_url(space, appointment),
        form(title="Après", date=(clock.today() + timedelta(days=4)).isoformat(), duration="45"),
    )

    assert response.status_code == 302 and response["Location"] == url(space.public_id)
    appointment.refresh_from_db()
    assert appointment.title == "Après"
    assert (appointment.starts_at, appointment.ends_at) == (local(4, 14, 30), local(4, 15, 15))
    assert appointment.notified_at is None  # a new start, a new reminder
    assert appointment.source == Appointment.Source.PROFESSIONAL
    change = events(space, "rendez_vous_modification").get()
    assert change.object_id == str(appointment.public_id)
    assert events(space, "acces_rendez_vous_ajout").count() == 1  # the form's page, read once

    bad = client.post(edit_url(space, appointment), form(start_time=""))
    assert bad.status_code == 400
    assert field_error(bad.content.decode(), "start_time") == "Indiquez l'heure du rendez-vous."


def test_the_professional_cancels_their_appointment_after_confirming(generalist, space):
    authorise(space, generalist)
    appointment = added_by(generalist, space, title="À annuler", days=3)
    client = pro_client(generalist)

    confirm = client.get(cancel_url(space, appointment))
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "<h1>Annuler ce rendez-vous ?</h1>" in text and "À annuler" in text
    assert "Garder le rendez-vous" in text
    assert Appointment.objects.get(pk=appointment.pk).deleted_at is None

    response = client.post(cancel_url(space, appointment))

    assert response.status_code == 302 and response["Location"] == url(space.public_id)
    assert Appointment.objects.get(pk=appointment.pk).deleted_at is not None
    assert events(space, "rendez_vous_suppression").get().object_id == str(appointment.public_id)
    assert "À annuler" not in client.get(url(space.public_id)).content.decode()
    assert client.post(cancel_url(space, appointment)).status_code == 404  # gone


def test_another_professional_cannot_change_or_cancel_it(generalist, colleague, alice, space):
    """The colleague may add his own (care team), never touch hers; nor anyone the patient's."""
    authorise(space, generalist)
    appointment = added_by(generalist, space, title="Le sien", days=3)
    theirs = agenda.appointment_add(
        user=alice,
        space=space,
        data=agenda.AppointmentData(title="Le mien", starts_at=local(5, 9)),
    )
    other, her = pro_client(colleague), pro_client(generalist)
    assert other.get(url(space.public_id)).status_code == 200
    missing = url(space.public_id, f"{MISSING}/modifier/")
    refused = [
        other.get(edit_url(space, appointment)),
        other.post(edit_url(space, appointment), form(title="Piraté")),
        other.get(cancel_url(space, appointment)),
        other.post(cancel_url(space, appointment)),
    ]
    not_hers = [her.get(edit_url(space, theirs)), her.post(cancel_url(space, theirs))]
    assert {r.status_code for r in [*refused, *not_hers]} == {404}
    # The page of a missing id, for each account (the header names who is logged in).
    assert {html(r) for r in refused} == {html(other.get(missing))}
    assert {html(r) for r in not_hers} == {html(her.get(missing))}
    appointment.refresh_from_db()
    theirs.refresh_from_db()
    assert (appointment.title, appointment.deleted_at) == ("Le sien", None)
    assert (theirs.title, theirs.deleted_at) == ("Le mien", None)
    # Only the list the colleague opened is in the trail: the refused pages wrote nothing.
    assert list(events(space).exclude(action="rendez_vous_ajout").values_list("action")) == [
        ("acces_rendez_vous_ajout",)
    ]


def test_a_blocked_professional_no_longer_changes_nor_cancels(generalist, space):
    authorise(space, generalist)
    appointment = added_by(generalist, space, days=3)
    block(space, generalist)
    client = pro_client(generalist)
    for response in (
        client.get(edit_url(space, appointment)),
        client.post(edit_url(space, appointment), form()),
        client.post(cancel_url(space, appointment)),
    ):
        assert response.status_code == 404
    assert Appointment.objects.get(pk=appointment.pk).deleted_at is None


def test_a_past_appointment_is_not_changed(generalist, space):
    authorise(space, generalist)
    appointment = added_by(generalist, space, days=1)
    clock.set_offset(timedelta(days=2))
    client = pro_client(generalist)
    assert client.get(edit_url(space, appointment)).status_code == 404
    assert client.post(cancel_url(space, appointment)).status_code == 404


# --- The patient's side -----------------------------------------------------------------


def test_the_appointment_is_read_only_for_the_patient(generalist, alice, space):
    authorise(space, generalist)
    pro_client(generalist).post(url(space.public_id), form())
    appointment = Appointment.objects.get(space=space)
    data = agenda.AppointmentData(title="Changé", starts_at=local(9, 9))
    with pytest.raises(agenda.NotWritable):
        agenda.appointment_update(user=alice, appointment=appointment, data=data)
    with pytest.raises(agenda.NotWritable):
        agenda.appointment_delete(user=alice, appointment=appointment)
    appointment.refresh_from_db()
    assert (appointment.title, appointment.deleted_at) == ("Consultation de suivi", None)
