"""The reminder sweep (`carnet tick`): each appointment and reminder is announced once, at the
person's delay (24 hours by default), by the channels of their preferences, even if the sweep
runs twice, late or twice at once (PostgreSQL); never for what is deleted or already past; and
the message gives the date and time only, never the title, the professional or the place."""

import email
import email.policy
import threading
from datetime import date, datetime, timedelta
from datetime import time as Time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from carnet.accounts.models import NotificationPreference
from carnet.agenda import services
from carnet.agenda.models import AgendaSettings, Appointment, Reminder
from carnet.core import clock
from carnet.enrollment.models import Space
from carnet.notifications.models import OutboxMessage
from carnet.tick import run_tick
from tests.enrollment.helpers import at, space_of

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


NOW = paris(2027, 3, 1, 8, 0)
START = paris(2027, 3, 3, 10, 30)
SECRETS = ["Psychiatrie", "Dr Mystère", "Hôpital Sainte-Anne", "Sainte", "Mystère", "secrète"]
TEXT = "Rappel : vous avez un rendez-vous le 3 mars à 10 h 30."


@pytest.fixture(autouse=True)
def _now():
    at(NOW)


def add(user, starts_at=START, **fields) -> Appointment:
    data = services.AppointmentData(
        starts_at=starts_at,
        title=fields.pop("title", "Psychiatrie"),
        professional_name=fields.pop("professional_name", "Dr Mystère"),
        place=fields.pop("place", "Hôpital Sainte-Anne"),
        notes=fields.pop("notes", "Note secrète"),
    )
    return services.appointment_add(user=user, space=space_of(user.person), data=data, **fields)


def add_reminder(user, day=date(2027, 3, 3), at_time=None, title="Psychiatrie") -> Reminder:
    return services.reminder_add(
        user=user,
        space=space_of(user.person),
        data=services.ReminderData(title=title, date=day, time=at_time, comment="secrète"),
    )


def notices(user=None) -> list[OutboxMessage]:
    rows = OutboxMessage.objects.filter(kind="rappel_agenda").order_by("id")
    if user is not None:
        rows = rows.filter(to__in=[user.email, user.mobile])
    return list(rows)


def sweep_at(moment) -> int:
    at(moment)
    return services.reminders_send_due()


# --- Once, at the delay -----------------------------------------------------------------------


def test_sent_once_24_hours_before_by_email(alice):
    add(alice)
    assert sweep_at(START - timedelta(hours=24, seconds=1)) == 0
    assert notices() == []
    assert sweep_at(START - timedelta(hours=24)) == 1
    [message] = notices()
    assert (message.channel, message.to) == (OutboxMessage.Channel.EMAIL, alice.email)
    assert message.subject == "Rappel de votre agenda santé"
    assert TEXT in message.body
    # a second sweep, at once or later, sends nothing more
    assert services.reminders_send_due() == 0
    assert sweep_at(START - timedelta(hours=1)) == 0
    assert len(notices()) == 1
    notified_at = Appointment.objects.get().notified_at
    assert START - timedelta(hours=24) <= notified_at < START - timedelta(hours=23, minutes=59)


def test_the_notice_never_says_the_title_the_professional_or_the_place(alice):
    add(alice)
    add_reminder(alice, at_time=Time(7, 45))
    NotificationPreference.objects.create(user=alice, appointment_email=True, appointment_sms=True)
    sweep_at(paris(2027, 3, 2, 11, 0))  # both due, both to come
    sent = notices()
    assert {m.channel for m in sent} == {"email", "sms"}
    assert len(sent) == 4
    for message in sent:
        for secret in SECRETS:
            assert secret not in message.subject
            assert secret not in message.body
    bodies = " ".join(m.body for m in sent)
    assert TEXT in bodies
    assert "Rappel : vous avez un rappel le 3 mars à 7 h 45." in bodies


def test_a_late_sweep_still_sends_while_the_appointment_is_to_come(alice):
    add(alice)
    assert sweep_at(START - timedelta(minutes=5)) == 1
    assert TEXT in notices()[0].body


def test_nothing_for_what_is_already_past(alice):
    appointment = add(alice)
    assert sweep_at(START + timedelta(seconds=1)) == 0
    assert notices() == []
    appointment.refresh_from_db()
    assert appointment.notified_at is not None  # claimed: never sent later either
    # an appointment noted afterwards, in the past, is history: no notice either
    add(alice, starts_at=START - timedelta(days=2))
    assert services.reminders_send_due() == 0


def test_nothing_for_a_deleted_appointment_or_reminder(alice):
    services.appointment_delete(user=alice, appointment=add(alice))
    services.reminder_delete(user=alice, reminder=add_reminder(alice))
    assert sweep_at(START - timedelta(hours=1)) == 0
    assert notices() == []


def test_nothing_for_a_space_no_longer_active(alice):
    add(alice)
    Space.objects.filter(person=alice.person).update(state=Space.State.CLOSED)
    assert sweep_at(START - timedelta(hours=1)) == 0


def test_one_hour_instead_of_24_moves_the_notice(alice):
    appointment = add(alice)
    services.reminder_delay_set(
        user=alice, space=space_of(alice.person), delay=AgendaSettings.Delay.ONE_HOUR
    )
    appointment.refresh_from_db()
    assert appointment.notify_at == START - timedelta(hours=1)
    assert sweep_at(START - timedelta(hours=24)) == 0
    assert sweep_at(START - timedelta(hours=1, seconds=1)) == 0
    assert sweep_at(START - timedelta(hours=1)) == 1


@pytest.mark.parametrize(
    ("delay", "before"),
    [
        (AgendaSettings.Delay.TWO_DAYS, timedelta(hours=48)),
        (AgendaSettings.Delay.ONE_WEEK, timedelta(weeks=1)),
    ],
)
def test_the_other_delays(alice, delay, before):
    services.reminder_delay_set(user=alice, space=space_of(alice.person), delay=delay)
    starts_at = paris(2027, 3, 20, 10, 30)
    assert add(alice, starts_at=starts_at).notify_at == starts_at - before


def test_changing_the_title_after_the_notice_sends_nothing_new_but_a_new_start_does(alice):
    appointment = add(alice)
    assert sweep_at(START - timedelta(hours=3)) == 1
    data = services.AppointmentData(starts_at=START, title="Autre")
    services.appointment_update(user=alice, appointment=appointment, data=data)
    assert services.reminders_send_due() == 0
    later = START + timedelta(days=1)
    services.appointment_update(
        user=alice, appointment=appointment, data=services.AppointmentData(starts_at=later)
    )
    assert sweep_at(later - timedelta(hours=24)) == 1
    assert "le 4 mars à 10 h 30" in notices()[-1].body


# --- By the person's preferences --------------------------------------------------------------


def test_by_sms_when_so_chosen(alice):
    NotificationPreference.objects.create(user=alice, appointment_email=False, appointment_sms=True)
    add(alice)
    sweep_at(START - timedelta(hours=1))
    [message] = notices()
    assert (message.channel, message.to) == (OutboxMessage.Channel.SMS, alice.mobile)
    assert message.body == f"Carnet : {TEXT}"


def test_nothing_when_every_channel_is_off_and_nothing_later(alice):
    NotificationPreference.objects.create(
        user=alice, appointment_email=False, appointment_sms=False
    )
    add(alice)
    sweep_at(START - timedelta(hours=1))
    assert notices() == []
    NotificationPreference.objects.filter(user=alice).update(appointment_email=True)
    assert services.reminders_send_due() == 0  # the moment was handled, once
    assert notices() == []


def test_each_person_is_told_of_their_own(alice, bob):
    add(alice)
    add(bob, starts_at=START + timedelta(hours=1))
    sweep_at(START - timedelta(minutes=30))
    assert [m.to for m in notices(alice)] == [alice.email]
    assert [m.to for m in notices(bob)] == [bob.email]
    assert "à 11 h 30" in notices(bob)[0].body


# --- The words of the notice ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("starts_at", "text"),
    [
        (paris(2027, 4, 1, 9, 5), "le 1er avril à 9 h 05"),
        (paris(2027, 3, 11, 0, 0), "le 11 mars à 0 h 00"),
        (paris(2028, 1, 5, 14, 0), "le 5 janvier 2028 à 14 h 00"),  # another year: said
        (paris(2027, 7, 14, 18, 45), "le 14 juillet à 18 h 45"),  # summer time, in Paris
    ],
)
def test_dates_and_times_in_french(alice, starts_at, text):
    appointment = add(alice, starts_at=starts_at)
    assert services.notice_text(appointment) == f"Rappel : vous avez un rendez-vous {text}."


def test_a_reminder_without_time_gives_the_date_only(alice):
    reminder = add_reminder(alice)
    assert services.notice_text(reminder) == "Rappel : vous avez un rappel le 3 mars."
    assert sweep_at(paris(2027, 3, 2, 9, 0)) == 1
    assert "Rappel : vous avez un rappel le 3 mars." in notices()[0].body


# --- Through the worker's tick, and a real SMTP server ----------------------------------------


def test_the_tick_sends_it_through_the_outbox_once(alice, smtp_server):
    add(alice)
    at(START - timedelta(hours=2))
    first = run_tick()
    second = run_tick()
    assert (first["rappels_agenda"], second["rappels_agenda"]) == (1, 0)
    parsed = [
        (m["to"], email.message_from_bytes(m["data"].encode(), policy=email.policy.default))
        for m in smtp_server.messages
    ]
    delivered = [(to, m) for to, m in parsed if m["subject"] == "Rappel de votre agenda santé"]
    [(to, message)] = delivered
    assert to == [alice.email]
    body = message.get_content()
    assert TEXT in body
    for secret in SECRETS:
        assert secret not in body


# --- Two sweeps at once (PostgreSQL only) -----------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: select_for_update(skip_locked) is a no-op on SQLite, whose "
    "writers are serialised anyway",
)
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_send_each_notice_exactly_once(alice, bob):
    at(NOW)
    day = paris(2027, 3, 4, 10, 0)
    for n in range(120):
        add(alice if n % 2 else bob, starts_at=day + timedelta(minutes=n))
    for n in range(10):
        for person in (alice, bob):
            add_reminder(person, day=date(2027, 3, 4), at_time=Time(14, n))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait()
            results.append(services.reminders_send_due(batch_size=7))
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    # 3 March, 23:00: every notice due (24 hours before), every moment still to come.
    with clock.travel(paris(2027, 3, 3, 23, 0) - NOW):
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sum(results) == 140
    assert len(notices()) == 140
    assert len(notices(alice)) == len(notices(bob)) == 70
    assert not Appointment.objects.filter(notified_at__isnull=True).exists()
    assert not Reminder.objects.filter(notified_at__isnull=True).exists()
