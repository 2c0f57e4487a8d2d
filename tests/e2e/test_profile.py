"""The medical profile in Chromium: a disease with a partial date, a treatment, weights and a
height (the BMI and the chart on "Mesures"), the PDF synthesis, and every form of every
section checked by axe-core."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from carnet.profile.models import Condition, Measurement, Treatment
from carnet.profile.sections import SECTIONS
from tests.enrollment.helpers import PASSWORD, activate

from . import steps

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email=EMAIL, mobile="+33612345678")
    return activate(issued, identifier="alice.martin")


def days_ago(days: int, hour: int = 8) -> str:
    moment = datetime.now(PARIS) - timedelta(days=days)
    return moment.replace(hour=hour, minute=30).strftime("%d/%m/%Y %H:%M")


def go_to_profile(tab):
    nav = tab.page.get_by_role("navigation", name="Navigation principale")
    with tab.page.expect_navigation():
        nav.get_by_role("link", name="Profil médical", exact=True).click()
    tab.audit()
    tab.expect_heading("Profil médical")


def add_measurement(tab, kind: str, value: str, when: str):
    tab.follow("Ajouter : Mesures")
    tab.expect_heading("Ajouter : mesures")
    page = tab.page
    page.get_by_label("Type de mesure").select_option(label=kind)
    page.get_by_label("Valeur", exact=True).fill(value)
    page.get_by_label("Date et heure").fill(when)
    tab.submit("Enregistrer")
    tab.expect_heading("Mesures")
    expect(page.get_by_role("status").or_(page.locator(".messages"))).to_contain_text(
        "L'information a été ajoutée."
    )


def test_profile_disease_treatment_measurements_chart_and_pdf(ui, alice, tmp_path):
    tab = ui.tab
    page = tab.page
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    tab.expect_heading("Bienvenue Alice")
    go_to_profile(tab)
    for section in SECTIONS.values():
        expect(page.get_by_role("heading", level=2, name=section.title)).to_be_visible()
    tab.snap("profil-medical")

    # A disease remembered as "March 2015": first refused (HTML in the name, month 13)
    tab.follow("Ajouter : Maladies et sujets de santé")
    tab.expect_heading("Ajouter : maladies et sujets de santé")
    tab.snap("maladie-formulaire")
    page.get_by_label("Nom", exact=True).fill("<b>Asthme</b>")
    start = page.get_by_role("group", name="Date de début (année obligatoire)")
    start.get_by_label("Mois").fill("13")
    start.get_by_label("Année").fill("2015")
    tab.submit("Enregistrer")
    steps.expect_field_error(tab, "Nom", "Les caractères < et > ne sont pas acceptés.")
    expect(start).to_have_accessible_description("Le mois doit être compris entre 1 et 12.")
    expect(start.get_by_label("Mois")).to_have_attribute("aria-invalid", "true")
    summary = page.get_by_role("alert").get_by_role("link", name=re.compile("^Date de début"))
    expect(summary).to_have_attribute("href", "#id_start_0")
    assert not Condition.objects.exists()
    tab.snap("maladie-erreurs")
    page.get_by_label("Nom", exact=True).fill("Asthme")
    start.get_by_label("Mois").fill("3")
    page.get_by_label("Commentaire").fill("Crises <b>à l'effort</b>")
    tab.submit("Enregistrer")
    tab.expect_heading("Maladies et sujets de santé")
    entry = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Asthme"))
    expect(entry).to_contain_text("mars 2015")
    expect(entry).to_contain_text("Crises <b>à l'effort</b>")  # shown as typed, not as HTML
    tab.snap("maladies-liste")
    disease = Condition.objects.get()
    assert (disease.start_year, disease.start_month, disease.start_day) == (2015, 3, None)

    # Edit it, then look at the delete confirmation without deleting
    tab.follow("Modifier : Asthme")
    tab.expect_heading("Maladies et sujets de santé")
    expect(start.get_by_label("Mois")).to_have_value("3")
    page.get_by_label("Maladie ou sujet de santé en cours").check()
    tab.submit("Enregistrer")
    expect(page.get_by_role("listitem").filter(has_text="Asthme")).to_contain_text("oui")
    tab.follow("Supprimer : Asthme")
    tab.expect_heading("Supprimer cette information ?")
    tab.snap("maladie-suppression")
    tab.follow("Annuler", within="main")
    tab.expect_heading("Maladies et sujets de santé")

    # A treatment
    tab.follow("Profil médical", within="main")
    tab.follow("Ajouter : Traitements")
    page.get_by_label("Nom du traitement").fill("Ventoline")
    page.get_by_label("Traitement en cours").check()
    page.get_by_role("group", name="Date de début (année obligatoire)").get_by_label("Année").fill(
        "2016"
    )
    page.get_by_label("Posologie").fill("2 bouffées en cas de crise")
    tab.submit("Enregistrer")
    tab.expect_heading("Traitements")
    expect(page.get_by_role("main")).to_contain_text("Ventoline")
    assert Treatment.objects.get().ongoing

    # Two weights and a height: the BMI uses the latest weight
    tab.follow("Profil médical", within="main")
    tab.follow("Mesures")
    tab.expect_heading("Mesures")
    add_measurement(tab, "Poids (kg)", "72,5", days_ago(30))
    add_measurement(tab, "Poids (kg)", "71", days_ago(2))
    add_measurement(tab, "Taille (cm)", "175", days_ago(2, hour=9))
    assert Measurement.objects.count() == 3
    main = page.get_by_role("main")
    expect(main).to_contain_text("Indice de masse corporelle")
    expect(page.locator(".notice").filter(has_text="Indice de masse corporelle")).to_contain_text(
        "23,2"
    )
    weight = page.get_by_role("region", name="Poids").or_(
        page.locator("section").filter(has=page.get_by_role("heading", name="Poids", exact=True))
    )
    chart = weight.first.locator("svg[role=img]")
    expect(chart).to_have_count(1)
    expect(chart).to_have_accessible_name(re.compile(r"\S"))
    tab.snap("mesures")

    # The synthesis, as a PDF download
    tab.follow("Profil médical", within="main")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger la synthèse (PDF)").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")


def test_every_section_form_passes_axe(ui, alice):
    tab = ui.tab
    page = tab.page
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    tab.expect_heading("Bienvenue Alice")
    for slug, section in SECTIONS.items():
        if section.single:
            tab.visit(f"/profil-medical/{slug}/modifier/")
            tab.expect_heading(section.title)
        else:
            tab.visit(f"/profil-medical/{slug}/")
            tab.expect_heading(section.title)
            tab.visit(f"/profil-medical/{slug}/ajouter/")
            tab.expect_heading(f"Ajouter : {section.title.lower()}")
        tab.snap(f"formulaire-{slug}")
        tab.submit("Enregistrer")  # empty: the errors (if any) are checked by axe too
        if page.get_by_role("alert").filter(has_text="empêche").count():
            tab.snap(f"formulaire-{slug}-erreurs")

    # The single sections, filled and shown again
    tab.visit("/profil-medical/entourage/modifier/")
    page.get_by_label("Personne à prévenir en cas d'urgence : nom").fill("Paul Martin")
    page.get_by_label("Personne à prévenir : téléphone").fill("appelez-moi")
    page.get_by_label("je suis favorable au don d'organes").check()
    tab.submit("Enregistrer")
    steps.expect_field_error(
        tab, "Personne à prévenir : téléphone", "Saisissez un numéro", exact=False
    )
    tab.snap("entourage-erreur")
    page.get_by_label("Personne à prévenir : téléphone").fill("06 12 34 56 78")
    tab.submit("Enregistrer")
    tab.expect_heading("Profil médical")
    tab.visit("/profil-medical/groupe-sanguin/modifier/")
    page.get_by_label("AB", exact=True).check()
    page.get_by_label("Rhésus négatif (−)").check()
    tab.submit("Enregistrer")
    tab.expect_heading("Profil médical")
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name="Groupe sanguin")
    )
    expect(card).to_contain_text("Renseigné.")
    tab.follow("Modifier : Groupe sanguin")
    expect(page.get_by_label("AB", exact=True)).to_be_checked()
    tab.visit("/profil-medical/entourage/modifier/")
    expect(page.get_by_label("Personne à prévenir : téléphone")).to_have_value("06 12 34 56 78")
    tab.snap("entourage-rempli")


def test_vaccine_list_can_be_searched(ui, alice):
    tab = ui.tab
    page = tab.page
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    tab.visit("/profil-medical/vaccinations/ajouter/")
    tab.expect_heading("Ajouter : vaccinations")
    page.get_by_label("Rechercher un vaccin dans la liste").fill("rougeo")
    expect(page.get_by_label("Vaccin", exact=True)).to_have_value("ror")
    page.get_by_label("Date de vaccination").fill("14/03/2024")
    tab.submit("Enregistrer")
    tab.expect_heading("Vaccinations")
    expect(page.locator("main")).to_contain_text("Rougeole, oreillons, rubéole (ROR)")
