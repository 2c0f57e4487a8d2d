"""Account settings: contact details, password, identifier, notifications, sessions, activity."""

import re

import pytest
from django.test import Client

from carnet.accounts import services
from carnet.accounts.models import NotificationPreference, SessionRecord, User
from carnet.audit.models import Event
from tests.enrollment.helpers import PASSWORD

from .helpers import code_sent_to, is_logged_in, last_to, log_in, page

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "riviere-bleue-sous-la-neige"


def _actions(user) -> list[str]:
    return list(
        Event.objects.filter(object_id=str(user.public_id))
        .order_by("at", "id")
        .values_list("action", flat=True)
    )


@pytest.mark.parametrize(
    "url",
    [
        "/parametres/",
        "/parametres/coordonnees/",
        "/parametres/coordonnees/e-mail/",
        "/parametres/coordonnees/mobile/",
        "/parametres/mot-de-passe/",
        "/parametres/identifiant/",
        "/parametres/notifications/",
        "/parametres/appareils/",
        "/parametres/activites/",
        "/parametres/confirmer-mon-identite/",
        "/parametres/mon-espace/",
    ],
)
def test_settings_pages_render_for_the_holder_and_need_a_login(logged_in, url):
    client, _ = logged_in
    response = client.get(url)
    assert response.status_code == 200
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    )
    anonymous = Client().get(url)
    assert anonymous["Location"] == f"/connexion/?next={url}"


def test_the_account_menu_links_the_settings(logged_in):
    client, _ = logged_in
    text = page(client.get("/"))
    assert 'href="/parametres/"' in text


def test_other_account_kinds_are_kept_out(client):
    User.objects.create_user(
        "dr.martin.test",
        "stethoscope-bleu-2026",
        kind=User.Kind.PROFESSIONAL,
        email="dr.martin@exemple.fr",
        email_verified=True,
    )
    response = client.post(
        "/pro/connexion/", {"identifier": "dr.martin.test", "password": "stethoscope-bleu-2026"}
    )
    client.post("/pro/connexion/mode/", {"channel": "email"})
    client.post("/pro/connexion/code/", {"code": code_sent_to("dr.martin@exemple.fr")})
    response = client.get("/parametres/")
    assert response["Location"] == "/pro/"


# --- Contact details ------------------------------------------------------------------------


def test_email_change_is_confirmed_by_a_code_sent_to_the_new_address(logged_in):
    client, user = logged_in
    old = user.email
    response = client.post("/parametres/coordonnees/e-mail/", {"email": "alice.neuve@exemple.fr"})
    assert response["Location"] == "/parametres/coordonnees/confirmer/"
    assert "a*****@exemple.fr" in page(client.get(response["Location"]))
    code = code_sent_to("alice.neuve@exemple.fr")
    assert "code de vérification" in last_to("alice.neuve@exemple.fr").body
    user.refresh_from_db()
    assert user.email == old  # nothing changes before the code

    response = client.post("/parametres/coordonnees/confirmer/", {"code": "000000"})
    assert "Code incorrect. Il vous reste 4 essai(s)." in page(response)
    response = client.post("/parametres/coordonnees/confirmer/", {"code": code})
    assert response["Location"] == "/parametres/coordonnees/"
    user.refresh_from_db()
    assert user.email == "alice.neuve@exemple.fr" and user.email_verified
    notice = last_to(old, "coordonnees_modifiees")
    assert notice.subject == "Votre adresse e-mail a été modifiée"
    assert "alice.neuve" not in notice.body  # the old address learns nothing more
    assert "email_modifie" in _actions(user)


def test_mobile_change_is_confirmed_by_sms_and_the_old_number_is_told(logged_in):
    client, user = logged_in
    old = user.mobile
    response = client.post("/parametres/coordonnees/mobile/", {"mobile": "07 98 76 54 32"})
    assert response["Location"] == "/parametres/coordonnees/confirmer/"
    client.post("/parametres/coordonnees/confirmer/", {"code": code_sent_to("+33798765432")})
    user.refresh_from_db()
    assert user.mobile == "+33798765432" and user.mobile_verified
    assert "a été modifié" in last_to(old, "coordonnees_modifiees").body
    assert last_to(user.email, "coordonnees_modifiees").subject == (
        "Votre numéro de mobile a été modifié"
    )
    assert "mobile_modifie" in _actions(user)


def test_contact_forms_refuse_bad_input_next_to_the_field(logged_in):
    client, user = logged_in
    response = client.post("/parametres/coordonnees/mobile/", {"mobile": "01 23 45 67 89"})
    text = page(response)
    assert "Saisissez un numéro de mobile français valide" in text
    assert 'aria-describedby="id_mobile-aide id_mobile-erreur"' in text
    response = client.post("/parametres/coordonnees/e-mail/", {"email": "pas-une-adresse"})
    assert "Saisissez une adresse e-mail valide" in page(response)
    response = client.post("/parametres/coordonnees/e-mail/", {"email": user.email})
    assert "C'est déjà votre adresse e-mail." in page(response)
    assert client.get("/parametres/coordonnees/confirmer/")["Location"] == (
        "/parametres/coordonnees/"
    )


# --- Password -------------------------------------------------------------------------------


def test_password_change_ends_the_other_sessions_only(logged_in, many_codes):
    client, user = logged_in
    other = Client(HTTP_USER_AGENT="Navigateur de test B")
    log_in(other, user.identifier)
    assert is_logged_in(other)
    response = client.post(
        "/parametres/mot-de-passe/",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    assert response["Location"] == "/parametres/"
    assert is_logged_in(client)  # this one stays
    assert not is_logged_in(other)  # the other one is over
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert last_to(user.email, "mot_de_passe_modifie").subject == (
        "Votre mot de passe a été modifié"
    )
    assert {"mot_de_passe_modifie", "sessions_terminees"} <= set(_actions(user))
    # the current session is still listed as this device, under its new key
    assert "session en cours" in page(client.get("/parametres/appareils/"))


def test_password_change_needs_the_current_password_and_the_policy(logged_in):
    client, user = logged_in
    url = "/parametres/mot-de-passe/"
    response = client.post(
        url,
        {
            "current_password": "pas-le-bon-mot-de-passe",
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    assert "Mot de passe actuel incorrect." in page(response)
    response = client.post(
        url,
        {"current_password": PASSWORD, "new_password": "court", "new_password_confirm": "court"},
    )
    assert "de 12 à 128 caractères" in page(response)
    response = client.post(
        url,
        {"current_password": PASSWORD, "new_password": PASSWORD, "new_password_confirm": PASSWORD},
    )
    assert "différent de l'actuel" in page(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_wrong_current_passwords_are_locked_out(logged_in):
    client, user = logged_in
    wrong = {
        "current_password": "pas-le-bon-mot-de-passe",
        "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD,
    }
    for _ in range(5):
        client.post("/parametres/mot-de-passe/", wrong)
    right = dict(wrong, current_password=PASSWORD)
    response = client.post("/parametres/mot-de-passe/", right)
    assert "Trop de mots de passe erronés" in page(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# --- Identifier -----------------------------------------------------------------------------


def test_identifier_change(logged_in, issue_code, many_codes):
    client, user = logged_in
    response = client.post("/parametres/identifiant/", {"identifier": "alice.nouvelle"})
    assert response["Location"] == "/parametres/"
    user.refresh_from_db()
    assert user.identifier == "alice.nouvelle"
    assert "identifiant_modifie" in _actions(user)
    assert last_to(user.email, "identifiant_modifie") is not None
    log_in(Client(), "alice.nouvelle")


def test_identifier_change_follows_the_activation_rules(logged_in, issue_code):
    from tests.enrollment.helpers import activate

    activate(issue_code(), identifier="bob.dupont")
    client, user = logged_in
    response = client.post("/parametres/identifiant/", {"identifier": "bob.dupont"})
    text = page(response)
    assert "Cet identifiant est déjà pris." in text and "Identifiants disponibles" in text
    suggestions = re.findall(r"<li><code>([^<]+)</code></li>", text)
    assert len(suggestions) == 3 and all(s.startswith("bob.dupont.") for s in suggestions)
    for value, message in [
        ("court", "de 8 à 100 caractères"),
        ("alice@exemple.fr", "lettres minuscules sans accent"),
        (user.person.nir, "numéro de sécurité sociale"),
        ("alice.martin", "C'est déjà votre identifiant."),
    ]:
        assert message in page(client.post("/parametres/identifiant/", {"identifier": value}))
    user.refresh_from_db()
    assert user.identifier == "alice.martin"


# --- Notification preferences ---------------------------------------------------------------


def test_preferences_are_created_on_first_visit_then_saved(logged_in):
    client, user = logged_in
    assert not NotificationPreference.objects.filter(user=user).exists()
    text = page(client.get("/parametres/notifications/"))
    assert "Nouveau document dans mon espace" in text and "<legend>" in text
    preferences = NotificationPreference.objects.get(user=user)
    assert preferences.new_document_email and not preferences.new_document_sms
    response = client.post(
        "/parametres/notifications/",
        {"new_document_sms": "on", "new_message_email": "on", "prevention_email": "on"},
    )
    assert response["Location"] == "/parametres/notifications/"
    preferences.refresh_from_db()
    assert preferences.new_document_sms and not preferences.new_document_email
    assert not preferences.appointment_email and preferences.prevention_email
    [event] = Event.objects.filter(action="preferences_modifiees", object_id=str(user.public_id))
    assert set(event.detail["champs"]) == {
        "new_document_email",
        "new_document_sms",
        "appointment_email",
    }


# --- Devices and sessions -------------------------------------------------------------------


def test_sessions_are_listed_and_one_can_be_ended(logged_in, many_codes):
    client, user = logged_in
    other = Client(HTTP_USER_AGENT="Navigateur de test B", REMOTE_ADDR="203.0.113.9")
    log_in(other, user.identifier)
    text = page(client.get("/parametres/appareils/"))
    assert "Navigateur de test A" in text and "Navigateur de test B" in text
    assert "203.0.113.9" in text and text.count("session en cours") == 1
    record = SessionRecord.objects.get(user=user, user_agent="Navigateur de test B")
    mine = SessionRecord.objects.get(user=user, user_agent="Navigateur de test A")

    # the current session is not ended from the list: one logs out instead
    response = client.post(f"/parametres/appareils/{mine.public_id}/terminer/", follow=True)
    assert "déconnectez-vous" in page(response) and is_logged_in(client)

    response = client.post(f"/parametres/appareils/{record.public_id}/terminer/")
    assert response["Location"] == "/parametres/appareils/"
    assert not is_logged_in(other) and is_logged_in(client)
    assert "Navigateur de test B" not in page(client.get("/parametres/appareils/"))
    assert "session_terminee" in _actions(user)


def test_end_all_other_sessions(logged_in, many_codes):
    client, user = logged_in
    others = [Client(), Client()]
    for other in others:
        log_in(other, user.identifier)
    response = client.post("/parametres/appareils/terminer-les-autres/", follow=True)
    assert "2 autre(s) session(s) terminée(s)." in page(response)
    assert not any(is_logged_in(o) for o in others) and is_logged_in(client)


def test_another_account_s_session_cannot_be_ended(logged_in, issue_code, many_codes):
    from tests.enrollment.helpers import activate

    bob = activate(issue_code(), identifier="bob.dupont")
    bob_client = Client()
    log_in(bob_client, "bob.dupont")
    record = SessionRecord.objects.get(user=bob)
    client, _ = logged_in
    response = client.post(f"/parametres/appareils/{record.public_id}/terminer/", follow=True)
    assert "déjà terminée" in page(response)
    assert is_logged_in(bob_client)


def test_an_idle_expired_session_is_not_listed(logged_in, many_codes):
    from django.contrib.sessions.models import Session

    client, user = logged_in
    other = Client(HTTP_USER_AGENT="Navigateur de test B")
    log_in(other, user.identifier)
    record = SessionRecord.objects.get(user=user, user_agent="Navigateur de test B")
    Session.objects.filter(session_key=record.session_key).delete()  # as the store expires it
    assert "Navigateur de test B" not in page(client.get("/parametres/appareils/"))


# --- Activity -------------------------------------------------------------------------------


def test_activity_lists_my_events_in_french_newest_first(logged_in, many_codes):
    client, user = logged_in
    Client().post("/connexion/", {"identifier": user.identifier, "password": "mauvais-mot"})
    text = page(client.get("/parametres/activites/"))
    assert "Connexion échouée" in text and "Connexion" in text
    assert "Activation de l'espace" in text and "Création du compte" in text
    assert text.index("Connexion échouée") < text.index("Création du compte")  # newest first


def test_activity_shows_only_my_events(logged_in, issue_code):
    from tests.enrollment.helpers import activate

    bob = activate(issue_code(), identifier="bob.dupont")
    services.activity_record(bob, "mot_de_passe_modifie")
    client, _ = logged_in
    assert "Changement de mot de passe" not in page(client.get("/parametres/activites/"))


def test_activity_is_paginated_fifty_per_page(logged_in):
    client, user = logged_in
    for _ in range(60):
        services.activity_record(user, "deconnexion")
    first = page(client.get("/parametres/activites/"))
    assert first.count("<tr>") == 51  # header + 50
    assert "Page 1 sur 2" in first and 'href="?page=2"' in first
    second = page(client.get("/parametres/activites/?page=2"))
    assert "Page 2 sur 2" in second and "Page précédente" in second


def test_activity_page_queries_do_not_grow_with_the_events(
    logged_in, django_assert_max_num_queries
):
    client, user = logged_in
    for _ in range(60):
        services.activity_record(user, "deconnexion")
    with django_assert_max_num_queries(12):
        client.get("/parametres/activites/")
