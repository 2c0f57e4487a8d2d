"""Login in three steps with a one-time code read from the demo outbox, as a newcomer would:
email and SMS, first and later logins, logout, and a professional on their portal."""

import re

import pytest
from playwright.sync_api import expect

from carnet.accounts.models import OneTimeCode, User
from tests.enrollment.helpers import PASSWORD, activate

from . import steps

pytestmark = pytest.mark.e2e


@pytest.fixture
def alice(issue_code):
    """An active patient with a verified email and a verified mobile, never logged in."""
    issued = issue_code(first_name="Alice", email="alice.martin@exemple.fr", mobile="+33612345678")
    return activate(issued, identifier="alice.martin")


def expect_navigation(tab):
    nav = tab.page.get_by_role("navigation", name="Navigation principale")
    expect(nav.get_by_role("link")).to_have_text(steps.NAVIGATION)


def test_first_login_by_email_welcome_navigation_and_logout(ui, alice):
    tab = ui.tab
    tab.visit("/")
    tab.follow("Se connecter", within="main")
    assert tab.page.url.endswith("/connexion/")

    # Step 1 — Je m'identifie
    tab.expect_heading(steps.LOGIN_HEADING)
    expect(tab.page.get_by_label("Mon identifiant")).to_have_attribute("autocomplete", "username")
    expect(tab.page.get_by_label("Mon mot de passe")).to_have_attribute(
        "autocomplete", "current-password"
    )
    for link in ("Identifiant oublié ?", "Mot de passe oublié ?", "Activez-le dès maintenant"):
        expect(tab.page.get_by_role("link", name=link, exact=True)).to_be_visible()
    tab.snap("connexion-je-m-identifie")
    steps.enter_password(tab, "Alice.Martin ", PASSWORD)  # case and spaces do not matter

    # Step 2 — the verified channels, masked
    tab.expect_heading(steps.CHANNEL_HEADING)
    choices = tab.page.get_by_role("radio")
    expect(choices).to_have_count(2)
    expect(tab.page.get_by_label("Par e-mail")).to_have_accessible_name(
        "Par e-mail (a*****@exemple.fr)"
    )
    expect(tab.page.get_by_label("Par SMS")).to_have_accessible_name("Par SMS (*****45678)")
    expect(tab.page.get_by_text("alice.martin@exemple.fr")).to_have_count(0)
    expect(tab.page.get_by_text("0612345678")).to_have_count(0)
    tab.snap("connexion-mode-de-reception")
    tab.submit("Recevoir mon code")  # nothing chosen: refused next to the field
    expect(tab.page.get_by_role("alert")).to_contain_text("Choisissez comment recevoir votre code.")
    assert not OneTimeCode.objects.exists()
    tab.snap("connexion-mode-de-reception-erreur")
    steps.choose_channel(tab, "Par e-mail")

    # Step 3 — Je saisis le code d'accès
    tab.expect_heading(steps.CODE_HEADING)
    expect(tab.page.get_by_text("Le code a été envoyé")).to_have_text(
        "Le code a été envoyé à l'adresse a*****@exemple.fr, il est valable pendant 15 min."
    )
    expect(tab.page.get_by_label("Code d'accès")).to_have_attribute("autocomplete", "one-time-code")
    tab.snap("connexion-saisie-du-code")
    code = steps.read_access_code(ui, email="alice.martin@exemple.fr")
    steps.enter_code(tab, code)

    # First login: the welcome page, then "Commencer" leads to the medical profile
    tab.expect_heading("Bienvenue Alice")
    expect_navigation(tab)
    tab.snap("premiere-connexion-bienvenue")
    tab.follow("Commencer")
    tab.expect_heading("Profil médical")
    expect(
        tab.page.get_by_role("navigation", name="Navigation principale").get_by_role(
            "link", name="Profil médical"
        )
    ).to_have_attribute("aria-current", "page")
    tab.snap("profil-medical")
    headings = {"Documents": "Mes documents", "Catalogue": "Catalogue de services"}
    for section in steps.NAVIGATION[2:]:
        tab.follow(section)
        tab.expect_heading(headings.get(section, section))
        tab.snap(section)
    tab.follow("Accueil")
    tab.expect_heading("Bonjour Alice")
    expect_navigation(tab)
    tab.snap("accueil-bonjour")

    # Logout, from the account menu
    steps.log_out(tab)
    tab.expect_heading(steps.LOGIN_HEADING)
    expect(tab.page.get_by_role("status")).to_contain_text("Vous êtes déconnecté(e).")
    tab.snap("deconnexion")
    tab.visit("/documents/")  # the space is closed to the logged-out browser
    tab.expect_heading(steps.LOGIN_HEADING)
    assert "/connexion/" in tab.page.url

    # A later login goes to the page the person was going to (?next=), not to the welcome
    steps.log_in(ui, "alice.martin", PASSWORD, email="alice.martin@exemple.fr")
    tab.expect_heading("Mes documents")
    tab.follow("Accueil")
    tab.expect_heading("Bonjour Alice")


def test_login_by_sms(ui, alice):
    tab = ui.tab
    tab.visit("/connexion/")
    steps.enter_password(tab, "alice.martin", PASSWORD)
    steps.choose_channel(tab, "Par SMS")
    tab.expect_heading(steps.CODE_HEADING)
    expect(tab.page.get_by_text("Le code a été envoyé")).to_have_text(
        "Le code a été envoyé au *****45678, il est valable pendant 15 min."
    )
    tab.snap("connexion-code-par-sms")
    code = steps.read_access_code(ui, mobile=alice.mobile)
    steps.enter_code(tab, code)
    tab.expect_heading("Bienvenue Alice")
    tab.follow("Plus tard, aller à l'accueil")
    tab.expect_heading("Bonjour Alice")
    expect_navigation(tab)


def test_only_verified_channels_are_offered(ui, alice):
    alice.mobile_verified = False
    alice.save(update_fields=["mobile_verified"])
    tab = ui.tab
    tab.visit("/connexion/")
    steps.enter_password(tab, "alice.martin", PASSWORD)
    tab.expect_heading(steps.CHANNEL_HEADING)
    expect(tab.page.get_by_role("radio")).to_have_count(1)
    expect(tab.page.get_by_label("Par e-mail")).to_be_visible()
    expect(tab.page.get_by_label("Par SMS")).to_have_count(0)

    # a forged choice of the unverified channel is refused, and nothing is sent
    tab.page.get_by_label("Par e-mail").evaluate("(radio) => { radio.value = 'sms'; }")
    tab.page.get_by_label("Par e-mail").check()
    tab.submit("Recevoir mon code")
    tab.expect_heading(steps.CHANNEL_HEADING)
    expect(tab.page.get_by_role("alert")).to_be_visible()
    assert not OneTimeCode.objects.exists()

    # neither channel verified: no code can be sent, the page says so
    alice.email_verified = False
    alice.save(update_fields=["email_verified"])
    tab.visit("/connexion/mode/")
    tab.expect_heading(steps.CHANNEL_HEADING)
    expect(tab.page.get_by_role("alert")).to_contain_text("Contactez l'assistance")
    expect(tab.page.get_by_role("radio")).to_have_count(0)
    tab.snap("connexion-aucun-mode-verifie")


def test_steps_cannot_be_skipped(ui, alice):
    tab = ui.tab
    for path in ("/connexion/mode/", "/connexion/code/"):
        tab.visit(path)
        tab.expect_heading(steps.LOGIN_HEADING)
        expect(tab.page.get_by_role("status")).to_contain_text(
            "Votre connexion a expiré : identifiez-vous à nouveau."
        )
    tab.visit("/connexion/")
    steps.enter_password(tab, "alice.martin", PASSWORD)
    tab.visit("/connexion/code/")  # the password alone does not reach the code step
    tab.expect_heading(steps.LOGIN_HEADING)
    tab.visit("/documents/")  # nor the space
    tab.expect_heading(steps.LOGIN_HEADING)
    tab.visit("/")
    expect(tab.page.get_by_role("heading", name=re.compile("^Bonjour"))).to_have_count(0)
    expect(tab.page.get_by_role("navigation", name="Navigation principale")).to_have_count(0)


@pytest.fixture
def professional(db):
    return User.objects.create_user(
        "dr.bernard.pro",
        PASSWORD,
        kind=User.Kind.PROFESSIONAL,
        email="dr.bernard@exemple.fr",
        email_verified=True,
    )


def test_professional_logs_in_on_the_professional_portal(ui, alice, professional):
    tab = ui.tab

    # the patient portal does not let a professional in, with the usual message
    tab.visit("/connexion/")
    steps.enter_password(tab, "dr.bernard.pro", PASSWORD)
    tab.expect_heading(steps.LOGIN_HEADING)
    expect(tab.page.get_by_role("alert")).to_contain_text(steps.LOGIN_FAILED)

    # nor does the professional portal let a patient in
    tab.visit("/pro/connexion/")
    steps.enter_password(tab, "alice.martin", PASSWORD)
    expect(tab.page.get_by_role("alert")).to_contain_text(steps.LOGIN_FAILED)

    tab.visit("/pro/connexion/")
    tab.expect_heading(steps.LOGIN_HEADING)
    expect(tab.page.get_by_text("Portail des professionnels de santé")).to_be_visible()
    expect(tab.page.get_by_role("link", name="Activez-le dès maintenant")).to_have_count(0)
    tab.snap("pro-connexion")
    steps.enter_password(tab, "dr.bernard.pro", PASSWORD)
    steps.choose_channel(tab, "Par e-mail")
    tab.expect_heading(steps.CODE_HEADING)
    expect(tab.page.get_by_text("Le code a été envoyé")).to_contain_text("d*****@exemple.fr")
    tab.snap("pro-connexion-code")
    steps.enter_code(tab, steps.read_access_code(ui, email="dr.bernard@exemple.fr"))

    tab.expect_heading("Portail des professionnels de santé")
    assert tab.page.url.endswith("/pro/")
    expect(tab.page.get_by_role("navigation", name="Navigation principale")).to_have_count(0)
    tab.snap("pro-portail")
    tab.visit("/")  # the patient's pages lead back to the portal
    tab.expect_heading("Portail des professionnels de santé")
    tab.visit("/documents/")
    tab.expect_heading("Portail des professionnels de santé")

    steps.log_out(tab)
    tab.expect_heading(steps.LOGIN_HEADING)
    assert tab.page.url.endswith("/pro/connexion/")
    tab.visit("/pro/")  # logged out: the portal asks for a login again
    tab.expect_heading(steps.LOGIN_HEADING)
    assert "connexion" in tab.page.url


def test_operator_logs_in_on_the_operator_space(ui):
    User.objects.create_user(
        "operateur.support",
        PASSWORD,
        kind=User.Kind.OPERATOR,
        email="support@exemple.fr",
        email_verified=True,
    )
    tab = ui.tab
    steps.log_in(
        ui, "operateur.support", PASSWORD, email="support@exemple.fr", start="/operateur/connexion/"
    )
    tab.expect_heading("Espace opérateur")
    assert tab.page.url.endswith("/operateur/")
    tab.snap("operateur-accueil")
    steps.log_out(tab)
    tab.expect_heading(steps.LOGIN_HEADING)
    assert tab.page.url.endswith("/operateur/connexion/")
