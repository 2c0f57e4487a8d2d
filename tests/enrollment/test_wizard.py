"""The activation wizard through the HTTP client: order of steps, forms, messages, PDF."""

import html
import logging
from datetime import timedelta

import pytest
from django.test import Client

from carnet.accounts.models import User
from carnet.core import clock
from carnet.core.validators import parse_identifier
from carnet.enrollment.models import ContactCheck, Space
from carnet.notifications.models import OutboxMessage

from .helpers import PASSWORD, code_in, last_message, space_of
from .wizard import (
    post_credentials,
    post_identify,
    to_contacts,
    to_credentials,
    to_decision,
)

pytestmark = pytest.mark.django_db

WIZARD_PAGES = [
    "/activer/decision/",
    "/activer/coordonnees/",
    "/activer/coordonnees/confirmer/",
    "/activer/coordonnees/suite/",
    "/activer/identifiant/",
    "/activer/opposition/",
]


def _page(response) -> str:
    return html.unescape(response.content.decode())


# --- Order of the steps ------------------------------------------------------------------------


@pytest.mark.parametrize("url", WIZARD_PAGES)
def test_no_step_without_identification(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == "/activer/"
    if url != "/activer/coordonnees/suite/":  # GET only
        response = client.post(url, {"decision": "activer", "accept_cgu": "on"})
        assert response.status_code == 302 and response["Location"] == "/activer/"


def test_decision_is_needed_before_contacts_credentials_or_opposition(client, issue_code):
    to_decision(client, issue_code())
    for url in ("/activer/coordonnees/", "/activer/identifiant/", "/activer/opposition/"):
        assert client.get(url)["Location"] == "/activer/", url
    assert client.get("/activer/decision/").status_code == 200


def test_contacts_are_needed_before_credentials(client, issue_code):
    issued = issue_code()
    to_contacts(client, issued)
    assert client.get("/activer/identifiant/")["Location"] == "/activer/"
    assert post_credentials(client)["Location"] == "/activer/"
    assert not User.objects.filter(person=issued.person).exists()


def test_changing_the_decision_to_oppose_closes_the_activation_steps(client, issue_code):
    issued = issue_code()
    to_credentials(client, issued)
    client.post("/activer/decision/", {"decision": "opposer"})
    assert client.get("/activer/identifiant/")["Location"] == "/activer/"
    assert post_credentials(client)["Location"] == "/activer/"
    assert space_of(issued.person).state == Space.State.PENDING


def test_an_unconfirmed_new_email_cannot_be_skipped(client, issue_code):
    issued = issue_code()
    to_contacts(client, issued)
    response = client.post("/activer/coordonnees/", {"email": "nouvelle@exemple.fr", "mobile": ""})
    assert response["Location"] == "/activer/coordonnees/confirmer/"
    response = post_credentials(client)
    assert response["Location"] == "/activer/coordonnees/confirmer/"
    assert not User.objects.filter(person=issued.person).exists()


def test_decision_page_after_identification_greets_the_person(client, issue_code):
    issued = issue_code(first_name="Gaëlle")
    to_decision(client, issued)
    assert "Bonjour Gaëlle" in _page(client.get("/activer/decision/"))


# --- Decision and CGU -------------------------------------------------------------------------


def test_cgu_are_required_to_activate(client, issue_code):
    to_decision(client, issue_code())
    response = client.post("/activer/decision/", {"decision": "activer"})
    assert response.status_code == 200
    assert "acceptez les Conditions Générales" in _page(response)


def test_cgu_are_not_required_to_oppose(client, issue_code):
    to_decision(client, issue_code())
    response = client.post("/activer/decision/", {"decision": "opposer"})
    assert response["Location"] == "/activer/opposition/"


def test_a_decision_is_required(client, issue_code):
    to_decision(client, issue_code())
    response = client.post("/activer/decision/", {})
    assert response.status_code == 200
    assert "Choisissez d'activer votre espace ou de vous y opposer." in _page(response)


# --- Contact confirmation by code -----------------------------------------------------------


def _change_email(client, issued, email="nouvelle@exemple.fr"):
    to_contacts(client, issued)
    response = client.post("/activer/coordonnees/", {"email": email, "mobile": ""})
    assert response["Location"] == "/activer/coordonnees/confirmer/"
    return code_in(last_message(email, "verification"), length=6)


def test_new_email_is_confirmed_by_code_then_activation(client, issue_code):
    issued = issue_code()
    code = _change_email(client, issued)
    page = _page(client.get("/activer/coordonnees/confirmer/"))
    assert "n*****@exemple.fr" in page and "nouvelle@exemple.fr" not in page
    response = client.post("/activer/coordonnees/confirmer/", {"code": code})
    assert response["Location"] == "/activer/coordonnees/suite/"
    assert client.get(response["Location"])["Location"] == "/activer/identifiant/"
    assert post_credentials(client)["Location"] == "/activer/termine/"
    user = User.objects.get(person=issued.person)
    assert user.email == "nouvelle@exemple.fr" and user.email_verified
    assert user.mobile == "" and not user.mobile_verified


def test_unchanged_registry_email_needs_no_code(client, issue_code):
    issued = issue_code()
    to_credentials(client, issued)
    assert not ContactCheck.objects.filter(person=issued.person).exists()
    post_credentials(client)
    user = User.objects.get(person=issued.person)
    assert user.email == issued.person.email and user.email_verified


def test_new_mobile_is_confirmed_by_sms(client, issue_code):
    issued = issue_code()
    to_contacts(client, issued)
    response = client.post(
        "/activer/coordonnees/", {"email": issued.person.email, "mobile": "06 98 76 54 32"}
    )
    assert response["Location"] == "/activer/coordonnees/confirmer/"
    sms = last_message("+33698765432", "verification")
    assert sms.channel == OutboxMessage.Channel.SMS
    client.post("/activer/coordonnees/confirmer/", {"code": code_in(sms, length=6)})
    assert client.get("/activer/coordonnees/suite/")["Location"] == "/activer/identifiant/"
    post_credentials(client)
    user = User.objects.get(person=issued.person)
    assert user.mobile == "+33698765432" and user.mobile_verified


def test_wrong_codes_count_and_five_is_the_maximum(client, issue_code):
    issued = issue_code()
    code = _change_email(client, issued)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        response = client.post("/activer/coordonnees/confirmer/", {"code": wrong})
        assert response.status_code == 200
        assert f"Il vous reste {left} essai(s)" in _page(response)
    response = client.post("/activer/coordonnees/confirmer/", {"code": code})
    assert response.status_code == 200
    assert "Trop d'essais" in _page(response)
    assert ContactCheck.objects.get(person=issued.person).verified_at is None


def test_confirmation_code_expires_after_fifteen_minutes(client, issue_code):
    issued = issue_code()
    code = _change_email(client, issued)
    with clock.travel(timedelta(minutes=15)):
        response = client.post("/activer/coordonnees/confirmer/", {"code": code})
    assert response.status_code == 200
    assert "Ce code a expiré" in _page(response)
    assert ContactCheck.objects.get(person=issued.person).verified_at is None


def test_confirmation_code_still_valid_just_before_fifteen_minutes(client, issue_code):
    issued = issue_code()
    code = _change_email(client, issued)
    with clock.travel(timedelta(minutes=14, seconds=59)):
        response = client.post("/activer/coordonnees/confirmer/", {"code": code})
    assert response["Location"] == "/activer/coordonnees/suite/"


def test_resending_a_code_replaces_the_previous_one(client, issue_code):
    issued = issue_code()
    first = _change_email(client, issued)
    with clock.travel(timedelta(seconds=1)):
        client.post("/activer/coordonnees/confirmer/", {"renvoyer": "1"})
    second = code_in(last_message("nouvelle@exemple.fr", "verification"), length=6)
    if first != second:
        response = client.post("/activer/coordonnees/confirmer/", {"code": first})
        assert "Code incorrect" in _page(response)
    response = client.post("/activer/coordonnees/confirmer/", {"code": second})
    assert response["Location"] == "/activer/coordonnees/suite/"


def test_contact_codes_cannot_be_resent_without_limit(client, issue_code):
    issued = issue_code()
    _change_email(client, issued)
    for _ in range(20):
        client.post("/activer/coordonnees/confirmer/", {"renvoyer": "1"})
    sent = OutboxMessage.objects.filter(to="nouvelle@exemple.fr", kind="verification").count()
    assert sent <= 5
    assert "Trop de codes" in _page(client.get("/activer/coordonnees/confirmer/", follow=True))


def test_at_least_one_contact_is_required(client, issue_code):
    to_contacts(client, issue_code())
    response = client.post("/activer/coordonnees/", {"email": "", "mobile": ""})
    assert response.status_code == 200
    assert "Indiquez au moins une adresse e-mail ou un numéro de mobile" in _page(response)


# --- Identifier and password --------------------------------------------------------------------


def test_identifier_taken_gives_valid_free_suggestions(client, issue_code):
    User.objects.create_user("alice.martin", "un-autre-mot-de-passe-1")
    issued = issue_code()
    to_credentials(client, issued)
    response = post_credentials(client, identifier="alice.martin")
    assert response.status_code == 200
    assert "Cet identifiant est déjà pris." in _page(response)
    suggestions = response.context["suggestions"]
    assert len(suggestions) == 3
    for suggestion in suggestions:
        assert parse_identifier(suggestion) == suggestion
        assert not User.objects.filter(identifier=suggestion).exists()
        assert suggestion in _page(response)
    assert post_credentials(client, identifier=suggestions[0])["Location"] == "/activer/termine/"


@pytest.mark.parametrize("typed", ["Élodie Dupont", "x", "a@b.fr"])
def test_suggestions_after_an_invalid_identifier_are_valid(client, issue_code, typed):
    issued = issue_code(first_name="Marie-Noëlle", last_name="DÉMO-ACTIVE")
    to_credentials(client, issued)
    response = post_credentials(client, identifier=typed)
    assert response.status_code == 200
    for suggestion in response.context["suggestions"]:
        assert parse_identifier(suggestion) == suggestion


PASSWORDS = {
    "trop court": ("court-11car", "de 12 à 128 caractères"),
    "trop long": ("x" * 129, "au plus 128 caractères"),
    "courant": ("qwerty123456", "trop courant"),
    "que des chiffres": ("839201746352", "entièrement numérique"),
    "identifiant": ("alice.martin-2024", "ne doit pas contenir votre identifiant"),
    "prénom": ("Alicejardinlune", "ne doit pas contenir votre identifiant ni vos nom"),
    "nom": ("lejardindesdupontel", "ne doit pas contenir votre identifiant ni vos nom"),
}


@pytest.mark.parametrize("case", list(PASSWORDS))
def test_password_policy(client, issue_code, case):
    password, message = PASSWORDS[case]
    issued = issue_code(first_name="Alice", last_name="Dupontel")
    to_credentials(client, issued)
    response = post_credentials(client, password=password)
    assert response.status_code == 200, case
    assert message in _page(response), case
    assert not User.objects.filter(person=issued.person).exists()


def test_password_with_the_nir_is_refused(client, issue_code):
    issued = issue_code()
    to_credentials(client, issued)
    response = post_credentials(client, password=f"nir-{issued.person.nir}-ok")
    assert "numéro de sécurité sociale" in _page(response)


@pytest.mark.parametrize("length", [12, 128])
def test_password_length_bounds_are_accepted(client, issue_code, length):
    issued = issue_code()
    to_credentials(client, issued)
    password = ("orage-lune-" * 20)[:length]
    assert post_credentials(client, password=password)["Location"] == "/activer/termine/"


def test_password_confirmation_must_match(client, issue_code):
    issued = issue_code()
    to_credentials(client, issued)
    response = post_credentials(client, confirm=PASSWORD + "x")
    assert response.status_code == 200
    assert "Les deux mots de passe ne sont pas identiques." in _page(response)
    assert not User.objects.filter(person=issued.person).exists()


def test_activation_ends_on_the_done_page_once(client, issue_code):
    issued = issue_code()
    to_credentials(client, issued)
    response = post_credentials(client)
    assert response["Location"] == "/activer/termine/"
    assert "Votre espace a bien été activé" in _page(client.get("/activer/termine/"))
    assert client.get("/activer/termine/")["Location"] == "/activer/"
    user = User.objects.get(person=issued.person)
    assert user.check_password(PASSWORD) and user.password.startswith("argon2")
    assert space_of(issued.person).state == Space.State.ACTIVE
    assert last_message(issued.person.email, "activation") is not None


def test_the_code_cannot_be_used_twice_through_the_wizard(client, issue_code):
    issued = issue_code()
    to_credentials(client, issued)
    post_credentials(client)
    other = Client()
    response = post_identify(other, issued.person, issued.code)
    assert response.status_code == 200
    assert "déjà été utilisé" in _page(response)


# --- Opposition ---------------------------------------------------------------------------------


def test_opposition_and_its_pdf(client, issue_code):
    issued = issue_code()
    to_decision(client, issued)
    client.post("/activer/decision/", {"decision": "opposer"})
    assert client.get("/activer/opposition/").status_code == 200
    response = client.post("/activer/opposition/")
    assert response["Location"] == "/activer/opposition/confirmee/"
    assert space_of(issued.person).state == Space.State.OPPOSED
    assert "Votre opposition a bien été enregistrée" in _page(client.get(response["Location"]))
    pdf = client.get("/activer/opposition/attestation.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert "no-store" in pdf["Cache-Control"]
    assert pdf.content.startswith(b"%PDF")
    assert last_message(issued.person.email, "opposition") is not None


def test_opposition_pdf_needs_the_opposition_session(issue_code):
    assert Client().get("/activer/opposition/attestation.pdf").status_code == 404


# --- The code never shows ----------------------------------------------------------------------


def test_the_code_never_appears_in_a_page_or_a_log(client, issue_code, caplog):
    caplog.set_level(logging.DEBUG)
    issued = issue_code()
    code = issued.code
    pages = []
    # a failed attempt first (wrong serial), then the whole journey
    pages.append(post_identify(client, issued.person, code, vitale_serial="99999999999"))
    pages.append(client.get("/activer/"))
    pages.append(post_identify(client, issued.person, code))
    for url in ("/activer/decision/",):
        pages.append(client.get(url))
    pages.append(client.post("/activer/decision/", {"decision": "activer", "accept_cgu": "on"}))
    pages.append(client.get("/activer/coordonnees/"))
    person = issued.person
    pages.append(
        client.post("/activer/coordonnees/", {"email": person.email, "mobile": person.mobile})
    )
    pages.append(client.get("/activer/identifiant/"))
    pages.append(post_credentials(client, confirm="autre-chose-123"))
    pages.append(post_credentials(client))
    pages.append(client.get("/activer/termine/"))
    for response in pages:
        assert code not in response.content.decode()
        assert code not in str(response.headers)
    assert code not in caplog.text
    assert code not in str(dict(client.session))
