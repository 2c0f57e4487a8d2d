"""The prevention calendar's use cases: following an item (and adding a vaccination to the
profile), the reminders per kind, and the daily sweep: each reminder sent once, the day before
or the day an item opens (or within the grace of a late sweep), by the person's channels, never
for what they opted out of, planned or did, never saying what the reminder is about.

The clock stands at Monday 15 June 2026, 10:00 in Paris.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carnet.accounts.models import NotificationPreference, User
from carnet.agenda import prevention_services as services
from carnet.agenda.models import AgendaSettings, PreventionNotice, PreventionStatus
from carnet.agenda.services import AgendaError
from carnet.audit.models import Event
from carnet.core import clock
from carnet.enrollment import services as enrollment
from carnet.notifications.models import OutboxMessage
from carnet.profile.models import Vaccination
from carnet.profile.services import entry_create
from tests.enrollment.helpers import activate, at, space_of

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=PARIS)
# Words of the calendar that must never leave in a message (DESIGN invariant 7).
SECRETS = ["sein", "cancer", "colorectal", "mammographie", "utérus", "HPV", "dépistage",
           "Dépistage", "vaccin", "50 ans", "Claire"]  # fmt: skip


@pytest.fixture(autouse=True)
def _now():
    at(NOW)


@pytest.fixture
def person(issue_code):
    """An active patient born on `birth` (sex `sex`), with a verified email and mobile."""
    made = {"n": 0}

    def make(birth: date, sex: str = "F", first_name: str = "Claire"):
        made["n"] += 1
        issued = issue_code(
            first_name=first_name,
            birth_date=birth,
            sex=sex,
            email=f"patient{made['n']}@exemple.fr",
        )
        return activate(issued, identifier=f"patient.numero{made['n']}")

    return make


@pytest.fixture
def claire(person):
    """50 tomorrow: breast, colorectal and cervical screening open on 16 June 2026."""
    return person(date(1976, 6, 16))


FIFTY = ["depistage-col-uterus@50", "depistage-colorectal@50", "depistage-sein@50"]


def notices(user) -> list[str]:
    return sorted(
        PreventionNotice.objects.filter(space=space_of(user.person)).values_list(
            "item_key", flat=True
        )
    )


def sent(kind="rappel_prevention"):
    return list(OutboxMessage.objects.filter(kind=kind).order_by("id"))


# --- The calendar -----------------------------------------------------------------------------


def test_the_calendar_of_a_space(claire):
    found = services.prevention_calendar(space_of(claire.person))
    keys = [i.key for i in found.items]
    assert keys[:2] == ["dtp-adulte@45", "depistage-col-uterus@45"]
    assert set(FIFTY) <= set(keys)
    assert found.opt_out == [] and found.version == "2026-11-26"
    assert [name for name, _, _ in found.groups] == ["a_faire", "a_venir"]


def test_the_calendar_costs_the_same_queries_whatever_it_holds(claire):
    space = space_of(claire.person)
    _ = space.person  # as space_for_user gives it

    def count():
        with CaptureQueriesContext(connection) as captured:
            services.prevention_calendar(space)
        return len(captured)

    empty = count()
    for year in range(2000, 2026):
        entry_create(
            actor=claire, space=space, model=Vaccination,
            values={"vaccine": "grippe", "date": date(year, 11, 2)},
        )  # fmt: skip
    for key in ("dtp-adulte@45", "depistage-col-uterus@45"):
        services.prevention_status_set(user=claire, space=space, item_key=key, status="non_realise")
    services.prevention_opt_out_set(user=claire, space=space, kinds=["dentaire"])
    services.prevention_notices_send()
    assert PreventionNotice.objects.count() == 3
    assert count() == empty <= 5


# --- Following an item ------------------------------------------------------------------------


def test_planned_done_not_done_and_back(claire):
    space = space_of(claire.person)
    key = "depistage-col-uterus@45"
    item = services.prevention_status_set(
        user=claire, space=space, item_key=key, status="planifie", planned_on=date(2026, 7, 2)
    )
    assert (item.status, item.planned_on, item.group) == ("planifie", date(2026, 7, 2), "planifie")
    item = services.prevention_status_set(
        user=claire, space=space, item_key=key, status="realise", done_on=date(2026, 6, 1)
    )
    assert (item.status, item.done_on, item.planned_on) == ("realise", date(2026, 6, 1), None)
    item = services.prevention_status_set(
        user=claire, space=space, item_key=key, status="non_realise", client="203.0.113.9"
    )
    assert item.status_label == "Non réalisé"
    assert PreventionStatus.objects.get().status == "non_realise"
    item = services.prevention_status_set(
        user=claire, space=space, item_key=key, status="a_planifier"
    )
    assert item.status == "a_planifier" and not PreventionStatus.objects.exists()
    events = Event.objects.filter(action="prevention_statut").order_by("seq")
    assert [e.detail["statut"] for e in events] == [
        "planifie", "realise", "non_realise", "a_planifier"
    ]  # fmt: skip
    assert events[2].detail["element"] == key and events[2].client == "203.0.113.9"
    assert events[0].actor == claire.actor


def test_a_done_vaccination_is_added_to_the_profile_once(claire):
    space = space_of(claire.person)
    done = date(2026, 5, 20)
    for _ in range(2):  # a resent form adds nothing more
        item = services.prevention_status_set(
            user=claire,
            space=space,
            item_key="dtp-adulte@45",
            status="realise",
            done_on=done,
            add_to_profile=True,
        )
    vaccination = Vaccination.objects.get()
    assert (vaccination.vaccine, vaccination.date, vaccination.author) == ("dtp", done, claire)
    assert item.satisfied_by_vaccination and item.done_on == done
    assert Event.objects.filter(action="profil_ajout", object_type="vaccination").count() == 1
    details = [e.detail for e in Event.objects.filter(action="prevention_statut").order_by("seq")]
    assert [d["ajout_vaccination"] for d in details] == [True, False]


def test_the_booster_at_25_is_recorded_with_whooping_cough(person):
    young = person(date(2000, 1, 10), "M")
    services.prevention_status_set(
        user=young,
        space=space_of(young.person),
        item_key="dtp-adulte@25",
        status="realise",
        done_on=date(2025, 3, 1),
        add_to_profile=True,
    )
    assert Vaccination.objects.get().vaccine == "dtcap"


REFUSED = [
    ({"item_key": "inconnu@1"}, None, "ne figure pas"),
    ({"item_key": "depistage-sein@52"}, None, "ne figure pas"),  # at 52, not yet
    ({"item_key": "dtp-adulte@46"}, None, "ne figure pas"),
    ({"status": "fait"}, "status", "Choisissez"),
    ({"status": "realise"}, "done_on", "Indiquez la date"),
    ({"status": "realise", "done_on": date(2026, 6, 16)}, "done_on", "futur"),
    ({"status": "realise", "done_on": date(1976, 6, 15)}, "done_on", "naissance"),
    ({"status": "planifie", "planned_on": date(2026, 6, 14)}, "planned_on", "passée"),
    ({"status": "planifie", "planned_on": date(2031, 7, 1)}, "planned_on", "cinq"),
    ({"status": "planifie", "add_to_profile": True}, "add_to_profile", "Seule"),
    (
        {
            "item_key": "depistage-col-uterus@45",
            "status": "realise",
            "done_on": date(2026, 6, 1),
            "add_to_profile": True,
        },
        "add_to_profile",
        "Seule",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("change", "field", "message"), REFUSED)
def test_refused_changes_nothing(claire, change, field, message):
    values = {"item_key": "dtp-adulte@45", "status": "planifie", **change}
    events = Event.objects.count()
    with pytest.raises(services.PreventionError, match=message) as refused:
        services.prevention_status_set(user=claire, space=space_of(claire.person), **values)
    assert refused.value.field == field
    assert not PreventionStatus.objects.exists() and not Vaccination.objects.exists()
    assert Event.objects.count() == events


def test_a_closed_space_cannot_be_followed(claire):
    space = space_of(claire.person)
    enrollment.space_close(space=space, actor=claire.actor, confirmed=True)
    space.refresh_from_db()
    with pytest.raises(AgendaError, match="pas actif"):
        services.prevention_status_set(
            user=claire, space=space, item_key="dtp-adulte@45", status="non_realise"
        )
    with pytest.raises(AgendaError, match="pas actif"):
        services.prevention_opt_out_set(user=claire, space=space, kinds=["dentaire"])


# --- Reminders per kind -----------------------------------------------------------------------


def test_opting_out_per_kind(claire):
    space = space_of(claire.person)
    chosen = services.prevention_opt_out_set(
        user=claire, space=space, kinds=["depistage", "vaccination", "depistage"]
    )
    assert chosen == ["vaccination", "depistage"]
    assert AgendaSettings.objects.get(space=space).prevention_opt_out == chosen
    assert services.prevention_calendar(space).opt_out == chosen
    event = Event.objects.filter(action="prevention_rappels").get()
    assert event.detail == {"sans_rappel": ["vaccination", "depistage"]}
    assert services.prevention_opt_out_set(user=claire, space=space, kinds=[]) == []
    with pytest.raises(services.PreventionError, match="liste"):
        services.prevention_opt_out_set(user=claire, space=space, kinds=["tout"])
    assert AgendaSettings.objects.get(space=space).prevention_opt_out == []


# --- The sweep --------------------------------------------------------------------------------


def test_reminded_the_day_before_once_without_saying_what(claire):
    assert services.prevention_notices_send() == 3
    assert notices(claire) == FIFTY
    [message] = sent()
    assert message.to == claire.email and message.channel == "email"
    text = message.subject + message.body
    assert "Un rappel de prévention vous attend" in text and "/agenda/prevention/" in text
    for secret in SECRETS:
        assert secret not in text, secret
    assert services.prevention_notices_send() == 0  # the same sweep again: nothing more
    at(NOW + timedelta(days=1))
    assert services.prevention_notices_send() == 0  # the day itself: already reminded
    assert len(sent()) == 1
    calendar = services.prevention_calendar(space_of(claire.person))
    reminded = [i for i in calendar.items if i.notified_at is not None]
    assert sorted(i.key for i in reminded) == FIFTY


def test_reminded_the_day_itself_and_by_a_late_sweep_within_the_grace(person):
    today = person(date(1976, 6, 15))  # 50 today
    week = person(date(1976, 6, 8))  # 50 a week ago: the last day of the grace
    person(date(1976, 6, 7))  # 50 eight days ago: too late
    person(date(1976, 6, 17))  # 50 in two days: not yet
    assert services.prevention_notices_send() == 6
    assert notices(today) == FIFTY and notices(week) == FIFTY
    assert PreventionNotice.objects.count() == 6
    assert sorted(m.to for m in sent()) == [today.email, week.email]


def test_opted_out_planned_done_or_vaccinated_is_not_reminded(person):
    opted = person(date(1976, 6, 16))
    services.prevention_opt_out_set(user=opted, space=space_of(opted.person), kinds=["depistage"])
    planned = person(date(1976, 6, 16))
    for key in FIFTY:
        services.prevention_status_set(
            user=planned, space=space_of(planned.person), item_key=key, status="planifie"
        )
    baby = person(date(2026, 4, 16), "M")  # 2 months tomorrow
    entry_create(
        actor=baby, space=space_of(baby.person), model=Vaccination,
        values={"vaccine": "hexavalent", "date": date(2026, 6, 10)},
    )  # fmt: skip
    assert services.prevention_notices_send() == 2
    assert notices(opted) == notices(planned) == []
    assert notices(baby) == ["examen-enfant@2m", "pneumocoque-nourrisson@2m"]
    assert [m.to for m in sent()] == [baby.email]


def test_by_the_channels_of_the_preferences(person):
    by_sms = person(date(1976, 6, 16))
    NotificationPreference.objects.create(user=by_sms, prevention_email=False, prevention_sms=True)
    silent = person(date(1976, 6, 16))
    NotificationPreference.objects.create(user=silent, prevention_email=False, prevention_sms=False)
    assert services.prevention_notices_send() == 6
    [message] = sent()
    assert (message.channel, message.to) == ("sms", by_sms.mobile)
    assert message.body == "Carnet : un rappel de prévention vous attend dans votre agenda santé."
    assert notices(silent) == FIFTY  # claimed, so never sent later when settings change


def test_no_reminder_without_an_active_space_and_account(person):
    closed = person(date(1976, 6, 16))
    enrollment.space_close(space=space_of(closed.person), actor=closed.actor, confirmed=True)
    suspended = person(date(1976, 6, 16))
    User.objects.filter(pk=suspended.pk).update(is_active=False)
    assert services.prevention_notices_send() == 0
    assert not sent() and not PreventionNotice.objects.exists()


def test_batches_walk_everyone(person):
    people = [person(date(1976, 6, 16), sex) for sex in "FMFMF"]
    assert services.prevention_notices_send(batch_size=2) == 3 * 3 + 2 * 1
    assert len(sent()) == len(people)
    assert notices(people[1]) == ["depistage-colorectal@50"]


def test_a_sweep_sends_only_what_it_inserted(claire):
    """Two sweeps at once: the one that inserts a notice second gets nothing back from its
    insert, hence sends nothing (the concurrent case itself runs on PostgreSQL)."""
    space = space_of(claire.person)
    PreventionNotice.objects.create(
        space=space, item_key="depistage-sein@50", sent_at=clock.now()
    )  # the other sweep's
    claimed = services._claim(
        [(space.pk, "depistage-colorectal@50"), (space.pk, "depistage-sein@50")], clock.now()
    )
    assert claimed == {(space.pk, "depistage-colorectal@50")}
    assert services._claim([(space.pk, "depistage-colorectal@50")], clock.now()) == set()
    assert PreventionNotice.objects.count() == 2


def test_the_flu_campaign_reminds_everyone_eligible_once(person):
    older = person(date(1950, 3, 1), "M")
    at(datetime(2026, 10, 14, 9, 0, tzinfo=PARIS))
    reminded = services.prevention_notices_send()
    assert "grippe@2026" in notices(older) and reminded >= 1
    at(datetime(2026, 10, 20, 9, 0, tzinfo=PARIS))
    assert services.prevention_notices_send() == 0


# --- The same channels as notify_preferred, and once a day from tick --------------------------

CASES = [
    (email, sms_, email_ok, sms_ok)
    for email in (True, False)
    for sms_ in (True, False)
    for email_ok in (True, False)
    for sms_ok in (True, False)
]


def test_the_batch_chooses_the_channels_notify_preferred_would(claire):
    """The sweep sends for a whole batch at once; its choice of channels must stay that of
    `accounts.services.notify_preferred`, for every preference and verification."""
    from carnet.accounts.services import notify_preferred

    for by_email, by_sms, email_ok, sms_ok in CASES:
        User.objects.filter(pk=claire.pk).update(email_verified=email_ok, mobile_verified=sms_ok)
        claire.refresh_from_db()
        NotificationPreference.objects.update_or_create(
            user=claire, defaults={"prevention_email": by_email, "prevention_sms": by_sms}
        )
        OutboxMessage.objects.all().delete()
        notify_preferred(
            claire,
            services.NOTICE_TEMPLATE,
            topic="prevention",
            kind="reference",
            sms_text=services.NOTICE_SMS,
            url="http://exemple.test",
        )
        expected = sorted(OutboxMessage.objects.values_list("channel", "to"))
        OutboxMessage.objects.all().delete()
        services._send({claire.pk})
        assert sorted(OutboxMessage.objects.values_list("channel", "to")) == expected, (
            by_email, by_sms, email_ok, sms_ok,
        )  # fmt: skip


def test_tick_runs_the_sweep_once_a_day_from_the_morning(claire, person):
    from django.core.cache import cache

    cache.clear()
    at(datetime(2026, 6, 15, 7, 59, tzinfo=PARIS))
    assert services.prevention_notices_daily() == 0 and not PreventionNotice.objects.exists()
    at(datetime(2026, 6, 15, 8, 0, tzinfo=PARIS))
    assert services.prevention_notices_daily() == 3
    later = person(date(1976, 6, 16))  # activated in the afternoon
    assert services.prevention_notices_daily() == 0  # done for today
    at(datetime(2026, 6, 16, 8, 0, tzinfo=PARIS))
    assert services.prevention_notices_daily() == 3  # the next morning, within the grace
    assert notices(later) == FIFTY
    cache.clear()
