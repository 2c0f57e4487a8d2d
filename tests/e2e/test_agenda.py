"""The agenda in Chromium: a patient adds an appointment with a professional picked from the
directory, finds it in the month view, receives its reminder in the outbox 24 hours before (the
clock moved), subscribes to the iCalendar feed (the secret address shown once, then fetched as a
calendar app does), and marks an item of their prevention calendar done. axe-core checks every
page at phone size, and the month view and the calendar at desktop size too; the month view
also works without JavaScript."""

import re
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar
from playwright.sync_api import expect

from carnet.core import clock
from carnet.tick import run_tick
from tests.consent.conftest import make_professional
from tests.enrollment.helpers import PASSWORD, activate
from tests.factories import InsuredPersonFactory

from . import steps
from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"
TITLE = "Contrôle annuel"
PLACE = "Cabinet du Parc, Lyon"


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email=EMAIL, mobile="+33612345678")
    user = activate(issued, identifier="alice.martin")
    # Her son in the insurer's registry: his recommendations show on her calendar.
    InsuredPersonFactory(
        first_name="Malo",
        birth_date=clock.today() - timedelta(days=400),
        sex="M",
        guardian_nirs=user.person.nir,
    )
    return user


@pytest.fixture
def cardiologist(transactional_db):
    return make_professional(
        "medecin", last_name="ROCHEFORT", specialty="Cardiologie", city="Lyon", postcode="69003"
    )


def notice(page):
    return page.get_by_role("status").filter(has=page.locator(".notice"))


def desktop_too(tab) -> None:
    tab.page.set_viewport_size(DESKTOP)
    tab.audit()
    tab.page.set_viewport_size(PHONE)


def test_agenda_journey(ui, ui_without_js, alice, cardiologist):
    tab, page = ui.tab, ui.tab.page
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    day = clock.today() + timedelta(days=3)

    # --- An appointment, with a professional found in the directory ------------------------
    tab.follow("Agenda", within="navigation")
    tab.expect_heading("Agenda")
    tab.follow("Ajouter un rendez-vous", within="main")
    tab.expect_heading("Ajouter un rendez-vous")
    page.get_by_label("Titre").fill(TITLE)
    page.get_by_label("Rechercher un professionnel dans l'annuaire").fill("rochefort lyon")
    tab.submit("Rechercher dans l'annuaire")
    expect(page.get_by_label("Titre")).to_have_value(TITLE)  # what was typed is kept
    page.get_by_label(re.compile("ROCHEFORT")).check()
    page.get_by_label("Lieu").fill(PLACE)
    page.get_by_label("Date", exact=True).fill(day.isoformat())
    page.get_by_label("Heure de début").fill("10:30")
    page.get_by_label("Durée").select_option(label="30 min")
    tab.submit("Ajouter le rendez-vous")
    expect(notice(page)).to_contain_text("ajouté")
    tab.expect_heading(TITLE)  # its page: the details as saved
    expect(page.locator("main")).to_contain_text("ROCHEFORT")
    expect(page.locator("main")).to_contain_text(PLACE)
    tab.follow("Agenda", within="navigation")
    expect(page.locator("main").get_by_role("link", name=TITLE, exact=True)).to_be_visible()

    # --- The month view, with and without JavaScript ----------------------------------------
    month = f"/agenda/mois/{day:%Y-%m}/"
    tab.visit(month)
    grid = page.locator("table.month-grid")
    expect(grid.get_by_role("link", name=re.compile(TITLE))).to_have_count(1)
    desktop_too(tab)
    plain = ui_without_js.tab
    plain.page.context.add_cookies(page.context.cookies())  # the same session, no script
    plain.visit(month)
    plain_grid = plain.page.locator("table.month-grid")
    expect(plain_grid.get_by_role("link", name=re.compile(TITLE))).to_have_count(1)
    plain._navigate_by(plain.page.get_by_role("link", name=re.compile("^Mois suivant")))
    expect(plain.page.locator("table.month-grid caption")).to_be_visible()

    # --- The reminder, 24 hours before, once, with the date and time only -------------------
    start = timezone.make_aware(datetime.combine(day, time(10, 30)))
    with clock.travel(start - timedelta(hours=24) - clock.now() + timedelta(minutes=1)):
        run_tick()
        run_tick()  # a second sweep sends nothing more
    body = ui.read_outbox(
        to=EMAIL,
        subject="Rappel de votre agenda santé",
        pattern=r"(Rappel : vous avez un rendez-vous[^\n]*)",
    )
    assert "10 h 30" in body
    assert TITLE not in body and "ROCHEFORT" not in body and "Lyon" not in body

    # --- The iCalendar subscription: shown once, fetched as a calendar app does --------------
    tab.visit("/agenda/abonnement/")
    tab.submit("Créer mon adresse d'abonnement")
    tab.expect_heading("Votre adresse d'abonnement")
    feed_url = page.get_by_label("Adresse d'abonnement").input_value()
    assert re.search(r"/agenda/abonnement/[A-Za-z0-9_-]{43}\.ics$", feed_url)
    # The address is on the service's public URL (SERVICE_URL); here, the test server's.
    path = re.search(r"/agenda/abonnement/[^/]+\.ics$", feed_url)[0]
    fresh = page.context.browser.new_context()  # a calendar app: no cookie, no login
    response = fresh.request.get(tab.base_url + path)
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.body())
    fresh.close()
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")].count(TITLE) == 1
    tab.visit("/agenda/abonnement/")
    expect(page.locator("main")).not_to_contain_text(feed_url)  # never shown again

    # --- A reminder, the 10-per-date limit's form errors, and the other agenda pages ---------
    tab.visit("/agenda/rappels/ajouter/")
    tab.submit("Ajouter le rappel")  # empty: the errors next to their fields
    steps.expect_field_error(tab, "Titre", re.compile("."), exact=False)
    page.get_by_label("Titre").fill("Prendre la tension")
    page.get_by_label("Date", exact=True).fill(day.isoformat())
    tab.submit("Ajouter le rappel")
    tab.expect_heading("Prendre la tension")
    for path in (
        "/agenda/passes/",
        "/agenda/preferences/",
        "/agenda/abonnement/importer/",
        "/agenda/abonnement/nouvelle-adresse/",
        "/agenda/abonnement/desactiver/",
    ):
        tab.visit(path)

    # --- The prevention calendar: one item marked done --------------------------------------
    tab.visit("/agenda/prevention/")
    tab.expect_heading("Mon calendrier de prévention")
    expect(page.get_by_role("heading", name=re.compile("^Malo, né"))).to_be_visible()
    desktop_too(tab)
    card = page.locator("li.card").filter(has=page.get_by_role("link", name=re.compile("Indiquer")))
    card = card.first
    label = card.get_by_role("heading", level=3).inner_text()
    tab._navigate_by(card.get_by_role("link", name=re.compile("Indiquer où j'en suis")))
    page.get_by_label("Réalisé", exact=True).check()
    page.get_by_label("Date de réalisation").fill((clock.today() - timedelta(days=2)).isoformat())
    tab.submit("Enregistrer")
    tab.expect_heading("Mon calendrier de prévention")
    done = page.locator("li.card").filter(has=page.get_by_role("heading", name=label, exact=True))
    expect(done.first).to_contain_text("Réalisé")
