"""Step 4 when the choice is refused: identifier taken, password too weak."""

import re

import pytest
from playwright.sync_api import expect

from carnet.accounts.models import User

from . import steps

pytestmark = pytest.mark.e2e


def test_identifier_taken_offers_free_suggestions(ui, issue_code):
    User.objects.create_user("alice.martin", "une autre phrase de passe")
    issued = issue_code(first_name="Alice", last_name="Martin")
    tab = ui.tab
    steps.reach_credentials(ui, issued.person, issued.code)

    steps.choose_credentials(tab, "alice.martin")
    tab.expect_heading("Je choisis mon identifiant et mon mot de passe")
    steps.expect_field_error(tab, "Identifiant", "Cet identifiant est déjà pris.")
    offered = tab.page.get_by_role("status").filter(has_text="Identifiants disponibles")
    expect(offered).to_be_visible()
    suggestions = offered.get_by_role("listitem").all_inner_texts()
    assert len(suggestions) == 3
    for suggestion in suggestions:
        assert re.fullmatch(r"alice\.martin\.\d{3}", suggestion), suggestion
        assert not User.objects.filter(identifier=suggestion).exists()
    expect(tab.page.get_by_label("Identifiant", exact=True)).to_have_value("alice.martin")
    tab.snap("etape-4-identifiant-deja-pris")

    steps.choose_credentials(tab, suggestions[0])
    tab.expect_heading("Votre espace a bien été activé")
    assert User.objects.get(identifier=suggestions[0]).person_id == issued.person.pk


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("123456789012345", "Ce mot de passe est entièrement numérique."),
        ("telechargement", "Ce mot de passe est trop courant."),
    ],
    ids=["all-digits", "common"],
)
def test_password_rejected_with_the_error_linked_to_the_field(ui, issue_code, password, message):
    issued = issue_code()
    tab = ui.tab
    steps.reach_credentials(ui, issued.person, issued.code)

    steps.choose_credentials(tab, "choix.valide", password=password)
    tab.expect_heading("Je choisis mon identifiant et mon mot de passe")
    expect(tab.page).to_have_title(re.compile("^Erreur — "))
    steps.expect_field_error(tab, "Mot de passe", message)
    expect(tab.page.get_by_label("Identifiant", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )
    assert not User.objects.filter(identifier="choix.valide").exists()
    tab.snap("etape-4-mot-de-passe-refuse")

    steps.choose_credentials(tab, "choix.valide")
    tab.expect_heading("Votre espace a bien été activé")
