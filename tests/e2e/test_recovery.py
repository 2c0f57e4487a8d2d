"""Recovery from the login page: the forgotten identifier arrives by email (never on screen),
the forgotten password is replaced after a code; then the person logs in with them."""

import re

import pytest
from playwright.sync_api import expect

from carnet.accounts.models import OneTimeCode, User
from carnet.notifications.models import OutboxMessage
from tests.enrollment.helpers import PASSWORD, activate

from . import steps

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"
NEW_PASSWORD = "la rivière sous le pont 1890"


@pytest.fixture
def issued_alice(issue_code):
    issued = issue_code(first_name="Alice", email=EMAIL, mobile="+33612345678")
    activate(issued, identifier="alice.martin")
    return issued


def test_forgotten_identifier_arrives_by_email_never_on_screen(ui, issued_alice):
    person, tab = issued_alice.person, ui.tab
    tab.visit("/connexion/")
    tab.follow("Identifiant oublié ?")
    tab.expect_heading("Identifiant oublié")
    tab.snap("identifiant-oublie")

    # an incomplete form is refused next to its fields
    tab.submit("Recevoir mon identifiant")
    tab.expect_heading("Identifiant oublié")
    expect(tab.page.get_by_role("alert")).to_be_visible()
    expect(tab.page.locator("[aria-invalid=true]").first).to_be_visible()
    tab.snap("identifiant-oublie-erreurs")

    # a person who does not match gets the very same answer, and nothing is sent
    steps.fill_identify_person(tab, person)
    tab.page.get_by_label("Numéro de série de carte Vitale").fill("98765432109")
    tab.submit("Recevoir mon identifiant")
    tab.expect_heading("Demande enregistrée")
    unknown_answer = tab.page.get_by_role("main").inner_text()
    assert not OutboxMessage.objects.filter(kind="rappel_identifiant").exists()

    tab.visit("/connexion/identifiant-oublie/")
    steps.fill_identify_person(tab, person)
    tab.submit("Recevoir mon identifiant")
    tab.expect_heading("Demande enregistrée")
    assert tab.page.get_by_role("main").inner_text() == unknown_answer
    assert "alice.martin" not in tab.page.content()
    tab.snap("identifiant-oublie-demande-enregistree")

    identifier = ui.read_outbox(
        to=EMAIL, subject="Votre identifiant", pattern=r"Votre identifiant est : (\S+)"
    )
    assert identifier == "alice.martin"

    tab.follow("Me connecter")
    steps.enter_password(tab, identifier, PASSWORD)
    steps.choose_channel(tab, "Par e-mail")
    steps.enter_code(tab, steps.read_access_code(ui, email=EMAIL))
    tab.expect_heading("Bienvenue Alice")


def read_reset_code(ui, *, email=EMAIL) -> str:
    return ui.read_outbox(to=email, subject="Votre code", pattern=r"(?<!\d)(\d{6})(?!\d)")


def test_forgotten_password_code_new_password_then_login(ui, other_ui, issued_alice):
    tab = ui.tab
    # Alice is logged in on another device: the reset will end that session
    steps.log_in(other_ui, "alice.martin", PASSWORD, email=EMAIL)
    other_ui.tab.expect_heading("Bienvenue Alice")

    tab.visit("/connexion/")
    tab.follow("Mot de passe oublié ?")
    tab.expect_heading("Mot de passe oublié")
    tab.snap("mot-de-passe-oublie")

    # an unknown identifier reads exactly like a known one, and nothing is sent
    tab.page.get_by_label("Mon identifiant").fill("bob.inconnu")
    tab.page.get_by_label("Par e-mail").check()
    tab.submit("Recevoir un code")
    tab.expect_heading("Je saisis le code reçu")
    unknown_answer = tab.page.get_by_role("main").inner_text()
    sent = OutboxMessage.objects.count()
    tab.page.get_by_label("Code d'accès").fill("123456")
    tab.submit("Valider")
    steps.expect_field_error(tab, "Code d'accès", "Code incorrect. Il vous reste 4 essai(s).")

    tab.follow("Recommencer")
    tab.expect_heading("Mot de passe oublié")
    tab.page.get_by_label("Mon identifiant").fill("Alice.Martin")
    tab.page.get_by_label("Par e-mail").check()
    tab.submit("Recevoir un code")
    tab.expect_heading("Je saisis le code reçu")
    assert tab.page.get_by_role("main").inner_text() == unknown_answer
    assert OutboxMessage.objects.count() == sent + 1
    tab.snap("mot-de-passe-oublie-code")

    code = read_reset_code(ui)
    tab.page.get_by_label("Code d'accès").fill(steps.not_that(code))
    tab.submit("Valider")
    steps.expect_field_error(tab, "Code d'accès", "Code incorrect. Il vous reste 4 essai(s).")
    tab.page.get_by_label("Code d'accès").fill(code)
    tab.submit("Valider")

    tab.expect_heading("Je choisis un nouveau mot de passe")
    tab.page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    tab.page.get_by_label("Confirmation du nouveau mot de passe").fill(NEW_PASSWORD + "x")
    tab.submit("Enregistrer mon nouveau mot de passe")
    steps.expect_field_error(
        tab,
        "Confirmation du nouveau mot de passe",
        "Les deux mots de passe ne sont pas identiques.",
    )
    tab.snap("nouveau-mot-de-passe-erreur")
    tab.page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    tab.page.get_by_label("Confirmation du nouveau mot de passe").fill(NEW_PASSWORD)
    tab.submit("Enregistrer mon nouveau mot de passe")
    tab.expect_heading("Votre mot de passe a été modifié")
    tab.snap("mot-de-passe-modifie")
    ui.read_outbox(to=EMAIL, subject="Votre mot de passe a été modifié", pattern=r"(mot de passe)")

    # the other device was logged out
    other_ui.tab.visit("/documents/")
    other_ui.tab.expect_heading(steps.LOGIN_HEADING)

    # the old password no longer works; the new one does
    tab.follow("Me connecter")
    steps.enter_password(tab, "alice.martin", PASSWORD)
    expect(tab.page.get_by_role("alert")).to_contain_text(steps.LOGIN_FAILED)
    steps.enter_password(tab, "alice.martin", NEW_PASSWORD)
    steps.choose_channel(tab, "Par SMS")
    steps.enter_code(tab, steps.read_access_code(ui, mobile="+33612345678"))
    tab.expect_heading("Bonjour Alice")
    assert User.objects.get(identifier="alice.martin").check_password(NEW_PASSWORD)


def test_password_reset_code_works_once(ui, issued_alice):
    tab = ui.tab
    tab.visit("/connexion/mot-de-passe-oublie/")
    tab.page.get_by_label("Mon identifiant").fill("alice.martin")
    tab.page.get_by_label("Par SMS").check()
    tab.submit("Recevoir un code")
    code = ui.read_outbox(to="+33612345678", subject=None, pattern=r"(?<!\d)(\d{6})(?!\d)")
    tab.page.get_by_label("Code d'accès").fill(code)
    tab.submit("Valider")
    tab.expect_heading("Je choisis un nouveau mot de passe")
    tab.page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    tab.page.get_by_label("Confirmation du nouveau mot de passe").fill(NEW_PASSWORD)
    tab.submit("Enregistrer mon nouveau mot de passe")
    tab.expect_heading("Votre mot de passe a été modifié")

    # coming back to the new-password page, the finished reset cannot be used again
    tab.visit("/connexion/mot-de-passe-oublie/nouveau/")
    tab.expect_heading("Mot de passe oublié")
    expect(tab.page.get_by_role("status")).to_contain_text(re.compile("recommencez"))
    assert OneTimeCode.objects.filter(purpose="reset", used_at__isnull=False).count() == 1
