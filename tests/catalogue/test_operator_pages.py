"""The operators' catalogue pages (/operateur/catalogue/), through HTTP: the list, referencing
an app (the secret shown once), editing, a status change confirmed before cutting an app off,
the logo; other kinds of accounts and visitors never reach them."""

import html
import io

import pytest
from django.test import Client
from PIL import Image

from carnet.audit.models import Event
from carnet.catalogue.models import App
from tests.enrollment.helpers import space_of

from .conftest import REDIRECT, connect, fhir, register
from .test_operator_api import SCOPE, image_bytes, png_declaring

BASE = "/operateur/catalogue/"


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def operator_client(operator):
    client = Client()
    client.force_login(operator)
    return client


FORM = {
    "name": "Mon Carnet de Vaccins",
    "editor": "Vaccins & Cie",
    "description": "Suivre ses vaccinations et ses rappels (démonstration).",
    "category": "prevention",
    "website": "https://vaccins.exemple.fr",
    "allowed_scopes": "launch/patient openid\npatient/Immunization.rs",
    "redirect_uris": "https://vaccins.exemple.fr/retour",
    "finess": "",
    "status": "hors_ligne",
}


def test_the_operator_home_links_to_the_catalogue(operator_client):
    page = text(operator_client.get("/operateur/"))
    assert f'href="{BASE}"' in page and "Catalogue des services" in page


def test_the_list_shows_every_entry_with_its_status_and_filters(operator_client, operator):
    register(operator, scopes="launch/patient patient/Patient.rs", name="Suivi Tension")
    register(
        operator,
        scopes="launch/patient patient/Appointment.rs",
        name="Agenda Santé",
        status=App.Status.SUSPENDED,
        category=App.Category.APPOINTMENTS,
    )
    page = text(operator_client.get(BASE))
    assert "2 entrées" in page
    assert "Suivi Tension" in page and "En ligne" in page
    assert "Agenda Santé" in page and "Suspendue" in page
    filtered = text(operator_client.get(BASE, {"statut": "suspendue"}))
    assert "1 entrée" in filtered and "Suivi Tension" not in filtered
    by_category = text(operator_client.get(BASE, {"categorie": "maladie_chronique"}))
    assert "Suivi Tension" in by_category and "Agenda Santé" not in by_category
    assert "2 entrées" in text(operator_client.get(BASE, {"statut": "n'importe quoi"}))


def test_the_list_costs_the_same_queries_for_more_entries(
    operator_client, operator, django_assert_num_queries
):
    for n in range(2):
        register(operator, scopes="launch/patient", name=f"Service {n}")
    operator_client.get(BASE)  # the session is warm
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        operator_client.get(BASE)
    for n in range(2, 8):
        register(operator, scopes="launch/patient", name=f"Service {n}")
    with django_assert_num_queries(len(few.captured_queries)):
        operator_client.get(BASE)


def test_referencing_a_confidential_app_shows_its_secret_once(operator_client, operator):
    response = operator_client.post(f"{BASE}ajouter/", {**FORM, "confidential": "on"})
    assert response.status_code == 200
    app = App.objects.get()
    page = text(response)
    assert "« Mon Carnet de Vaccins » est référencé" in page
    assert app.client_id in page
    secret = response.context["secret"]
    assert secret and secret in page and app.client_secret != secret
    assert "il ne sera plus jamais affiché" in page
    assert response["Cache-Control"].startswith("max-age=0")
    assert app.allowed_scopes == "launch/patient openid patient/Immunization.rs"
    assert app.redirect_uris == "https://vaccins.exemple.fr/retour"
    assert secret not in text(operator_client.get(f"{BASE}{app.public_id}/"))
    assert Event.objects.filter(actor=operator.actor, action="catalogue_ajout").count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Ce champ est obligatoire."),
        ({"allowed_scopes": "patient/Astrologie.rs"}, None, "Donnée inconnue"),
        ({"redirect_uris": ""}, "redirect_uris", "au moins une adresse de retour"),
        ({"website": "pas une adresse"}, "website", "Saisissez une URL valide."),
        ({"finess": "12345"}, "finess", "Le FINESS compte 9 chiffres."),
    ],
)
def test_a_refused_reference_shows_the_error_and_creates_nothing(
    operator_client, changes, field, message
):
    response = operator_client.post(f"{BASE}ajouter/", {**FORM, **changes})
    assert response.status_code == 400
    form = response.context["form"]
    errors = form.errors[field] if field else form.non_field_errors()
    assert any(message in e for e in errors), form.errors
    assert message in text(response)
    assert not App.objects.exists()


def test_editing_an_entry_saves_it_and_is_audited(operator_client, operator, app):
    page = operator_client.get(f"{BASE}{app.public_id}/")
    assert page.status_code == 200
    form = {**page.context["form"].initial, "editor": "Nouvel Éditeur", "website": ""}
    response = operator_client.post(f"{BASE}{app.public_id}/", form)
    assert response.status_code == 302 and response["Location"] == f"{BASE}{app.public_id}/"
    assert "Les modifications sont enregistrées." in text(operator_client.get(response["Location"]))
    app.refresh_from_db()
    assert app.editor == "Nouvel Éditeur" and app.redirect_uris == REDIRECT
    [event] = Event.objects.filter(actor=operator.actor, action="catalogue_modification")
    assert event.detail["champs"] == ["editor"]


def test_a_refused_edit_changes_nothing(operator_client, app):
    page = operator_client.get(f"{BASE}{app.public_id}/")
    form = {**page.context["form"].initial, "allowed_scopes": "system/Patient.rs"}
    response = operator_client.post(f"{BASE}{app.public_id}/", form)
    assert response.status_code == 400
    assert "d'un autre contexte : system/Patient.rs" in text(response)
    assert App.objects.get(pk=app.pk).allowed_scopes == app.allowed_scopes


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("suspendue", "Les connexions des usagers sont conservées"),
        ("dereferencee", "Toutes les connexions des usagers sont terminées"),
    ],
)
def test_cutting_an_app_off_is_confirmed_first_then_its_token_is_refused(
    operator_client, operator, alice_client, alice, app, status, says
):
    token = connect(alice_client, app, SCOPE)
    patient = f"Patient/{space_of(alice.person).public_id}"
    url = f"{BASE}{app.public_id}/statut/"

    confirm = operator_client.post(url, {"status": status})
    assert confirm.status_code == 200
    page = text(confirm)
    assert "le service perd l'accès immédiatement" in page.lower()
    assert says in page and "1 profil est connecté à ce service" in page
    app.refresh_from_db()
    assert app.status == App.Status.ONLINE  # nothing yet
    assert fhir(token["access_token"], patient).status_code == 200

    done = operator_client.post(url, {"status": status, "confirmer": "1"})
    assert done.status_code == 302
    app.refresh_from_db()
    assert app.status == status
    assert fhir(token["access_token"], patient).status_code == 401
    [event] = Event.objects.filter(actor=operator.actor, action="catalogue_statut")
    assert event.detail["after"] == status


def test_putting_online_needs_no_confirmation(operator_client, operator):
    app = register(operator, scopes="launch/patient", status=App.Status.OFFLINE)
    response = operator_client.post(f"{BASE}{app.public_id}/statut/", {"status": "en_ligne"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.status == App.Status.ONLINE
    assert "est maintenant « en ligne »" in text(operator_client.get(response["Location"]))


def test_an_unknown_status_is_refused_next_to_the_field(operator_client, app):
    response = operator_client.post(f"{BASE}{app.public_id}/statut/", {"status": "en_vacances"})
    assert response.status_code == 400
    assert "Nouveau statut" in text(response)
    app.refresh_from_db()
    assert app.status == App.Status.ONLINE


def test_a_logo_is_uploaded_and_shown(operator_client, operator, app):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("logo.jpg", image_bytes("JPEG", (800, 800)))
    response = operator_client.post(f"{BASE}{app.public_id}/logo/", {"logo": upload})
    assert response.status_code == 302
    app.refresh_from_db()
    assert Image.open(io.BytesIO(bytes(app.logo))).size == (512, 512)
    page = text(operator_client.get(response["Location"]))
    assert "Le logo est enregistré." in page
    assert f'src="/catalogue/{app.public_id}/logo.png"' in page
    assert Event.objects.filter(actor=operator.actor, action="catalogue_logo").count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<?php echo 'pas une image'; ?>", "n'est pas une image PNG ou JPEG lisible"),
        (png_declaring(60_000, 60_000), "dimensions démesurées"),
    ],
)
def test_a_forged_logo_is_refused_next_to_the_field(operator_client, app, content, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("logo.png", content)
    response = operator_client.post(f"{BASE}{app.public_id}/logo/", {"logo": upload})
    assert response.status_code == 400
    assert any(message in e for e in response.context["logo_form"].errors["logo"])
    assert message in text(response)
    app.refresh_from_db()
    assert bytes(app.logo) == b""


# --- Other kinds of accounts, visitors ------------------------------------------------------


def _pages(app):
    entry = f"{BASE}{app.public_id}/"
    return [BASE, f"{BASE}ajouter/", entry, f"{entry}statut/", f"{entry}logo/"]


def test_a_visitor_is_sent_to_the_operators_login(client, app):
    for url in _pages(app):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/operateur/connexion/?next=")


@pytest.mark.parametrize(("kind", "home"), [("patient", "/"), ("professional", "/pro/")])
def test_patients_and_professionals_never_reach_the_pages(kind, home, app, alice, professional):
    client = Client()
    client.force_login(alice if kind == "patient" else professional)
    for url in _pages(app):
        assert client.get(url)["Location"] == home, url
    entry = f"{BASE}{app.public_id}/"
    assert client.post(f"{BASE}ajouter/", FORM).status_code == 403
    assert client.post(
        f"{entry}statut/", {"status": "dereferencee", "confirmer": "1"}
    ).status_code == (403)
    assert client.post(entry, {**FORM, "name": "Piraté"}).status_code == 403
    app.refresh_from_db()
    assert (app.name, app.status) == ("Suivi Tension", App.Status.ONLINE)
    assert App.objects.count() == 1
