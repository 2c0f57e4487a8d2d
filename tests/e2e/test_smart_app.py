"""A SMART on FHIR app that is not ours (the `fhirclient` package) connects to Alice's profile:
authorization code + PKCE S256, consent clicked in Chromium, DocumentReferences listed and a
Binary downloaded through fhirclient; Alice then disconnects it from « Services connectés »
and its next call gets 401. An app granted only Observation reads gets 403 on documents.
axe-core checks every page (the catalogue, its entry, the consent screen, the settings)."""

import re

import pytest
from fhirclient import client as smart_client
from fhirclient.models.documentreference import DocumentReference
from fhirclient.models.observation import Observation
from playwright.sync_api import expect

from carnet.accounts.models import User
from carnet.core.blobs import blob_read
from tests.catalogue.conftest import register
from tests.consent.conftest import add_document
from tests.enrollment.helpers import PASSWORD, activate, space_of

from . import steps

pytestmark = pytest.mark.e2e

CALLBACK = "https://app-demo.exemple.test/retour"
EMAIL = "alice.martin@exemple.fr"


@pytest.fixture
def alice(issue_code):
    return activate(issue_code(first_name="Alice", email=EMAIL), identifier="alice.martin")


@pytest.fixture
def operator(transactional_db):
    return User.objects.create_user("operateur.e2e", None, kind=User.Kind.OPERATOR)


def search(smart, resource_class) -> list:
    """fhirclient's search of the connected patient's resources of one type."""
    query = resource_class.where({"patient": smart.patient_id})
    return list(query.perform_resources_iter(smart.server))


def connect_in_browser(ui, live_server, app, scope: str):
    """fhirclient builds the authorization URL; Alice consents in Chromium; the redirect to the
    app (intercepted: the app's site is not on this machine) goes back to fhirclient."""
    smart = smart_client.FHIRClient(
        settings={
            "app_id": app.client_id,
            "api_base": f"{live_server.url}/fhir/",
            "redirect_uri": CALLBACK,
            "scope": scope,
        }
    )
    returned = []

    def catch(route):
        # Playwright does not route a redirect's target: read the consent's answer (the
        # redirect to the app) here, and stand in for the app's page.
        if route.request.method != "POST":
            route.continue_()
            return
        answer = route.fetch(max_redirects=0)
        returned.append(answer.headers["location"])
        route.fulfill(status=200, content_type="text/html", body="<title>App</title>")

    ui.context.route(re.compile(r".*/oauth/authorize/(\?.*)?$"), catch)
    tab = ui.tab
    tab.page.goto(smart.authorize_url)
    tab.audit()
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text(
        f"Connecter {app.name} au profil de Alice"
    )
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="J'autorise").click()
    tab.unaudited.clear()  # the app's own page (fulfilled above), not ours
    assert returned and returned[0].startswith(CALLBACK)
    smart.handle_callback(returned[0])
    return smart


def test_a_smart_client_connects_reads_and_is_disconnected(ui, live_server, alice, operator):
    space = space_of(alice.person)
    doc = add_document(alice, space, title="Compte rendu")
    app = register(
        operator,
        scopes="launch/patient openid fhirUser patient/Patient.rs patient/DocumentReference.rs",
        name="Mon Suivi Démo",
        redirect_uris=[CALLBACK],
    )
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    tab = ui.tab
    tab.visit("/catalogue/")
    tab.follow("Mon Suivi Démo")
    expect(tab.page.get_by_role("main")).to_contain_text("Lire et rechercher vos documents")

    smart = connect_in_browser(
        ui, live_server, app, "openid fhirUser patient/Patient.rs patient/DocumentReference.rs"
    )
    assert smart.ready and smart.patient_id == str(space.public_id)
    found = list(
        DocumentReference.where({"patient": smart.patient_id}).perform_resources_iter(smart.server)
    )
    assert [d.id for d in found] == [str(doc.public_id)]
    attachment_url = found[0].content[0].attachment.url
    response = smart.server.request_data(attachment_url)
    assert response == blob_read(doc.blob)

    tab.visit("/parametres/")
    tab.follow("Voir mes services connectés")
    expect(tab.page.get_by_role("main")).to_contain_text("Mon Suivi Démo")
    tab.follow("Désynchroniser Mon Suivi Démo")
    tab.submit("Désynchroniser")
    expect(tab.page.get_by_role("main")).to_contain_text("Aucun service n'est connecté")
    with pytest.raises(Exception) as refused:
        list(
            DocumentReference.where({"patient": smart.patient_id}).perform_resources_iter(
                smart.server
            )
        )
    assert "401" in str(refused.value) or "nauthori" in str(refused.value)


def test_an_app_granted_observations_only_gets_403_on_documents(ui, live_server, alice, operator):
    app = register(
        operator,
        scopes="launch/patient patient/Observation.rs",
        name="Mesures Démo",
        redirect_uris=[CALLBACK],
    )
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    smart = connect_in_browser(ui, live_server, app, "patient/Observation.rs")
    assert search(smart, Observation) == []
    with pytest.raises(Exception) as refused:
        list(
            DocumentReference.where({"patient": smart.patient_id}).perform_resources_iter(
                smart.server
            )
        )
    assert "403" in str(refused.value) or "orbidden" in str(refused.value)
