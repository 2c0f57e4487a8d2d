"""Step 1 when it goes wrong: wrong, expired and used codes; lock-out after 5 failures."""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from carnet.core import clock
from carnet.enrollment import services
from tests.factories import make_nir

from . import steps

pytestmark = pytest.mark.e2e

GENERIC = (
    "Les informations saisies ne permettent pas de vous identifier. Vérifiez votre code "
    "provisoire, votre numéro de sécurité sociale, votre date de naissance et le numéro de série "
    "de votre carte Vitale."
)


def expect_no_field_flagged(tab):
    """A failed identification must not tell which of the four pieces was wrong."""
    expect(tab.page.locator("[aria-invalid=true]")).to_have_count(0)
    expect(tab.page.locator(".error-message")).to_have_count(0)


def test_wrong_code_gets_a_generic_message(ui, issue_code):
    issued = issue_code()
    person, tab = issued.person, ui.tab
    tab.visit("/activer/")
    steps.identify(tab, person, steps.wrong_code(issued.code))
    tab.expect_heading("Je m'identifie")
    expect(tab.page).to_have_title(re.compile("^Erreur — Je m'identifie"))
    alert = steps.failure_alert(tab)
    expect(alert).to_contain_text(GENERIC)
    expect_no_field_flagged(tab)
    expect(alert.get_by_role("link", name="Demander un nouveau code")).to_have_count(0)
    tab.snap("etape-1-identification-impossible")
    code_wrong_text = alert.inner_text()

    # the code is not written back into the page; what else was typed is
    expect(tab.page.get_by_label("Code provisoire")).to_have_value("")
    expect(tab.page.get_by_label("Numéro de sécurité sociale")).to_have_value(person.nir)

    # a wrong birth date with the right code reads exactly the same
    tab.page.get_by_label("Code provisoire").fill(issued.code)
    tab.page.get_by_label("Date de naissance").fill("18/05/1980")
    tab.submit("Continuer")
    alert = steps.failure_alert(tab)
    expect(alert).to_contain_text(GENERIC)
    assert alert.inner_text() == code_wrong_text
    expect_no_field_flagged(tab)

    # so does a wrong serial, and an unknown NIR
    tab.page.get_by_label("Date de naissance").fill(steps.birth(person))
    tab.page.get_by_label("Numéro de série de carte Vitale").fill("98765432109")
    tab.page.get_by_label("Code provisoire").fill(issued.code)
    tab.submit("Continuer")
    assert steps.failure_alert(tab).inner_text() == code_wrong_text
    tab.page.get_by_label("Numéro de série de carte Vitale").fill(person.vitale_serial)
    unknown = make_nir(2, date(1980, 5, 17), 999, commune=999)
    tab.page.get_by_label("Numéro de sécurité sociale").fill(steps.spaced_nir(unknown))
    tab.page.get_by_label("Code provisoire").fill(issued.code)
    tab.submit("Continuer")
    assert steps.failure_alert(tab).inner_text() == code_wrong_text

    # and everything right goes on (4 failures < 5: not locked)
    tab.page.get_by_label("Numéro de sécurité sociale").fill(person.nir)
    tab.page.get_by_label("Code provisoire").fill(issued.code)
    tab.submit("Continuer")
    tab.expect_heading("Je prends ma décision")


def test_expired_code_says_so_and_offers_a_new_one(ui, issue_code):
    issued = issue_code()
    person, tab = issued.person, ui.tab
    clock.set_offset(timedelta(weeks=6, days=1))
    tab.visit("/activer/")
    steps.identify(tab, person, issued.code)
    alert = steps.failure_alert(tab)
    expect(alert).to_contain_text(re.compile(r"Ce code provisoire a expiré le \d{1,2} \w+ \d{4}"))
    tab.snap("etape-1-code-expire")

    alert.get_by_role("link", name="Demander un nouveau code").click()
    tab.page.wait_for_url("**/activer/nouveau-code/")
    tab.audit()
    tab.expect_heading("J'ai besoin d'un code")
    steps.fill_identify_person(tab, person)
    tab.submit("Recevoir un nouveau code")
    tab.expect_heading("Demande enregistrée")

    new_code = steps.read_provisional_code(ui, person)
    assert new_code != issued.code
    tab.follow("J'ai reçu mon code")
    steps.identify(tab, person, new_code)
    tab.expect_heading("Je prends ma décision")


def test_used_code_says_already_used(ui, issue_code):
    issued = issue_code()
    person, tab = issued.person, ui.tab
    identified = services.identification_check(
        code=issued.code,
        nir=person.nir,
        birth_date=person.birth_date,
        vitale_photo=person.vitale_photo,
        vitale_serial=person.vitale_serial,
        client="guichet",
    )
    services.space_oppose(identified=identified, client="guichet")  # the code is now used

    tab.visit("/activer/")
    steps.identify(tab, person, issued.code)
    alert = steps.failure_alert(tab)
    expect(alert).to_contain_text("Ce code provisoire a déjà été utilisé.")
    expect(alert.get_by_role("link", name="Demander un nouveau code")).to_be_visible()
    expect_no_field_flagged(tab)
    tab.snap("etape-1-code-deja-utilise")


def test_lock_out_after_five_failures_for_one_nir(ui, issue_code):
    issued = issue_code()
    person, tab = issued.person, ui.tab
    tab.visit("/activer/")
    wrong = [steps.wrong_code(issued.code)[:-1] + c for c in "vwxyz"]
    for attempt, code in enumerate(wrong, start=1):
        if attempt == 1:
            steps.identify(tab, person, code)
        else:
            tab.page.get_by_label("Code provisoire").fill(code)
            tab.submit("Continuer")
        alert = steps.failure_alert(tab)
        if attempt < 5:
            expect(alert).to_contain_text(GENERIC)
    expect(alert).to_contain_text(
        re.compile(
            r"Trop de tentatives infructueuses\. Par sécurité, réessayez après "
            r"\d{1,2} \w+ \d{4} à \d\d h \d\d\."
        )
    )
    expect(alert).not_to_contain_text(GENERIC)
    tab.snap("etape-1-trop-de-tentatives")

    # even the right code is refused while the NIR is locked
    tab.page.get_by_label("Code provisoire").fill(issued.code)
    tab.submit("Continuer")
    tab.expect_heading("Je m'identifie")
    expect(steps.failure_alert(tab)).to_contain_text("Trop de tentatives infructueuses")

    # an hour later, the right code goes through
    clock.set_offset(timedelta(hours=1, minutes=1))
    tab.page.get_by_label("Code provisoire").fill(issued.code)
    tab.submit("Continuer")
    tab.expect_heading("Je prends ma décision")
