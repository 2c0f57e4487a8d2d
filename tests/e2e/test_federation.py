"""FranceConnect+ and Pro Santé Connect in Chromium, against a real OpenID provider started on
loopback (panva's oidc-provider): a patient links her account once (password, then a code) and
then logs in with FranceConnect+ alone; logging out ends the provider's session too; a
professional of the directory logs in with Pro Santé Connect. axe-core checks every page."""

import pytest
from playwright.sync_api import expect

from carnet.enrollment import services as enrollment
from carnet.federation.models import FederatedIdentity
from tests.conftest import Issued
from tests.consent.conftest import make_professional
from tests.enrollment.helpers import PASSWORD, activate
from tests.federation import flows
from tests.federation.oidc_provider import start_provider

from . import steps

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"


@pytest.fixture
def start_oidc_provider():
    started = []

    def run(config):
        started.append(start_provider(config))
        return started[-1]

    yield run
    for provider in started:
        provider.stop()


@pytest.fixture
def alice(transactional_db):
    person = flows.registry_alice(email=EMAIL)
    [(person, code, _)] = enrollment.codes_issue([person])
    return activate(Issued(person=person, code=code), identifier="alice.martin")


def start(start_oidc_provider, settings, live_server, key, accounts, *, callback, login):
    client_id = f"carnet-{key}"
    provider = start_oidc_provider(
        flows.provider_config(
            live_server.url, accounts, client_id=client_id, callback=callback, login=login
        )
    )
    flows.configure(settings, key, provider.issuer, client_id)
    return provider


def on_provider_page(tab) -> None:
    """A page of the identity provider, not ours: axe checks Carnet's pages only."""
    tab.unaudited.clear()


def provider_login(tab, login: str) -> None:
    """The provider's own page: type the test account, submit."""
    expect(tab.page.get_by_label("Identifiant")).to_be_visible()
    on_provider_page(tab)
    tab.page.get_by_label("Identifiant").fill(login)
    tab.submit("Se connecter")


def test_a_patient_links_her_account_once_then_franceconnect_alone_logs_her_in(
    ui, alice, start_oidc_provider, settings, live_server
):
    tab, page = ui.tab, ui.page
    accounts = {"alice": {"sub": "fc-alice", "acr": "eidas2", "claims": flows.fc_claims()}}
    start(
        start_oidc_provider,
        settings,
        live_server,
        "franceconnect",
        accounts,
        callback="/connexion/franceconnect/retour/",
        login="/connexion/",
    )
    tab.visit("/connexion/")
    tab.snap("connexion-moyens")
    with page.expect_navigation():
        page.get_by_role("link", name="S'identifier avec FranceConnect+").click()
    provider_login(tab, "alice")

    tab.expect_heading("Associer FranceConnect+ à mon compte")
    expect(page.get_by_text("alice.martin")).to_be_visible()
    page.get_by_label("Mon mot de passe").fill(PASSWORD)
    tab.submit("Continuer")
    steps.choose_channel(tab, "Par e-mail")
    steps.enter_code(tab, steps.read_access_code(ui, email=EMAIL))
    tab.follow("Plus tard, aller à l'accueil")
    tab.expect_heading("Bonjour Alice")
    assert FederatedIdentity.objects.filter(user=alice, subject="fc-alice").exists()

    # Logging out ends the provider's session too: it asks, then comes back to our login.
    # The departure to the provider is held back once, so that axe checks our page first.
    held = "**/session/end?**"
    page.route(held, lambda route: route.fulfill(status=204))  # a 204 leaves the page as is
    page.locator("details.account-menu > summary").click()
    tab.submit("Se déconnecter")
    tab.expect_heading("Vous êtes déconnecté(e)")
    page.unroute(held)
    with page.expect_navigation(url=lambda url: "/session/end" in url):
        page.get_by_role("link", name="Terminer aussi ma session d'identification").click()
    on_provider_page(tab)
    tab.submit("Se déconnecter")  # the provider's confirmation
    tab.expect_heading("Je m'identifie")

    # Now FranceConnect+ alone: no password, no code.
    with page.expect_navigation():
        page.get_by_role("link", name="S'identifier avec FranceConnect+").click()
    provider_login(tab, "alice")
    tab.expect_heading("Bonjour Alice")


def test_a_professional_logs_in_with_pro_sante_connect(
    ui, transactional_db, start_oidc_provider, settings, live_server
):
    tab = ui.tab
    doctor = make_professional(last_name="FICTIF", first_name="Claire")
    claims = {"SubjectNameID": f"8{doctor.rpps}", "given_name": "Claire", "family_name": "FICTIF"}
    start(
        start_oidc_provider,
        settings,
        live_server,
        "prosanteconnect",
        {"claire": {"sub": "psc-claire", "acr": "eidas1", "claims": claims}},
        callback="/pro/connexion/prosanteconnect/retour/",
        login="/pro/connexion/",
    )
    tab.visit("/pro/connexion/")
    with ui.page.expect_navigation():
        ui.page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()
    provider_login(tab, "claire")
    expect(ui.page).to_have_url(live_server.url + "/pro/")
    expect(ui.page.get_by_role("heading", level=1)).to_be_visible()
    tab.audit()
