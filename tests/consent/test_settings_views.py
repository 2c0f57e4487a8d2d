"""« Accès à mon dossier » (/parametres/acces/), through the HTTP views: the patient sees the
professionals related to their space and decides about them and about emergencies."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse

from carnet.audit.models import Event
from carnet.consent.models import (
    Action,
    Authorisation,
    Block,
    EmergencySettings,
    TreatingDoctor,
)
from carnet.consent.rules import decide
from carnet.consent.selectors import related_professionals
from tests.consent.conftest import authorise, block, emergency, make_professional, make_treating

pytestmark = pytest.mark.django_db

INDEX = reverse("consent:index")


def url(name, pro):
    return reverse(f"consent:{name}", args=[pro.public_id])


def events(space, action):
    return list(Event.objects.filter(space_id=space.public_id, action=action))


def text(response) -> str:
    return response.content.decode()


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_route_is_not_shadowed_by_the_account_settings():
    assert INDEX == "/parametres/acces/"
    assert resolve(INDEX).view_name == "consent:index"
    assert resolve(f"/parametres/acces/{uuid.uuid4()}/bloquer/").view_name == (
        "consent:block_confirm"
    )


def test_settings_index_links_to_the_page(alice_client):
    assert INDEX in text(alice_client.get(reverse("parametres:index")))


def test_list_shows_each_related_professional_with_badges(
    alice_client, space, generalist, colleague, outsider, pharmacist
):
    make_treating(space, generalist)
    authorise(space, colleague, administrator=True)
    authorise(space, pharmacist)
    block(space, pharmacist)
    emergency(space, outsider)
    stranger = make_professional("medecin", first_name="Zoé")

    response = alice_client.get(INDEX)

    assert response.status_code == 200
    page = text(response)
    for pro in (generalist, colleague, outsider, pharmacist):
        assert pro.full_name in page
    assert stranger.full_name not in page
    rows = {r.professional: r for r in response.context["rows"]}
    assert set(rows) == {generalist, colleague, outsider, pharmacist}
    assert rows[generalist].treating and not rows[generalist].blocked
    assert rows[colleague].administrator
    assert rows[pharmacist].blocked
    assert rows[outsider].last_emergency_at is not None
    assert response.context["rows"][0].professional == generalist  # médecin traitant first
    assert '<span class="badge">Médecin traitant</span>' in page
    assert '<span class="badge">Administrateur</span>' in page
    assert '<span class="badge badge-hidden">Bloqué</span>' in page
    assert "Pharmacien" in page and "Médecine générale" in page
    assert "Accès en urgence le" in page
    # Actions: the médecin traitant has no block button, and a sentence says why.
    assert url("block_confirm", generalist) not in page
    assert "Votre médecin traitant ne peut pas être bloqué" in page
    assert url("block_confirm", colleague) in page
    assert url("block", pharmacist) in page  # Débloquer
    # Only médecins may be designated, and not the current one.
    assert url("treating_confirm", colleague) in page
    assert url("treating_confirm", outsider) in page
    assert url("treating_confirm", pharmacist) not in page
    assert url("treating_confirm", generalist) not in page
    # The link to the preference of hidden new documents.
    assert reverse("documents:preferences") in page


def test_empty_list(alice_client):
    response = alice_client.get(INDEX)
    assert response.status_code == 200
    assert "Aucun professionnel de santé n'a encore accédé à votre dossier." in text(response)


def test_related_professionals_reads_in_a_constant_number_of_queries(space):
    def count():
        with CaptureQueriesContext(connection) as queries:
            related_professionals(space)
        return len(queries)

    first = make_professional("medecin")
    authorise(space, first)
    few = count()
    for _ in range(4):
        authorise(space, make_professional("medecin"))
    block(space, make_professional("infirmier"))
    emergency(space, make_professional("medecin"))
    make_treating(space, make_professional("medecin"))
    assert count() == few
    assert len(related_professionals(space)) == 8


def test_block_with_confirmation_then_unblock(alice_client, alice, space, generalist):
    authorise(space, generalist)
    assert decide(generalist.user, space, Action.DOCUMENT_LIST).allowed

    confirm = alice_client.get(url("block_confirm", generalist))
    assert confirm.status_code == 200
    assert "ne peut plus consulter votre dossier" in text(confirm)
    assert url("block", generalist) in text(confirm)
    assert not Block.objects.exists()  # the confirmation page changes nothing

    response = alice_client.post(url("block", generalist), {"valeur": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == INDEX
    assert any("est bloqué" in m for m in flash(response))
    assert Block.objects.filter(space=space, professional=generalist).exists()
    [event] = events(space, "professionnel_bloque")
    assert event.actor == alice.actor and event.object_id == str(generalist.public_id)
    assert decide(generalist.user, space, Action.DOCUMENT_LIST).reason == "bloque"

    # Sent twice: still blocked (never a toggle).
    alice_client.post(url("block", generalist), {"valeur": "1"})
    assert Block.objects.filter(space=space, professional=generalist).count() == 1

    response = alice_client.post(url("block", generalist), {"valeur": "0"}, follow=True)
    assert any("est débloqué" in m for m in flash(response))
    assert not Block.objects.exists()
    assert len(events(space, "professionnel_debloque")) == 1
    assert decide(generalist.user, space, Action.DOCUMENT_LIST).allowed


def test_block_needs_the_wanted_state(alice_client, space, generalist):
    authorise(space, generalist)
    for data in ({}, {"valeur": "oui"}):
        assert alice_client.post(url("block", generalist), data).status_code == 400
    assert not Block.objects.exists()


def test_treating_doctor_cannot_be_blocked(alice_client, space, generalist):
    make_treating(space, generalist)

    confirm = alice_client.get(url("block_confirm", generalist), follow=True)
    assert confirm.redirect_chain[-1][0] == INDEX
    assert not Block.objects.exists()

    response = alice_client.post(url("block", generalist), {"valeur": "1"}, follow=True)
    assert response.status_code == 200
    assert (
        "Votre médecin traitant ne peut pas être bloqué : désignez d'abord un autre médecin "
        "traitant." in flash(response)
    )
    assert not Block.objects.exists()
    assert not events(space, "professionnel_bloque")
    assert decide(generalist.user, space, Action.DOCUMENT_LIST).allowed


def test_designate_treating_doctor(alice_client, alice, space, generalist, outsider):
    make_treating(space, generalist)
    authorise(space, generalist)
    authorise(space, outsider)
    block(space, outsider)

    confirm = alice_client.get(url("treating_confirm", outsider))
    assert confirm.status_code == 200
    page = text(confirm)
    assert url("treating", outsider) in page
    assert f"{generalist.full_name} ne sera plus votre médecin traitant" in page
    assert "il sera débloqué" in page
    assert TreatingDoctor.objects.get(space=space).professional == generalist

    response = alice_client.post(url("treating", outsider), follow=True)
    assert response.redirect_chain[-1][0] == INDEX
    assert f"{outsider.full_name} est désormais votre médecin traitant." in flash(response)
    assert TreatingDoctor.objects.get(space=space).professional == outsider
    assert not Block.objects.exists()
    [event] = events(space, "medecin_traitant_designe")
    assert event.actor == alice.actor and event.object_id == str(outsider.public_id)
    assert decide(outsider.user, space, Action.DOCUMENT_LIST).reason == "medecin_traitant"
    # The former one (authorised, so still related) can be blocked now.
    assert alice_client.get(url("block_confirm", generalist)).status_code == 200


def test_a_pharmacist_cannot_be_designated(alice_client, space, pharmacist):
    authorise(space, pharmacist)

    confirm = alice_client.get(url("treating_confirm", pharmacist), follow=True)
    assert confirm.redirect_chain[-1][0] == INDEX
    assert "Le médecin traitant doit être un médecin." in flash(confirm)

    response = alice_client.post(url("treating", pharmacist), follow=True)
    assert "Le médecin traitant doit être un médecin." in flash(response)
    assert not TreatingDoctor.objects.exists()
    assert not events(space, "medecin_traitant_designe")


def test_administrator_on_and_off(alice_client, space, generalist):
    authorise(space, generalist)

    response = alice_client.post(url("administrator", generalist), {"valeur": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == INDEX
    assert any("voit aussi vos documents masqués" in m for m in flash(response))
    assert Authorisation.objects.get(space=space, professional=generalist).administrator
    assert len(events(space, "administrateur_donne")) == 1
    assert "Retirer le rôle d'administrateur" in text(response)

    alice_client.post(url("administrator", generalist), {"valeur": "1"})  # resent: still on
    assert Authorisation.objects.get(space=space, professional=generalist).administrator

    response = alice_client.post(url("administrator", generalist), {"valeur": "0"}, follow=True)
    assert any("n'est plus administrateur" in m for m in flash(response))
    assert not Authorisation.objects.get(space=space, professional=generalist).administrator
    assert len(events(space, "administrateur_retire")) == 1


def test_administrator_needs_an_authorisation(alice_client, space, outsider):
    emergency(space, outsider)  # related, but never attested the consent
    assert "Donner le rôle d'administrateur" not in text(alice_client.get(INDEX))
    response = alice_client.post(url("administrator", outsider), {"valeur": "1"}, follow=True)
    [message] = flash(response)
    assert "se donne à un professionnel qui a recueilli votre consentement" in message
    assert not events(space, "administrateur_donne")


def test_emergency_switches_shown_saved_and_audited(alice_client, alice, space):
    page = text(alice_client.get(INDEX))
    assert "médecins régulateurs du SAMU" in page
    assert "bris de glace" in page
    assert 'for="id_samu_allowed"' in page and 'id="id_hidden_visible-aide"' in page
    assert alice_client.get(INDEX).context["form"].initial == {
        "samu_allowed": True,
        "emergency_allowed": True,
        "hidden_visible": False,
    }

    # Only the ticked boxes are sent: "emergency_allowed" unticked means off.
    response = alice_client.post(
        reverse("consent:emergency"), {"samu_allowed": "on", "hidden_visible": "on"}, follow=True
    )
    assert response.redirect_chain[-1][0] == INDEX
    assert "Vos paramètres d'accès en urgence sont enregistrés." in flash(response)
    saved = EmergencySettings.objects.get(space=space)
    assert (saved.samu_allowed, saved.emergency_allowed, saved.hidden_visible) == (
        True,
        False,
        True,
    )
    [event] = events(space, "urgence_parametres")
    assert event.actor == alice.actor
    assert event.detail == {
        "samu_allowed": True,
        "emergency_allowed": False,
        "hidden_visible": True,
    }
    assert response.context["form"].initial == {
        "samu_allowed": True,
        "emergency_allowed": False,
        "hidden_visible": True,
    }

    alice_client.post(reverse("consent:emergency"), {})  # everything off
    saved.refresh_from_db()
    assert (saved.samu_allowed, saved.emergency_allowed, saved.hidden_visible) == (
        False,
        False,
        False,
    )
    assert EmergencySettings.objects.count() == 1
    assert len(events(space, "urgence_parametres")) == 2


def test_emergency_switches_reach_decide(alice_client, space, outsider):
    alice_client.post(reverse("consent:emergency"), {"samu_allowed": "on"})
    assert decide(outsider.user, space, Action.EMERGENCY, "urgence").reason == "urgence_refusee"
    assert decide(outsider.user, space, Action.EMERGENCY, "samu").allowed


ACTIONS = [
    ("get", "block_confirm", {}),
    ("post", "block", {"valeur": "1"}),
    ("get", "treating_confirm", {}),
    ("post", "treating", {}),
    ("post", "administrator", {"valeur": "1"}),
]


@pytest.mark.parametrize(("method", "name", "data"), ACTIONS)
def test_unrelated_professional_is_a_404_and_nothing_changes(
    alice_client, space, generalist, outsider, method, name, data
):
    authorise(space, generalist)
    before = Event.objects.count()
    for public_id in (outsider.public_id, uuid.uuid4()):
        target = reverse(f"consent:{name}", args=[public_id])
        response = getattr(alice_client, method)(target, data)
        assert response.status_code == 404
    assert not Block.objects.exists()
    assert not TreatingDoctor.objects.exists()
    assert not Authorisation.objects.filter(administrator=True).exists()
    assert Event.objects.count() == before


@pytest.mark.parametrize(("method", "name", "data"), ACTIONS)
def test_bob_never_reaches_alices_professionals(
    client, bob, bob_space, space, generalist, method, name, data
):
    authorise(space, generalist)
    client.force_login(bob)
    page = client.get(INDEX)
    assert page.status_code == 200
    assert generalist.full_name not in text(page)
    response = getattr(client, method)(url(name, generalist), data)
    assert response.status_code == 404
    assert not Block.objects.exists()
    assert not TreatingDoctor.objects.exists()
    assert not Authorisation.objects.filter(administrator=True).exists()


def test_bob_emergency_settings_are_his_own(client, bob, bob_space, space):
    client.force_login(bob)
    client.post(reverse("consent:emergency"), {})
    assert EmergencySettings.objects.get().space == bob_space
    assert not events(space, "urgence_parametres")


@pytest.mark.parametrize("name", ["block", "treating", "administrator"])
def test_get_on_action_urls_is_405(alice_client, space, generalist, name):
    authorise(space, generalist)
    assert alice_client.get(url(name, generalist)).status_code == 405
    assert not Block.objects.exists()


def test_get_on_emergency_url_is_405(alice_client, space):
    assert alice_client.get(reverse("consent:emergency")).status_code == 405
    assert not EmergencySettings.objects.exists()


def test_post_on_confirmation_pages_is_405(alice_client, space, generalist):
    authorise(space, generalist)
    assert alice_client.post(url("block_confirm", generalist)).status_code == 405
    assert alice_client.post(url("treating_confirm", generalist)).status_code == 405
    assert alice_client.post(INDEX).status_code == 405
    assert not Block.objects.exists() and not TreatingDoctor.objects.exists()


def test_only_the_owner_of_an_active_space_reaches_the_page(alice_client, space, generalist):
    authorise(space, generalist)
    space.state = space.State.CLOSED
    space.save(update_fields=["state"])
    assert alice_client.get(INDEX).status_code == 404
    assert alice_client.post(url("block", generalist), {"valeur": "1"}).status_code == 404
    assert alice_client.post(reverse("consent:emergency"), {}).status_code == 404
    assert not Block.objects.exists() and not EmergencySettings.objects.exists()


def test_csrf_is_required(client, alice, space, generalist):
    from django.test import Client

    authorise(space, generalist)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(url("block", generalist), {"valeur": "1"}).status_code == 403
    assert not Block.objects.exists()
