"""Personal reminders (*Rappels*): title, date, optional time, comment; ten at most on one date
(the eleventh is refused with a clear message, by the service and by the form)."""

import html
from datetime import date, datetime, timedelta
from datetime import time as Time
from zoneinfo import ZoneInfo

import pytest

from carnet.agenda import services
from carnet.agenda.models import AgendaSettings, Appointment, Reminder
from carnet.audit.models import Event
from tests.enrollment.helpers import at, space_of
from tests.pages import field_error, is_invalid

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


NOW = paris(2027, 3, 1, 8, 0)
DAY = date(2027, 3, 3)
FULL = "Vous avez déjà 10 rappels le 3 mars 2027 : c'est le maximum pour une même date."


@pytest.fixture(autouse=True)
def _now():
    at(NOW)


def add(user, title="Renouveler l'ordonnance", day=DAY, **fields):
    return services.reminder_add(
        user=user,
        space=space_of(user.person),
        data=services.ReminderData(title=title, date=day, **fields),
    )


def form(**overrides) -> dict:
    data = {"title": "Prise de sang", "date": "2027-03-03", "time": "", "comment": ""}
    data.update(overrides)
    return data


def page(response) -> str:
    return html.unescape(response.content.decode())


# --- Services -------------------------------------------------------------------------------


def test_a_reminder_without_time_is_due_the_day_before_at_nine(alice):
    reminder = add(alice, comment="  à jeun  ")
    reminder.refresh_from_db()
    assert reminder.comment == "à jeun"
    assert reminder.time is None
    # the moment of a reminder without a time is 9:00 that day; 24 hours before by default
    assert reminder.notify_at == paris(2027, 3, 2, 9, 0)
    assert Event.objects.filter(action="rappel_ajout", object_id=str(reminder.public_id)).exists()


def test_a_reminder_with_a_time(alice):
    reminder = add(alice, time=Time(7, 45))
    assert reminder.notify_at == paris(2027, 3, 2, 7, 45)


def test_the_eleventh_reminder_on_one_date_is_refused(alice):
    for n in range(10):
        add(alice, title=f"Rappel {n}")
    with pytest.raises(services.AgendaError) as refused:
        add(alice, title="Le onzième")
    assert str(refused.value).startswith(FULL)
    assert Reminder.objects.filter(date=DAY).count() == 10
    # another date has room, and so has this one once a reminder is deleted
    add(alice, day=DAY + timedelta(days=1))
    services.reminder_delete(user=alice, reminder=Reminder.objects.filter(date=DAY).first())
    add(alice, title="Le onzième")


def test_the_limit_is_per_person(alice, bob):
    for n in range(10):
        add(alice, title=f"Rappel {n}")
    add(bob)  # Bob's date is his own


def test_moving_a_reminder_onto_a_full_date_is_refused(alice):
    for n in range(10):
        add(alice, title=f"Rappel {n}")
    other = add(alice, day=DAY + timedelta(days=1))
    data = services.ReminderData(title=other.title, date=DAY)
    with pytest.raises(services.AgendaError, match="déjà 10 rappels"):
        services.reminder_update(user=alice, reminder=other, data=data)
    # a reminder of the full date may still be changed on its date
    first = Reminder.objects.filter(date=DAY).first()
    services.reminder_update(
        user=alice, reminder=first, data=services.ReminderData(title="Changé", date=DAY)
    )


@pytest.mark.parametrize(("field", "limit"), [("title", 100), ("comment", 1000)])
def test_service_limits(alice, field, limit):
    values = {"title": "Rappel", field: "a" * limit}
    assert getattr(add(alice, **values), field) == "a" * limit
    with pytest.raises(services.AgendaError, match=f"{limit} caractères"):
        add(alice, **{**values, field: "a" * (limit + 1)})
    assert Reminder.objects.count() == 1


def test_a_title_is_required(alice):
    with pytest.raises(services.AgendaError, match="Indiquez un titre"):
        add(alice, title="   ")


def test_a_new_date_is_a_new_notice_but_a_new_title_is_not(alice):
    reminder = add(alice)
    Reminder.objects.filter(pk=reminder.pk).update(notified_at=NOW)
    reminder.refresh_from_db()
    services.reminder_update(
        user=alice, reminder=reminder, data=services.ReminderData(title="Autre", date=DAY)
    )
    reminder.refresh_from_db()
    assert reminder.notified_at == NOW
    services.reminder_update(
        user=alice,
        reminder=reminder,
        data=services.ReminderData(title="Autre", date=DAY, time=Time(18, 0)),
    )
    reminder.refresh_from_db()
    assert reminder.notified_at is None
    assert reminder.notify_at == paris(2027, 3, 2, 18, 0)


def test_the_delay_moves_every_notice_not_yet_sent(alice):
    reminder = add(alice, time=Time(10, 0))
    sent = add(alice, day=DAY + timedelta(days=1))
    Reminder.objects.filter(pk=sent.pk).update(notified_at=NOW)
    appointment = services.appointment_add(
        user=alice,
        space=space_of(alice.person),
        data=services.AppointmentData(starts_at=paris(2027, 3, 5, 14, 0)),
    )
    services.reminder_delay_set(
        user=alice, space=space_of(alice.person), delay=AgendaSettings.Delay.ONE_HOUR
    )
    reminder.refresh_from_db()
    appointment.refresh_from_db()
    assert reminder.notify_at == paris(2027, 3, 3, 9, 0)
    assert appointment.notify_at == paris(2027, 3, 5, 13, 0)
    before = sent.notify_at
    sent.refresh_from_db()
    assert sent.notify_at == before  # already sent: left as it was
    # and the new ones follow the new delay
    assert add(alice, day=DAY + timedelta(days=7)).notify_at == paris(2027, 3, 10, 8, 0)
    assert Event.objects.filter(action="agenda_parametres").count() == 1
    with pytest.raises(services.AgendaError):
        services.reminder_delay_set(user=alice, space=space_of(alice.person), delay="2h")


# --- The form -------------------------------------------------------------------------------


def test_add_through_the_form(alice_client):
    response = alice_client.post("/agenda/rappels/ajouter/", form(time="07:30", comment="À jeun"))
    reminder = Reminder.objects.get()
    assert response["Location"] == f"/agenda/rappels/{reminder.public_id}/"
    assert (reminder.title, reminder.date, reminder.time) == ("Prise de sang", DAY, Time(7, 30))
    detail = page(alice_client.get(response["Location"]))
    assert "Prise de sang" in detail and "7 h 30" in detail and "À jeun" in detail


def test_the_eleventh_reminder_through_the_form_says_why_next_to_the_date(alice_client, alice):
    for n in range(10):
        add(alice, title=f"Rappel {n}")
    response = alice_client.post("/agenda/rappels/ajouter/", form(title="Le onzième"))
    assert response.status_code == 400
    text = page(response)
    assert field_error(text, "date").startswith(FULL)
    assert is_invalid(text, "date")
    assert 'value="Le onzième"' in text  # nothing typed is lost
    assert Reminder.objects.count() == 10


@pytest.mark.parametrize(
    ("field", "limit", "message"),
    [
        ("title", 100, "Le titre ne doit pas dépasser 100 caractères (vous en avez saisi 101)."),
        ("comment", 1000, "Le commentaire ne doit pas dépasser 1000 caractères"),
    ],
)
def test_form_limits(alice_client, field, limit, message):
    response = alice_client.post("/agenda/rappels/ajouter/", form(**{field: "a" * (limit + 1)}))
    assert response.status_code == 400
    assert message in field_error(page(response), field)
    assert not Reminder.objects.exists()
    response = alice_client.post("/agenda/rappels/ajouter/", form(**{field: "a" * limit}))
    assert response.status_code == 302
    assert len(getattr(Reminder.objects.get(), field)) == limit


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "Indiquez un titre."),
        ({"title": "   "}, "title", "Indiquez un titre."),
        ({"date": ""}, "date", "Indiquez la date."),
        ({"date": "03/13/2027"}, "date", "Indiquez une date valide"),
        ({"date": "0001-01-01"}, "date", "entre 1900 et 2200"),
        ({"time": "7h99"}, "time", "Indiquez une heure valide"),
    ],
)
def test_bad_input_is_refused_next_to_its_field(alice_client, overrides, field, message):
    response = alice_client.post("/agenda/rappels/ajouter/", form(**overrides))
    assert response.status_code == 400
    assert message in field_error(page(response), field)
    assert not Reminder.objects.exists()


def test_french_date_format_is_understood(alice_client):
    alice_client.post("/agenda/rappels/ajouter/", form(date="03/03/2027"))
    assert Reminder.objects.get().date == DAY


def test_edit_and_delete_with_confirmation(alice_client, alice):
    reminder = add(alice)
    base = f"/agenda/rappels/{reminder.public_id}/"
    assert 'value="Renouveler l\'ordonnance"' in page(alice_client.get(f"{base}modifier/"))
    response = alice_client.post(f"{base}modifier/", form(title="Changé", date="2027-03-04"))
    assert response["Location"] == base
    reminder.refresh_from_db()
    assert (reminder.title, reminder.date) == ("Changé", date(2027, 3, 4))

    confirm = page(alice_client.get(f"{base}supprimer/"))
    assert "Supprimer ce rappel ?" in confirm and "« Changé »" in confirm
    reminder.refresh_from_db()
    assert reminder.deleted_at is None  # the GET only asks
    assert alice_client.post(f"{base}supprimer/")["Location"] == "/agenda/"
    reminder.refresh_from_db()
    assert reminder.deleted_at is not None
    assert alice_client.get(base).status_code == 404


def test_another_person_s_reminder_is_a_404(alice_client, bob):
    reminder = add(bob)
    base = f"/agenda/rappels/{reminder.public_id}/"
    for url in (base, f"{base}modifier/", f"{base}supprimer/"):
        assert alice_client.get(url).status_code == 404
    for url in (f"{base}modifier/", f"{base}supprimer/"):
        assert alice_client.post(url, form()).status_code == 404
    reminder.refresh_from_db()
    assert (reminder.title, reminder.deleted_at) == ("Renouveler l'ordonnance", None)


def test_an_appointment_is_not_counted_as_a_reminder(alice):
    for n in range(10):
        add(alice, title=f"Rappel {n}")
    services.appointment_add(
        user=alice,
        space=space_of(alice.person),
        data=services.AppointmentData(starts_at=paris(2027, 3, 3, 9, 0)),
    )
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_a_closure_committed_meanwhile_is_seen_under_the_lock(alice):
    """The view read the space active; it was closed before the reminder's transaction: the
    state read under the space's lock refuses the reminder."""
    from carnet.enrollment.models import Space

    space = space_of(alice.person)  # as the view read it: active
    Space.objects.filter(pk=space.pk).update(state=Space.State.CLOSED)  # closed meanwhile
    with pytest.raises(services.AgendaError):
        services.reminder_add(
            user=alice, space=space, data=services.ReminderData(title="Traitement", date=DAY)
        )
    assert not Reminder.objects.filter(space_id=space.pk).exists()
