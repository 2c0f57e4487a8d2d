"""Passkeys in real Chromium, with its virtual authenticator (the DevTools protocol's WebAuthn
domain through Playwright's CDP session): a patient adds a passkey in her settings after
confirming her identity, then logs in with it alone. Refused: an answer from another origin, a
replayed answer, a deleted passkey, a counter that goes back. Every page is checked by axe."""

import re

import pytest
from playwright.sync_api import expect

from carnet.accounts.models import Passkey, SessionRecord
from carnet.audit.models import Event
from tests.enrollment.helpers import PASSWORD, activate

from . import steps

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"
LOGIN_BUTTON = "Se connecter avec une clé d'accès"
ADDED = "Une clé d'accès a été ajoutée à votre compte"
REMOVED = "Une clé d'accès a été supprimée de votre compte"


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email=EMAIL, mobile="+33612345678")
    return activate(issued, identifier="alice.martin")


@pytest.fixture
def relying_party(settings, live_server):
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = [live_server.url]
    assert live_server.url.startswith("http://localhost:")  # an IP is no relying party id
    return settings


def virtual_authenticator(ui) -> dict:
    """A platform authenticator that holds discoverable credentials and verifies the user."""
    cdp = ui.context.new_cdp_session(ui.page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    answer = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return {"cdp": cdp, "id": answer["authenticatorId"]}


def confirm_identity(ui) -> None:
    tab, page = ui.tab, ui.page
    tab.expect_heading("Je confirme mon identité")
    page.get_by_label("Mon mot de passe").fill(PASSWORD)
    page.get_by_label("Par e-mail").check()
    tab.submit("Recevoir mon code")
    page.get_by_label("Code de vérification").fill(steps.read_access_code(ui, email=EMAIL))
    tab.submit("Valider")


def add_passkey(ui, name: str = "Mon téléphone") -> None:
    """From any page while logged in: Paramètres → Mes clés d'accès → add one."""
    tab, page = ui.tab, ui.page
    tab.visit("/parametres/")
    tab.follow("Mes clés d'accès")
    confirm_identity(ui)
    tab.expect_heading("Mes clés d'accès")
    expect(page.get_by_text("Vous n'avez pas encore de clé d'accès.")).to_be_visible()
    page.get_by_label("Nom de la clé d'accès").fill(name)
    tab.submit("Ajouter une clé d'accès")
    tab.expect_heading("Mes clés d'accès")
    expect(page.get_by_role("status").first).to_contain_text("Votre clé d'accès est enregistrée")
    expect(page.get_by_role("cell", name=name, exact=True)).to_be_visible()


def log_in_with_passkey(ui) -> None:
    tab = ui.tab
    tab.visit("/connexion/")
    tab.submit(LOGIN_BUTTON)


def refused(ui, message: str) -> None:
    tab, page = ui.tab, ui.page
    tab.expect_heading("Je m'identifie")
    expect(page.get_by_role("alert").or_(page.locator(".messages"))).to_contain_text(message)
    tab.visit("/parametres/")  # not logged in: the login page again
    expect(page).to_have_url(re.compile(r"/connexion/"))


def test_add_a_passkey_and_log_in_with_it_alone(ui, alice, relying_party):
    tab, page = ui.tab, ui.page
    virtual_authenticator(ui)
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    add_passkey(ui)
    tab.snap("cle-acces-liste")
    ui.read_outbox(to=EMAIL, subject=ADDED, pattern=r"(Mes clés d'accès)")
    steps.log_out(tab)

    before = page.context.cookies()
    log_in_with_passkey(ui)
    tab.expect_heading("Bonjour Alice")
    after = page.context.cookies()
    # The same session rules as the code login: a new session key, a session record.
    assert {c["value"] for c in after} - {c["value"] for c in before}
    record = SessionRecord.objects.get(user=alice, ended_at__isnull=True)
    passkey = Passkey.objects.get(user=alice)
    assert passkey.last_used_at is not None and passkey.sign_count >= 1
    assert Event.objects.filter(action="connexion", detail__moyen="cle_acces").count() == 1

    tab.visit("/parametres/activites/")
    expect(page.get_by_text("avec une clé d'accès")).to_be_visible()
    expect(page.get_by_text("Ajout d'une clé d'accès")).to_be_visible()
    steps.log_out(tab)
    record.refresh_from_db()
    assert record.ended_at is not None


def test_an_answer_from_another_origin_is_refused(ui, alice, relying_party):
    virtual_authenticator(ui)
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    add_passkey(ui)
    steps.log_out(ui.tab)
    # The browser signs its real origin; the service expects another one.
    relying_party.WEBAUTHN_ORIGINS = ["https://carnet.example"]
    log_in_with_passkey(ui)
    refused(ui, "Connexion avec la clé d'accès refusée")


def test_a_replayed_answer_is_refused(ui, alice, relying_party):
    tab, page = ui.tab, ui.page
    virtual_authenticator(ui)
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    add_passkey(ui)
    steps.log_out(tab)

    tab.visit("/connexion/")
    with page.expect_request(lambda r: r.url.endswith("/connexion/cle-d-acces/")) as sent:
        tab.submit(LOGIN_BUTTON)
    tab.expect_heading("Bonjour Alice")
    captured = sent.value.post_data_json
    steps.log_out(tab)

    # The same answer again, once a new challenge was issued to this browser: refused.
    tab.visit("/connexion/")
    form = page.locator("#passkey-login")
    token = form.locator("input[name=csrfmiddlewaretoken]").input_value()
    page.evaluate(
        "([url, token]) => fetch(url, {method: 'POST', headers: {'X-CSRFToken': token}})",
        ["/connexion/cle-d-acces/options/", token],
    )
    replay = page.request.post(
        relying_party_url(tab, "/connexion/cle-d-acces/"),
        form={"csrfmiddlewaretoken": token, "credential": captured["credential"]},
        headers={"Referer": relying_party_url(tab, "/connexion/")},
    )
    assert replay.ok  # the login page again, with the refusal
    tab.visit("/parametres/")  # not logged in: the login page again
    expect(page).to_have_url(re.compile(r"/connexion/"))
    assert Event.objects.filter(action="connexion", detail__moyen="cle_acces").count() == 1


def relying_party_url(tab, path: str) -> str:
    return tab.base_url + path


def test_a_deleted_passkey_no_longer_logs_in(ui, alice, relying_party):
    tab, page = ui.tab, ui.page
    virtual_authenticator(ui)
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    add_passkey(ui, "Ordinateur")
    tab.follow("Supprimer la clé « Ordinateur »")
    tab.expect_heading("Supprimer la clé d'accès « Ordinateur » ?")
    tab.submit("Supprimer la clé d'accès")
    tab.expect_heading("Mes clés d'accès")
    expect(page.get_by_text("Vous n'avez pas encore de clé d'accès.")).to_be_visible()
    ui.read_outbox(to=EMAIL, subject=REMOVED, pattern=r"(ne permet plus)")
    steps.log_out(tab)

    log_in_with_passkey(ui)  # the authenticator still holds it; the service no longer does
    refused(ui, "n'est pas (ou plus) enregistrée")


def test_a_counter_that_goes_back_is_refused_as_a_possible_clone(ui, alice, relying_party):
    virtual_authenticator(ui)
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    add_passkey(ui)
    steps.log_out(ui.tab)
    Passkey.objects.filter(user=alice).update(sign_count=1_000_000)
    log_in_with_passkey(ui)
    refused(ui, "Connexion avec la clé d'accès refusée")
    assert Event.objects.filter(action="cle_acces_clone_suspecte").count() == 1
