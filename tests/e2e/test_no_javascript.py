"""The wizard needs no JavaScript: plain forms, server-side errors, links."""

import pytest
from playwright.sync_api import expect

from . import steps

pytestmark = pytest.mark.e2e


def test_wizard_works_without_javascript(ui_without_js, issue_code):
    issued = issue_code(vitale_photo=False, vitale_serial="87654321")
    person, tab = issued.person, ui_without_js.tab
    assert tab.page.evaluate("() => 1") == 1  # Playwright can still look; the page cannot
    tab.visit("/activer/")
    tab.expect_heading("Je m'identifie")

    # an incomplete form is refused by the server, errors listed and next to their fields
    tab.submit("Continuer")
    tab.expect_heading("Je m'identifie")
    summary = tab.page.get_by_role("alert")
    expect(summary).to_contain_text("5 erreurs empêchent de continuer")
    steps.expect_field_error(tab, "Code provisoire", "Saisissez votre code provisoire.")
    expect(
        tab.page.get_by_role("group", name="Modèle de carte Vitale")
    ).to_have_accessible_description("Indiquez le modèle de votre carte Vitale.")
    tab.snap("sans-js-etape-1-erreurs")

    steps.identify(tab, person, issued.code)
    tab.expect_heading("Je prends ma décision")
    tab.page.get_by_label("J'active mon espace").check()
    tab.page.get_by_label("J'accepte les Conditions Générales d'Utilisation").check()
    tab.submit("Valider ma décision")
    tab.expect_heading("Je vérifie mes coordonnées")
    tab.submit("Continuer")
    tab.expect_heading("Je choisis mon identifiant et mon mot de passe")
    # the strength meter is an enhancement: without JavaScript it stays hidden
    expect(tab.page.get_by_text("Robustesse")).to_be_hidden()
    steps.choose_credentials(tab, "sans.javascript")
    tab.expect_heading("Votre espace a bien été activé")
