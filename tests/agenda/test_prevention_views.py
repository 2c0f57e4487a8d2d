"""The prevention pages: the calendar right after activation, following an item (errors next to
their field, nothing written), adding a done vaccination to the profile, the reminders per
kind; only the owner of an active space reaches them; no inline script or style (strict CSP).

The clock stands at Monday 15 June 2026, 10:00 in Paris; Alice was born on 17 May 1980 (46).
"""

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from carnet.agenda.models import AgendaSettings, PreventionStatus
from carnet.enrollment import services as enrollment
from carnet.profile.models import Vaccination
from tests.enrollment.helpers import activate, at, space_of
from tests.pages import field_error, is_invalid

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=PARIS)
URL = "/agenda/prevention/"
BOOSTER = f"{URL}dtp-adulte@45/"
CERVICAL = f"{URL}depistage-col-uterus@45/"


@pytest.fixture(autouse=True)
def _now():
    at(NOW)


def page(response) -> str:
    return response.content.decode()


def test_the_calendar_right_after_activation(alice_client):
    response = alice_client.get(URL)
    assert response.status_code == 200
    html = page(response)
    assert "<h1>Mon calendrier de prévention</h1>" in html
    assert "À faire maintenant" in html
    assert "Rappel diphtérie, tétanos, poliomyélite de l&#x27;adulte (dTP)" in html
    assert "Dépistage du cancer du col de l&#x27;utérus" in html
    assert "du 17 mai 2025 au 16 mai 2030" in html  # the cervical test at 45
    assert "Source : Calendrier des vaccinations et recommandations vaccinales 2025" in html
    assert 'href="/agenda/prevention/dtp-adulte@45/"' in html
    assert 'action="/agenda/prevention/rappels/"' in html
    assert "Je ne souhaite plus recevoir ces rappels" in html
    assert "sein" not in html  # at 46, the breast screening is more than two years ahead


def test_a_child_sees_their_examinations_and_vaccines(issue_code, client):
    issued = issue_code(first_name="Léo", birth_date=date(2026, 4, 1), sex="M")
    client.force_login(activate(issued, identifier="leo.martin"))
    html = page(client.get(URL))
    assert "Examen de santé obligatoire de l&#x27;enfant" in html
    assert "2e dose à 4 mois" in html
    assert "Dépistage du cancer" not in html


def test_no_inline_script_or_style(alice_client):
    for url in (URL, BOOSTER, f"{URL}rappels/"):
        html = page(alice_client.get(url))
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert "style=" not in html and "<style" not in html, url
        assert " on" + "click=" not in html, url


def test_planned_then_done_with_a_confirmation(alice_client, alice):
    form = page(alice_client.get(CERVICAL))
    assert 'name="status"' in form and 'name="done_on"' in form
    assert "add_to_profile" not in form  # a screening is no vaccination
    response = alice_client.post(CERVICAL, {"status": "planifie", "planned_on": "2026-07-02"})
    assert response.status_code == 302
    assert response.url == "/agenda/prevention/#depistage-col-uterus@45"
    html = page(alice_client.get(response.url))
    assert "Suivi enregistré" in html and "planifié pour le 2 juillet 2026" in html
    assert '<h2 id="groupe-planifie">Planifié (1)</h2>' in html
    alice_client.post(CERVICAL, {"status": "realise", "done_on": "03/06/2026"})
    row = PreventionStatus.objects.get(space=space_of(alice.person))
    assert (row.status, row.done_on, row.planned_on) == ("realise", date(2026, 6, 3), None)


def test_a_done_vaccination_added_to_the_profile(alice_client, alice):
    form = page(alice_client.get(BOOSTER))
    assert "Ajouter aussi à mes vaccinations" in form
    response = alice_client.post(
        BOOSTER, {"status": "realise", "done_on": "2026-05-20", "add_to_profile": "on"}
    )
    assert response.status_code == 302
    vaccination = Vaccination.objects.get(space=space_of(alice.person))
    assert (vaccination.vaccine, vaccination.date) == ("dtp", date(2026, 5, 20))
    html = page(alice_client.get(URL))
    assert "La vaccination a aussi été ajoutée à votre profil médical." in html
    assert "(vaccination enregistrée dans votre profil)" in html
    assert 'href="/agenda/prevention/dtp-adulte@45/"' not in html  # nothing left to say
    again = page(alice_client.get(BOOSTER))
    assert '<form method="post" novalidate>' not in again and "correspond" in again
    assert alice_client.post(BOOSTER, {"status": "non_realise"}).status_code == 400


REFUSED = [
    ({}, "status", "Choisissez où vous en êtes."),
    ({"status": "fait"}, "status", "Choisissez où vous en êtes."),
    ({"status": "realise"}, "done_on", "Indiquez la date de réalisation."),
    ({"status": "realise", "done_on": "31/02/2026"}, "done_on", "Indiquez une date valide"),
    ({"status": "realise", "done_on": "2026-06-16"}, "done_on", "dans le futur"),
    ({"status": "realise", "done_on": "1980-05-16"}, "done_on", "antérieure à la naissance"),
    ({"status": "planifie", "planned_on": "2026-06-14"}, "planned_on", "ne peut pas être passée"),
    ({"status": "planifie", "planned_on": "2032-01-01"}, "planned_on", "cinq prochaines années"),
    ({"status": "planifie", "add_to_profile": "on"}, "add_to_profile", "seulement si"),
]


@pytest.mark.parametrize(("data", "field", "message"), REFUSED)
def test_errors_next_to_their_field_and_nothing_written(alice_client, data, field, message):
    response = alice_client.post(BOOSTER, data)
    assert response.status_code == 400
    html = page(response)
    assert message in (field_error(html, field) or ""), html[:3000]
    assert field == "status" or is_invalid(html, field)
    assert f'href="#id_{field}' in html  # the summary links to the field
    assert "<title>Erreur" in html
    assert not PreventionStatus.objects.exists() and not Vaccination.objects.exists()


def test_unknown_or_foreign_items_are_404(alice_client):
    for key in ("inconnu@1", "depistage-sein@50", "dtp-adulte@65", "dtp-adulte@30",
                "depistage-col-uterus@46", "grippe@2026", "%40", "dtp-adulte@45@1"):  # fmt: skip
        assert alice_client.get(f"{URL}{key}/").status_code == 404, key
        assert alice_client.post(f"{URL}{key}/", {"status": "non_realise"}).status_code == 404
    assert not PreventionStatus.objects.exists()


def test_reminders_per_kind(alice_client, alice):
    response = alice_client.post(f"{URL}rappels/", {"kinds": ["depistage", "dentaire"]})
    assert response.status_code == 302 and response.url == "/agenda/prevention/#rappels"
    settings_row = AgendaSettings.objects.get(space=space_of(alice.person))
    assert settings_row.prevention_opt_out == ["depistage", "dentaire"]
    html = page(alice_client.get(URL))
    assert "Vous ne recevrez plus de rappels pour : dépistages organisés des cancers" in html
    assert re.search(r'<input type="checkbox" name="kinds" value="depistage"[^>]*checked', html)
    alice_client.post(f"{URL}rappels/", {})
    settings_row.refresh_from_db()
    assert settings_row.prevention_opt_out == []
    refused = alice_client.post(f"{URL}rappels/", {"kinds": ["tout"]})
    assert refused.status_code == 400
    assert "Choisissez des rappels de la liste." in page(refused)
    assert 'href="#id_kinds_0"' in page(refused)
    assert alice_client.get(f"{URL}rappels/").status_code == 200


def test_only_the_owner_of_an_active_space(client, alice_client, alice):
    anonymous = client.__class__()
    for url in (URL, BOOSTER, f"{URL}rappels/"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/connexion/" in response.url, url
    enrollment.space_close(space=space_of(alice.person), actor=alice.actor, confirmed=True)
    for url in (URL, BOOSTER, f"{URL}rappels/"):
        assert alice_client.get(url).status_code == 404, url
        assert alice_client.post(url, {"status": "non_realise"}).status_code in (404, 405), url
    assert not PreventionStatus.objects.exists()


# --- The children of a legal representative (the insurer's registry) ----------------------


def _child(alice, *others, **fields):
    from tests.factories import InsuredPersonFactory

    guardians = "|".join([alice.person.nir, *others])
    return InsuredPersonFactory(guardian_nirs=guardians, **fields)


def test_a_parent_sees_the_recommendations_of_their_children(alice, alice_client):
    _child(alice, first_name="Lina", birth_date=date(2026, 3, 1), sex="F")
    _child(alice, first_name="Tom", birth_date=date(2014, 9, 1), sex="M")
    html = page(alice_client.get(URL))
    assert '<h2 id="enfants">Pour vos enfants</h2>' in html
    assert "Lina, né(e) le 1 mars 2026" in html
    assert "Tom, né(e) le 1 septembre 2014" in html
    # Lina, three months and a half: her infant vaccines; Tom, 11: the dTcaP of 11 to 13.
    # The eldest first: Tom, then Lina.
    lina = html[html.index("Lina, né(e)") : html.index('id="rappels"')]
    assert "2e dose à 4 mois" in lina
    assert "Dépistage" not in lina


def test_only_the_registered_representative_sees_a_child(alice, bob, alice_client):
    from django.test import Client

    _child(alice, first_name="Lina", birth_date=date(2026, 3, 1), sex="F")
    # Bob's NIR is not in Lina's registry entry.
    other = Client()
    other.force_login(bob)
    assert "Pour vos enfants" not in page(other.get(URL))
    assert "Lina" in page(alice_client.get(URL))


def test_a_child_of_age_is_no_longer_shown(alice, alice_client):
    _child(alice, first_name="Zoé", birth_date=date(2008, 6, 15), sex="F")  # 18 today
    _child(alice, first_name="Hugo", birth_date=date(2008, 6, 16), sex="M")  # 18 tomorrow
    html = page(alice_client.get(URL))
    assert "Zoé" not in html
    assert "Hugo" in html
