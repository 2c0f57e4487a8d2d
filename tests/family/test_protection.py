"""Adults under legal protection (issue 9): an operator registers a tutelle or a curatelle with
`carnet add_guardian`; the guardian manages the adult's space until the measure's end date, the
adult keeps their own login and reads the guardian's actions in their trail. Through the real
command, services, views and database."""

import html
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command, get_commands
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from carnet.audit.models import Event
from carnet.core import clock
from carnet.documents.models import Document
from carnet.family.models import Link
from carnet.family.selectors import linked_profiles
from tests.accounts.helpers import log_in
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import space_of
from tests.factories import InsuredPersonFactory, make_nir

SWITCH = reverse("family:switch")
DOCUMENTS = reverse("documents:index")
ADD_DOCUMENT = reverse("documents:add")
ACTIVITY = reverse("parametres:activity")
ACTING = "Vous agissez pour le profil de"
BACK_TO_ONESELF = "Vous agissez de nouveau pour votre propre profil."
OPERATOR = "operateur:cli"


def add_guardian(*args) -> str:
    out = StringIO()
    call_command("add_guardian", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def in_days(days: int) -> date:
    return clock.today() + timedelta(days=days)


def register(adult, guardian, kind="tutelle", until: date | None = None) -> str:
    until = until or in_days(365)
    return add_guardian(
        adult.person.nir, guardian.person.nir, "--kind", kind, "--until", f"{until:%d/%m/%Y}"
    )


def page(response) -> str:
    return html.unescape(response.content.decode())


def upload(client, title: str):
    response = client.post(
        ADD_DOCUMENT,
        {
            "file": SimpleUploadedFile("doc.pdf", pdf_bytes(), content_type="application/pdf"),
            "title": title,
            "category": "CPT_REND",
            "document_date": "2026-11-02",
        },
    )
    assert response.status_code == 302, page(response)[:2000]


@pytest.fixture
def bob_client(bob):
    client = Client()
    client.force_login(bob)
    return client


def switcher_offers(client, space) -> bool:
    return f'name="profil" value="{space.public_id}"' in client.get("/").content.decode()


# --- Registering the measure; the guardian acts ----------------------------------------------


def test_the_guardian_manages_the_adults_space_and_she_sees_it(
    alice_client, alice, bob, bob_client
):
    upload(alice_client, "Ordonnance d'Alice")
    space = space_of(alice.person)
    until = in_days(365)

    out = register(alice, bob, "tutelle", until)

    assert out.strip() == (
        f"mesure de tutelle enregistrée jusqu'au {until:%d/%m/%Y} inclus "
        f"(lien {Link.objects.get().public_id})"
    )
    [link] = Link.objects.filter(space=space)
    assert (link.user, link.kind, link.until, link.ended_at) == (
        bob,
        Link.Kind.TUTELLE,
        until,
        None,
    )
    assert link.started_at is not None
    [event] = Event.objects.filter(space_id=space.public_id, action="mesure_de_protection")
    assert (event.actor, event.object_type, event.object_id) == (
        OPERATOR,
        "link",
        str(link.public_id),
    )
    assert event.detail == {"mesure": "tutelle", "jusqu_au": until.isoformat()}  # no names

    # Bob finds Alice in his profile switcher and acts for her.
    assert switcher_offers(bob_client, space)
    response = bob_client.post(SWITCH, {"profil": str(space.public_id)})
    assert response.status_code == 302
    assert ACTING in page(bob_client.get("/"))
    assert "Ordonnance d'Alice" in page(bob_client.get(DOCUMENTS))
    upload(bob_client, "Bilan sanguin")
    [document] = Document.objects.filter(title="Bilan sanguin")
    assert document.space == space
    added = Event.objects.filter(space_id=space.public_id, object_id=str(document.public_id))
    assert added.exists() and {e.actor for e in added} == {bob.actor}

    # Alice, logged in as herself, reads the measure and Bob's action in her own trail.
    trail = page(alice_client.get(ACTIVITY))
    assert "Mesure de protection" in trail and "L'Assurance Maladie" in trail
    assert "Ajout d'un document" in trail and "Une autre personne" in trail
    assert ACTING not in page(alice_client.get("/"))


def test_a_curatelle_gives_the_same_management(alice, bob, bob_client):
    register(alice, bob, "curatelle")
    space = space_of(alice.person)
    assert Link.objects.get(space=space).kind == Link.Kind.CURATELLE
    assert bob_client.post(SWITCH, {"profil": str(space.public_id)}).status_code == 302
    assert ACTING in page(bob_client.get("/"))


def test_the_adult_keeps_her_own_login(alice_client, alice, bob):
    register(alice, bob)
    # Her session goes on, for her own profile.
    response = alice_client.get(DOCUMENTS)
    assert response.status_code == 200 and ACTING not in page(response)
    assert linked_profiles(alice) == []
    # And she logs in again through the real three steps.
    fresh = Client()
    log_in(fresh, "alice.martin")
    home = page(fresh.get("/"))
    assert ACTING not in home and "acting-banner" not in home


# --- The end date, and the end of the measure -------------------------------------------------


def test_the_day_after_until_the_link_gives_no_access(alice, bob, bob_client):
    until = in_days(1)
    register(alice, bob, "tutelle", until)
    space = space_of(alice.person)
    # The last evening of the measure, 23:50: Bob still acts for Alice (the end date included).
    last_evening = timezone.make_aware(datetime.combine(until, time(23, 50)))
    offset = last_evening - timezone.now()
    clock.set_offset(offset)
    assert bob_client.post(SWITCH, {"profil": str(space.public_id)}).status_code == 302
    assert ACTING in page(bob_client.get("/"))
    assert page(bob_client.get(DOCUMENTS)).count("acting-banner") == 1

    clock.set_offset(offset + timedelta(minutes=20))  # the day after `until`, 00:10

    home = page(bob_client.get("/"))  # the acting request falls back to his own profile
    assert "acting-banner" not in home and BACK_TO_ONESELF in home
    assert not switcher_offers(bob_client, space)
    assert linked_profiles(bob) == []
    assert bob_client.post(SWITCH, {"profil": str(space.public_id)}).status_code == 404
    # The link is kept, with its dates, for the history.
    link = Link.objects.get(space=space)
    assert (link.until, link.ended_at) == (until, None)


def test_end_ends_the_measure_at_once(alice, bob, bob_client):
    register(alice, bob)
    space = space_of(alice.person)
    bob_client.post(SWITCH, {"profil": str(space.public_id)})
    assert ACTING in page(bob_client.get("/"))

    out = add_guardian(alice.person.nir, bob.person.nir, "--end")

    link = Link.objects.get(space=space)
    assert out.strip() == f"mesure de tutelle levée (lien {link.public_id})"
    assert link.ended_at is not None and link.ended_reason == "fin_de_mesure"
    [event] = Event.objects.filter(space_id=space.public_id, action="mesure_de_protection_levee")
    assert event.actor == OPERATOR and event.object_id == str(link.public_id)
    assert event.detail == {"mesure": "tutelle", "motif": "fin_de_mesure"}
    home = page(bob_client.get("/"))
    assert "acting-banner" not in home and BACK_TO_ONESELF in home
    assert not switcher_offers(bob_client, space)
    # Nothing left to end.
    with pytest.raises(CommandError, match="Aucune mesure de protection en cours"):
        add_guardian(alice.person.nir, bob.person.nir, "--end")
    assert Event.objects.filter(action="mesure_de_protection_levee").count() == 1


def test_registering_again_updates_the_open_link(alice, bob):
    register(alice, bob, "tutelle", in_days(30))
    space = space_of(alice.person)
    [link] = Link.objects.filter(space=space)
    later = in_days(800)

    out = add_guardian(
        alice.person.nir, bob.person.nir, "--kind", "curatelle", "--until", later.isoformat()
    )

    assert out.startswith("mesure mise à jour : curatelle jusqu'au")
    [updated] = Link.objects.filter(space=space)
    assert updated.pk == link.pk
    assert (updated.kind, updated.until, updated.ended_at) == (Link.Kind.CURATELLE, later, None)
    [change] = Event.objects.filter(
        space_id=space.public_id, action="mesure_de_protection_modifiee"
    )
    assert change.actor == OPERATOR
    assert change.detail == {
        "mesure": "curatelle",
        "jusqu_au": later.isoformat(),
        "mesure_precedente": "tutelle",
        "jusqu_au_precedent": in_days(30).isoformat(),
    }
    # The same measure once more: nothing written.
    events = Event.objects.count()
    out = register(alice, bob, "curatelle", later)
    assert "rien n'a changé" in out
    assert Event.objects.count() == events and Link.objects.count() == 1


# --- Refusals: a French message, a non-zero status, nothing written ---------------------------


@pytest.fixture
def refusal_case(request, alice, bob, issue_code):
    """(adult NIR, guardian NIR, --kind, --until, the message expected)."""
    year = f"{in_days(365):%d/%m/%Y}"
    a, b = alice.person.nir, bob.person.nir
    case = request.param
    if case == "unknown_nir":
        return make_nir(2, date(1975, 1, 1), 999), b, "tutelle", year, "aucun assuré ne porte"
    if case == "invalid_nir":
        return "2 80 05", b, "tutelle", year, "doit comporter 15 caractères"
    if case == "minor_adult":
        born = date(2012, 1, 1)
        minor = InsuredPersonFactory(birth_date=born, nir=make_nir(2, born, 7))
        return minor.nir, b, "tutelle", year, "La personne protégée est mineure"
    if case == "guardian_without_account":
        guardian = InsuredPersonFactory(first_name="Chloé")
        return a, guardian.nir, "tutelle", year, "n'a pas de compte Carnet actif"
    if case == "guardian_suspended":
        bob.is_active = False
        bob.save(update_fields=["is_active"])
        return a, b, "tutelle", year, "n'a pas de compte Carnet actif"
    if case == "until_past":
        return a, b, "tutelle", f"{in_days(-1):%d/%m/%Y}", "doit être postérieure à aujourd'hui"
    if case == "until_today":
        return a, b, "tutelle", f"{clock.today():%d/%m/%Y}", "doit être postérieure"
    if case == "until_not_a_date":
        return a, b, "tutelle", "31/02/2030", "date de fin invalide"
    if case == "same_person":
        return a, a, "tutelle", year, "ne peut pas être la personne protégée"
    if case == "bad_kind":
        return a, b, "sauvegarde", year, "indiquez « tutelle » ou « curatelle »"
    if case == "pending_space":
        pending = issue_code(first_name="Denise")
        return pending.person.nir, b, "tutelle", year, "en attente de sa décision"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "refusal_case",
    [
        "unknown_nir",
        "invalid_nir",
        "minor_adult",
        "guardian_without_account",
        "guardian_suspended",
        "until_past",
        "until_today",
        "until_not_a_date",
        "same_person",
        "bad_kind",
        "pending_space",
    ],
    indirect=True,
)
def test_refusals_say_why_in_french_and_write_nothing(refusal_case):
    adult_nir, guardian_nir, kind, until, expected = refusal_case
    events = Event.objects.count()
    with pytest.raises(CommandError) as refused:
        add_guardian(adult_nir, guardian_nir, "--kind", kind, "--until", until)
    assert expected in str(refused.value)
    assert not Link.objects.exists()
    assert Event.objects.count() == events


def test_a_pending_space_tells_the_operator_when_it_will_be_created(issue_code, bob):
    pending = issue_code(first_name="Denise")
    space = space_of(pending.person)
    with pytest.raises(CommandError) as refused:
        register(pending, bob)
    message = str(refused.value)
    assert clock.localdate_fr(space.auto_activate_at) in message
    assert "relancez la commande une fois l'espace activé" in message


def test_missing_options_are_refused_in_french(alice, bob):
    with pytest.raises(CommandError, match="--kind tutelle"):
        add_guardian(alice.person.nir, bob.person.nir, "--until", f"{in_days(9):%d/%m/%Y}")
    with pytest.raises(CommandError, match="--until"):
        add_guardian(alice.person.nir, bob.person.nir, "--kind", "tutelle")
    with pytest.raises(CommandError, match="NIR"):
        add_guardian(alice.person.nir)
    assert not Link.objects.exists()


# --- The `carnet` command line -----------------------------------------------------------------


def test_carnet_add_guardian_is_a_carnet_command_and_fails_with_a_status(tmp_path):
    assert get_commands()["add_guardian"] == "carnet.family"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CARNET_"))}
    env.update(DJANGO_SETTINGS_MODULE="carnet.settings", CARNET_VAR_DIR=str(tmp_path / "var"))
    carnet = Path(sys.executable).with_name("carnet")
    # A malformed NIR is refused before any database access.
    result = subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [
            str(carnet),
            "add_guardian",
            "123",
            "456",
            "--kind",
            "tutelle",
            "--until",
            f"{in_days(100)}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "doit comporter 15 caractères" in result.stderr
