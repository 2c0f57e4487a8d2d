"""Recovery: "Identifiant oublié ?" and "Mot de passe oublié ?", same answer for everyone."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.core import clock
from carnet.notifications.models import OutboxMessage
from tests.enrollment.helpers import PASSWORD
from tests.enrollment.wizard import identify_form

from .helpers import code_sent_to, is_logged_in, last_to, log_in, page

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "riviere-bleue-sous-la-neige"
FORGOT_ID = "/connexion/identifiant-oublie/"
FORGOT_PW = "/connexion/mot-de-passe-oublie/"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def _person_form(person, **overrides):
    data = identify_form(person, "")
    data.pop("code")
    data.update(overrides)
    return data


# --- Identifiant oublié ---------------------------------------------------------------------


def test_identifier_is_sent_by_email_never_shown(client, holder):
    response = client.post(FORGOT_ID, _person_form(holder.person))
    assert response["Location"] == "/connexion/identifiant-oublie/envoye/"
    shown = page(client.get(response["Location"]))
    assert "alice.martin" not in shown and "Si les informations saisies correspondent" in shown
    message = last_to(holder.email, "rappel_identifiant")
    assert "Votre identifiant est : alice.martin" in message.body
    assert Event.objects.filter(action="rappel_identifiant", object_id=str(holder.public_id))


def test_identifier_goes_by_sms_without_a_verified_email(client, holder):
    User.objects.filter(pk=holder.pk).update(email_verified=False)
    client.post(FORGOT_ID, _person_form(holder.person))
    assert last_to(holder.email, "rappel_identifiant") is None
    assert "alice.martin" in last_to(holder.mobile, "rappel_identifiant").body


def test_same_answer_for_an_unknown_person_or_wrong_details(client, holder, issue_code):
    not_activated = issue_code()  # a person without an account
    known = client.post(FORGOT_ID, _person_form(holder.person))
    count = OutboxMessage.objects.count()
    wrong_serial = client.post(FORGOT_ID, _person_form(holder.person, vitale_serial="98765432101"))
    no_account = client.post(FORGOT_ID, _person_form(not_activated.person))
    for response in (wrong_serial, no_account):
        assert response.status_code == known.status_code == 302
        assert response["Location"] == known["Location"]
    assert OutboxMessage.objects.count() == count  # nothing sent for them


def test_identifier_form_errors_are_next_to_their_field(client):
    response = client.post(FORGOT_ID, {"nir": "123", "birth_date": "31/02/1980"})
    text = page(response)
    assert response.status_code == 200 and 'class="error-summary"' in text
    assert 'aria-describedby="id_nir-aide id_nir-erreur"' in text
    assert "Le numéro de sécurité sociale doit comporter 15 caractères." in text


def test_identifier_reminder_locks_after_five_failures_per_nir(holder):
    for n in range(5):
        Client(REMOTE_ADDR=f"192.0.2.{n}").post(
            FORGOT_ID, _person_form(holder.person, vitale_serial="98765432101")
        )
    # even with the right details, from another address
    response = Client(REMOTE_ADDR="192.0.2.99").post(FORGOT_ID, _person_form(holder.person))
    assert response.status_code == 200 and "Trop de tentatives" in page(response)
    assert last_to(holder.email, "rappel_identifiant") is None
    with clock.travel(timedelta(hours=1, seconds=1)):
        response = Client(REMOTE_ADDR="192.0.2.99").post(FORGOT_ID, _person_form(holder.person))
        assert response.status_code == 302


def test_identifier_reminder_locks_a_client_after_twenty_failures(holder, issue_code):
    client = Client(REMOTE_ADDR="192.0.2.50")
    others = [issue_code() for _ in range(20)]
    for other in others:
        client.post(FORGOT_ID, _person_form(other.person, vitale_serial="98765432101"))
    response = client.post(FORGOT_ID, _person_form(holder.person))
    assert "Trop de tentatives" in page(response)


def test_identifier_reminders_are_bounded_per_day(client, holder):
    for _ in range(5):
        client.post(FORGOT_ID, _person_form(holder.person))
    assert OutboxMessage.objects.filter(kind="rappel_identifiant").count() == 3


# --- Mot de passe oublié --------------------------------------------------------------------


def _start_reset(client, identifier="alice.martin", channel="email"):
    response = client.post(FORGOT_PW, {"identifier": identifier, "channel": channel})
    assert response["Location"] == "/connexion/mot-de-passe-oublie/code/", page(response)
    return response


def _new_password(client, password=NEW_PASSWORD, confirm=None):
    return client.post(
        "/connexion/mot-de-passe-oublie/nouveau/",
        {"password": password, "password_confirm": password if confirm is None else confirm},
    )


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_password_reset_journey(client, holder, channel, many_codes):
    other = Client()
    log_in(other, holder.identifier)  # another device, logged in before the reset
    _start_reset(client, channel=channel)
    shown = page(client.get("/connexion/mot-de-passe-oublie/code/"))
    # no destination on screen, masked or not
    assert holder.email.split("@")[1] not in shown and holder.mobile[-5:] not in shown
    code = code_sent_to(holder.email if channel == "email" else holder.mobile)
    response = client.post("/connexion/mot-de-passe-oublie/code/", {"code": code})
    assert response["Location"] == "/connexion/mot-de-passe-oublie/nouveau/"
    response = _new_password(client)
    assert response["Location"] == "/connexion/mot-de-passe-oublie/termine/"
    done = page(client.get(response["Location"]))
    assert "Votre mot de passe a été modifié" in done and 'href="/connexion/"' in done

    holder.refresh_from_db()
    assert holder.check_password(NEW_PASSWORD) and not holder.check_password(PASSWORD)
    assert not is_logged_in(other)  # every session of the account ended
    notice = last_to(holder.email, "mot_de_passe_modifie")
    assert notice.subject == "Votre mot de passe a été modifié"
    actions = set(
        Event.objects.filter(object_id=str(holder.public_id)).values_list("action", flat=True)
    )
    assert {"reinitialisation_demandee", "mot_de_passe_reinitialise", "sessions_terminees"} <= (
        actions
    )
    log_in(Client(), holder.identifier, NEW_PASSWORD)


def test_reset_falls_back_to_the_other_verified_channel(client, holder):
    User.objects.filter(pk=holder.pk).update(mobile_verified=False)
    _start_reset(client, channel="sms")
    assert last_to(holder.mobile, "code_acces") is None
    code = code_sent_to(holder.email)
    client.post("/connexion/mot-de-passe-oublie/code/", {"code": code})
    assert _new_password(client)["Location"] == "/connexion/mot-de-passe-oublie/termine/"


def test_same_answer_for_an_unknown_identifier(holder):
    known, unknown = Client(), Client()
    _start_reset(known)
    _start_reset(unknown, identifier="personne.inconnue")

    def code_page(client):
        return CSRF.sub("", page(client.get("/connexion/mot-de-passe-oublie/code/")))

    assert code_page(known) == code_page(unknown)
    for client in (known, unknown):
        response = client.post("/connexion/mot-de-passe-oublie/code/", {"code": "000000"})
        assert "Code incorrect. Il vous reste 4 essai(s)." in page(response)
    response = unknown.post("/connexion/mot-de-passe-oublie/code/", {"renvoyer": "1"})
    assert response["Location"] == "/connexion/mot-de-passe-oublie/code/"
    # and nothing lets the unknown session go further
    assert unknown.get("/connexion/mot-de-passe-oublie/nouveau/")["Location"] == FORGOT_PW


def test_wrong_code_is_refused_then_burnt(client, holder):
    _start_reset(client)
    for left in (4, 3, 2, 1):
        response = client.post("/connexion/mot-de-passe-oublie/code/", {"code": "000000"})
        assert f"Il vous reste {left} essai(s)" in page(response)
    response = client.post("/connexion/mot-de-passe-oublie/code/", {"code": "000000"})
    assert "Trop de codes erronés" in page(response)
    # even the right code no longer works
    response = client.post(
        "/connexion/mot-de-passe-oublie/code/", {"code": code_sent_to(holder.email)}
    )
    assert response.status_code == 200 and "demandez un nouveau code" in page(response)
    holder.refresh_from_db()
    assert holder.check_password(PASSWORD)


def test_expired_code_is_refused(client, holder):
    _start_reset(client)
    code = code_sent_to(holder.email)
    with clock.travel(timedelta(minutes=15, seconds=1)):
        response = client.post("/connexion/mot-de-passe-oublie/code/", {"code": code})
    assert response.status_code == 200
    assert "Ce code a expiré : demandez un nouveau code." in page(response)
    # a new code works
    client.post("/connexion/mot-de-passe-oublie/code/", {"renvoyer": "1"})
    response = client.post(
        "/connexion/mot-de-passe-oublie/code/", {"code": code_sent_to(holder.email)}
    )
    assert response["Location"] == "/connexion/mot-de-passe-oublie/nouveau/"


def test_new_password_follows_the_policy(client, holder):
    _start_reset(client)
    client.post("/connexion/mot-de-passe-oublie/code/", {"code": code_sent_to(holder.email)})
    for password, message in [
        ("court", "de 12 à 128 caractères"),
        ("alice-martin-2026-x", "ne doit pas contenir votre identifiant"),
        ("123456789012345", "entièrement numérique"),
    ]:
        response = _new_password(client, password)
        assert response.status_code == 200 and message in page(response), page(response)
    response = _new_password(client, NEW_PASSWORD, confirm="autre-chose-encore-42")
    assert "Les deux mots de passe ne sont pas identiques." in page(response)
    holder.refresh_from_db()
    assert holder.check_password(PASSWORD)


def test_reset_progress_lives_in_the_session(client, holder):
    for url in ("code/", "nouveau/"):
        assert client.get(FORGOT_PW + url)["Location"] == FORGOT_PW
    _start_reset(client)
    # the code page does not open the new-password page
    assert client.get(FORGOT_PW + "nouveau/")["Location"] == FORGOT_PW
    assert client.get(FORGOT_PW + "termine/")["Location"] == FORGOT_PW


def test_a_confirmed_reset_is_used_once(client, holder, many_codes):
    _start_reset(client)
    client.post("/connexion/mot-de-passe-oublie/code/", {"code": code_sent_to(holder.email)})
    assert _new_password(client)["Location"].endswith("/termine/")
    assert _new_password(client, "un-autre-mot-de-passe-ici")["Location"] == FORGOT_PW
    holder.refresh_from_db()
    assert holder.check_password(NEW_PASSWORD)


def test_professionals_reset_their_password_too(client):
    pro = User.objects.create_user(
        "dr.martin.test",
        "stethoscope-bleu-2026",
        kind=User.Kind.PROFESSIONAL,
        email="dr.martin@exemple.fr",
        email_verified=True,
    )
    _start_reset(client, identifier="dr.martin.test")
    client.post("/connexion/mot-de-passe-oublie/code/", {"code": code_sent_to(pro.email)})
    response = _new_password(client)
    done = page(client.get(response["Location"]))
    assert 'href="/pro/connexion/"' in done
    pro.refresh_from_db()
    assert pro.check_password(NEW_PASSWORD)


def test_a_logged_in_person_is_sent_to_the_settings(logged_in):
    client, _ = logged_in
    for url in (FORGOT_ID, FORGOT_PW):
        assert client.get(url)["Location"] == "/parametres/"
    assert (
        client.post(FORGOT_PW, {"identifier": "alice.martin", "channel": "email"})["Location"]
        == "/parametres/"
    )
