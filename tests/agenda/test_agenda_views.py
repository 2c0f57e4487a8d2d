"""The agenda's pages: À venir (the default) and Passés, appointments and reminders mixed by
date; the month view, a real table that works without JavaScript; the reminder delay; whose
items each page shows; and a constant number of queries per page."""

import calendar
import html
import re
from datetime import date, datetime, timedelta
from datetime import time as Time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from carnet.agenda import selectors, services
from carnet.agenda.models import AgendaSettings, Appointment, Reminder
from tests.enrollment.helpers import at, space_of

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=PARIS)  # a Monday


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _now():
    at(NOW)


def add(user, starts_at, *, source=Appointment.Source.PERSON, source_name="", **fields):
    return services.appointment_add(
        user=user,
        space=space_of(user.person),
        data=services.AppointmentData(starts_at=starts_at, **fields),
        source=source,
        source_name=source_name,
    )


def add_reminder(user, title, day, at_time=None):
    return services.reminder_add(
        user=user,
        space=space_of(user.person),
        data=services.ReminderData(title=title, date=day, time=at_time),
    )


def page(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def labels(response) -> list[str]:
    assert response.status_code == 200
    return [item.label for item in response.context["page"].items]


@pytest.fixture
def agenda(alice):
    """Alice's agenda around Monday 1 March 2027, 8:00."""
    add(
        alice,
        paris(2027, 3, 3, 10, 30),
        title="Dentiste",
        professional_name="Dr Anne Roux",
        place="12 rue des Lilas",
    )
    add(alice, paris(2027, 3, 10, 9, 0))  # no title: "Rendez-vous"
    add(alice, paris(2027, 3, 1, 7, 30), ends_at=paris(2027, 3, 1, 9, 0), title="En cours")
    add(alice, paris(2027, 3, 1, 7, 0), title="Ce matin")
    add(alice, paris(2027, 2, 20, 14, 0), title="Ophtalmologue")
    add_reminder(alice, "Ordonnance", date(2027, 3, 2), Time(18, 0))
    add_reminder(alice, "Prise de sang", date(2027, 3, 3))
    add_reminder(alice, "Aujourd'hui", date(2027, 3, 1))
    add_reminder(alice, "Tôt ce matin", date(2027, 3, 1), Time(6, 0))
    add_reminder(alice, "Vaccin", date(2027, 2, 28), Time(11, 0))
    return alice


# --- À venir and Passés -------------------------------------------------------------------------


def test_upcoming_is_the_default_page_soonest_first_and_mixed(alice_client, agenda):
    response = alice_client.get("/agenda/")
    assert labels(response) == [
        "Aujourd'hui",  # a reminder for the whole of today comes first in its day
        "En cours",  # under way until its end
        "Ordonnance",
        "Prise de sang",
        "Dentiste",
        "Rendez-vous",
    ]
    text = page(response)
    assert "<h1>Agenda</h1>" in text
    assert "Mercredi 3 mars 2027" in text
    assert "10 h 30" in text and "Dr Anne Roux" in text and "12 rue des Lilas" in text
    assert "Toute la journée" in text
    assert '<a href="/agenda/" aria-current="page"><strong>À venir</strong></a>' in text


def test_past_is_the_history_latest_first(alice_client, agenda):
    response = alice_client.get("/agenda/passes/")
    assert labels(response) == ["Ce matin", "Tôt ce matin", "Vaccin", "Ophtalmologue"]
    assert '<a href="/agenda/passes/" aria-current="page"><strong>Passés</strong></a>' in page(
        response
    )


def test_an_appointment_moves_to_the_history_once_over(alice_client, agenda):
    at(paris(2027, 3, 3, 10, 31))
    assert "Dentiste" in labels(alice_client.get("/agenda/passes/"))
    assert "Dentiste" not in labels(alice_client.get("/agenda/"))


def test_empty_lists_say_so(alice_client):
    assert "Vous n'avez aucun rendez-vous ni rappel à venir." in page(alice_client.get("/agenda/"))
    assert "aucun rendez-vous ni rappel passé" in page(alice_client.get("/agenda/passes/"))


def test_the_navigation_and_the_prevention_calendar_are_linked(alice_client):
    text = page(alice_client.get("/agenda/"))
    nav = re.search(r'<nav aria-label="Rubriques de l\'agenda".*?</nav>', text, re.DOTALL).group(0)
    assert re.findall(r">([^<>]+)(?:</strong>)?</a>", nav) == [
        "À venir", "Passés", "Mois", "Prévention", "Abonnement",
    ]  # fmt: skip
    assert 'href="/agenda/prevention/"' in nav and 'href="/agenda/abonnement/"' in nav
    assert "Calendrier de prévention" in text
    assert 'href="/agenda/preferences/"' in text


def test_the_old_placeholder_is_gone(alice_client):
    assert "pas encore disponible" not in page(alice_client.get("/agenda/"))


def test_pages_of_30(alice_client, alice):
    for n in range(35):
        add(alice, paris(2027, 4, 1, 8, 0) + timedelta(hours=n), title=f"R{n:02d}")
    first = alice_client.get("/agenda/")
    assert labels(first) == [f"R{n:02d}" for n in range(30)]
    assert 'href="?page=2"' in page(first)
    second = alice_client.get("/agenda/?page=2")
    assert labels(second) == [f"R{n:02d}" for n in range(30, 35)]
    assert 'href="?page=1"' in page(second) and "?page=3" not in page(second)
    assert labels(alice_client.get("/agenda/?page=abc")) == labels(first)
    assert "Cette page est vide" in page(alice_client.get("/agenda/?page=99999"))


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/agenda/", "/agenda/passes/", "/agenda/mois/2027-03/"])
def test_a_constant_number_of_queries_whatever_the_content(alice_client, alice, url):
    add(alice, paris(2027, 3, 5, 9, 0))
    add(alice, paris(2027, 2, 5, 9, 0))
    add_reminder(alice, "Un", date(2027, 3, 6))
    alice_client.get(url)  # the session's first request of the minute writes its last use
    few = _queries(alice_client, url)
    for n in range(25):
        add(alice, paris(2027, 3, 2, 8, 0) + timedelta(hours=n), title=f"R{n}",
            source=Appointment.Source.SERVICE, source_name="Doctolib")  # fmt: skip
        add(alice, paris(2027, 2, 2, 8, 0) + timedelta(hours=n), title=f"P{n}")
        add_reminder(alice, f"Rappel {n}", date(2027, 3, 20 + n // 10))
    assert _queries(alice_client, url) == few


# --- Whose items ------------------------------------------------------------------------------


def test_only_one_s_own_items_are_listed(alice_client, alice, bob):
    add(alice, paris(2027, 3, 3, 10, 0), title="Chez Alice")
    add(bob, paris(2027, 3, 3, 11, 0), title="Chez Bob")
    add_reminder(bob, "Rappel de Bob", date(2027, 3, 3))
    assert labels(alice_client.get("/agenda/")) == ["Chez Alice"]
    assert "Chez Bob" not in page(alice_client.get("/agenda/mois/2027-03/"))


def test_another_person_s_appointment_is_a_404(alice_client, bob):
    appointment = add(bob, paris(2027, 3, 3, 11, 0), title="Chez Bob")
    base = f"/agenda/rendez-vous/{appointment.public_id}/"
    for url in (base, f"{base}modifier/", f"{base}supprimer/"):
        assert alice_client.get(url).status_code == 404
    for url in (f"{base}modifier/", f"{base}supprimer/"):
        assert (
            alice_client.post(url, {"title": "Changé", "action": "enregistrer"}).status_code == 404
        )
    appointment.refresh_from_db()
    assert (appointment.title, appointment.deleted_at) == ("Chez Bob", None)


def test_a_deleted_appointment_is_a_404(alice_client, alice):
    appointment = add(alice, paris(2027, 3, 3, 11, 0))
    services.appointment_delete(user=alice, appointment=appointment)
    assert alice_client.get(f"/agenda/rendez-vous/{appointment.public_id}/").status_code == 404


def test_delete_asks_first(alice_client, alice):
    appointment = add(alice, paris(2027, 3, 3, 10, 30), title="Dentiste")
    url = f"/agenda/rendez-vous/{appointment.public_id}/supprimer/"
    text = page(alice_client.get(url))
    assert "Supprimer ce rendez-vous ?" in text and "« Dentiste »" in text
    appointment.refresh_from_db()
    assert appointment.deleted_at is None
    assert alice_client.post(url)["Location"] == "/agenda/"
    appointment.refresh_from_db()
    assert appointment.deleted_at is not None
    assert labels(alice_client.get("/agenda/")) == []


def test_anonymous_visitors_log_in_first(client):
    assert client.get("/agenda/mois/2027-03/")["Location"].startswith("/connexion/?next=")


# --- The month view ----------------------------------------------------------------------------


def test_the_month_is_a_table_with_its_items_and_today_marked(alice_client, agenda):
    response = alice_client.get("/agenda/mois/2027-03/")
    text = page(response)
    assert '<caption id="mois-legende">Mars 2027 : 8 rendez-vous et rappels</caption>' in text
    assert len(re.findall(r'<th scope="col">', text)) == 7
    assert '<abbr title="lundi">lun.</abbr>' in text
    # Monday 1 March is today
    today = re.search(r'<td aria-current="date">(.*?)</td>', text, re.DOTALL).group(1)
    assert '<span class="month-day">1</span>' in today and "Aujourd'hui" in today
    assert text.count('aria-current="date"') == 1
    # each item a link, in its day's cell
    cell = re.search(r'<span class="month-day">3</span>(.*?)</td>', text, re.DOTALL).group(1)
    dentist = Appointment.objects.get(title="Dentiste")
    blood = Reminder.objects.get(title="Prise de sang")
    assert f'href="/agenda/rendez-vous/{dentist.public_id}/"' in cell
    assert f'href="/agenda/rappels/{blood.public_id}/"' in cell
    assert "10 h 30 Dentiste" in cell
    assert "Ophtalmologue" not in text  # February's
    # the neighbouring months
    assert 'href="/agenda/mois/2027-02/" rel="prev"' in text
    assert 'href="/agenda/mois/2027-04/" rel="next"' in text
    assert ">Mois en cours<" not in text  # this is the current month
    assert 'href="/agenda/mois/" aria-current="page"' in text


def test_the_month_tab_opens_the_current_month(alice_client):
    assert alice_client.get("/agenda/mois/")["Location"] == "/agenda/mois/2027-03/"


def test_another_month_links_back_to_the_current_one(alice_client):
    text = page(alice_client.get("/agenda/mois/2027-12/"))
    assert "Décembre 2027 : aucun rendez-vous ni rappel" in text
    assert 'href="/agenda/mois/2028-01/" rel="next"' in text
    assert ">Mois en cours<" in text
    assert 'aria-current="date"' not in text


def test_the_day_is_the_day_in_paris(alice_client, alice):
    late = add(alice, paris(2027, 3, 31, 23, 30), title="Tard")  # 21:30 UTC
    after = add(alice, paris(2027, 4, 1, 0, 30), title="Après minuit")  # still 31 March in UTC
    march = page(alice_client.get("/agenda/mois/2027-03/"))
    april = page(alice_client.get("/agenda/mois/2027-04/"))
    assert str(late.public_id) in march and str(after.public_id) not in march
    assert str(after.public_id) in april and str(late.public_id) not in april


@pytest.mark.parametrize("month", ["2027-13", "2027-00", "2027-0", "1-1", "0001-01", "2201-01"])
def test_a_month_that_does_not_exist_is_a_404(alice_client, month):
    assert alice_client.get(f"/agenda/mois/{month}/").status_code == 404


@pytest.mark.parametrize(
    ("month", "days", "previous", "following"),
    [
        ("2027-01", 31, "2026-12", "2027-02"),  # January → back to December of the year before
        ("2027-12", 31, "2027-11", "2028-01"),  # December → January of the next year
        ("2028-02", 29, "2028-01", "2028-03"),  # leap year
        ("2027-02", 28, "2027-01", "2027-03"),
        ("2100-02", 28, "2100-01", "2100-03"),  # a century is not leap
        ("2000-02", 29, "2000-01", "2000-03"),  # unless by 400
    ],
)
def test_month_edges(alice_client, month, days, previous, following):
    text = page(alice_client.get(f"/agenda/mois/{month}/"))
    assert len(re.findall(r'<span class="month-day">', text)) == days
    assert f'href="/agenda/mois/{previous}/" rel="prev"' in text
    assert f'href="/agenda/mois/{following}/" rel="next"' in text


def test_the_first_and_last_months_have_no_link_beyond(alice_client):
    assert 'rel="prev"' not in page(alice_client.get("/agenda/mois/1900-01/"))
    assert 'rel="next"' not in page(alice_client.get("/agenda/mois/2200-12/"))


@given(
    year=st.integers(selectors.FIRST_YEAR, selectors.LAST_YEAR),
    month=st.integers(1, 12),
    by=st.integers(-36, 36),
)
def test_moving_by_months_and_back(year, month, by):
    moved = selectors.month_shift(year, month, by)
    assert 1 <= moved[1] <= 12
    assert (moved[0] * 12 + moved[1]) - (year * 12 + month) == by
    assert selectors.month_shift(*moved, -by) == (year, month)


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(year=st.integers(selectors.FIRST_YEAR, selectors.LAST_YEAR), month=st.integers(1, 12))
def test_every_month_grid_holds_each_of_its_days_once_in_weeks_from_monday(alice, year, month):
    view = selectors.month_view(space_of(alice.person), year, month)
    days = [d.day for week in view.weeks for d in week if d.in_month]
    assert days == [date(year, month, n) for n in range(1, calendar.monthrange(year, month)[1] + 1)]
    assert all(len(week) == 7 and week[0].day.weekday() == 0 for week in view.weeks)
    previous, following = view.previous, view.next
    if previous is not None:
        assert date(int(previous.year), int(previous.month), 1) < view.first
        assert selectors.month_shift(int(previous.year), int(previous.month), 1) == (year, month)
    if following is not None:
        assert selectors.month_shift(year, month, 1) == (int(following.year), int(following.month))


# --- The reminder delay ------------------------------------------------------------------------


def test_the_delay_form_shows_24_hours_by_default_and_changes_it(alice_client, alice):
    text = page(alice_client.get("/agenda/preferences/"))
    assert "Me prévenir" in text
    for label in ("1 heure avant", "24 heures avant", "48 heures avant", "1 semaine avant"):
        assert label in text
    assert re.search(r'<input type="radio" name="reminder_delay" value="24h"[^>]*checked', text)
    appointment = add(alice, paris(2027, 3, 3, 10, 30))
    response = alice_client.post("/agenda/preferences/", {"reminder_delay": "1h"})
    assert response["Location"] == "/agenda/"
    settings_row = AgendaSettings.objects.get(space=space_of(alice.person))
    assert settings_row.reminder_delay == AgendaSettings.Delay.ONE_HOUR
    appointment.refresh_from_db()
    assert appointment.notify_at == paris(2027, 3, 3, 9, 30)
    text = page(alice_client.get("/agenda/preferences/"))
    assert re.search(r'<input type="radio" name="reminder_delay" value="1h"[^>]*checked', text)


@pytest.mark.parametrize("posted", [{}, {"reminder_delay": "2h"}])
def test_a_delay_not_in_the_list_is_refused(alice_client, alice, posted):
    response = alice_client.post("/agenda/preferences/", posted)
    assert response.status_code == 400
    assert "id_reminder_delay-erreur" in page_any(response)
    assert not AgendaSettings.objects.exists()


def page_any(response) -> str:
    return html.unescape(response.content.decode())
