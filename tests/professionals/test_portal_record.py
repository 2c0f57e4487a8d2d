"""The other sections of a patient's record in the professional portal, read only: the
vaccinations, « Entourage et volontés » and the saved synthesis. Each is its own page, decided
and audited on its own; a denial is the 404 of an id that does not exist; the patient reads each
access in their history."""

import re
from datetime import date

import pytest
from django.test import Client

from carnet.audit.models import Event
from carnet.consent.models import CategoryAccess
from carnet.core import clock
from carnet.documents.models import Category
from carnet.enrollment.selectors import space_for_user
from carnet.profile import services as profile
from carnet.profile.sections import SECTIONS
from tests.consent.conftest import (
    FINESS_HOSPITAL,
    add_document,
    authorise,
    block,
    emergency,
    make_professional,
    make_treating,
)

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
MISSING = "00000000-0000-0000-0000-000000000001"
# The page of each section, the event its reading writes, its label in the patient's history.
PAGES = {
    "vaccinations/": (
        "acces_vaccinations_lecture",
        "Consultation des vaccinations par un professionnel",
    ),
    "entourage/": (
        "acces_entourage_lecture",
        "Consultation de « Entourage et volontés » par un professionnel",
    ),
    "synthese/": ("acces_synthese_lecture", "Consultation de la synthèse par un professionnel"),
}
SECTION_PAGES = list(PAGES)
RECORD_PAGES = ["", *SECTION_PAGES, "messages/", "rendez-vous/"]  # "" is the documents' page
NAV_LABELS = {
    "": "Documents",
    "vaccinations/": "Vaccinations",
    "entourage/": "Entourage et volontés",
    "synthese/": "Synthèse enregistrée",
    "messages/": "Messages",
    "rendez-vous/": "Rendez-vous",
}


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def generalist(db):
    return make_professional("medecin", finess=FINESS_HOSPITAL, last_name="NOGUES")


@pytest.fixture
def pharmacist(db):
    return make_professional("pharmacien", first_name="Hugo")


@pytest.fixture
def dentist(db):
    return make_professional("chirurgien_dentiste", first_name="Inès")


def add_entry(alice, space, slug, **values):
    """An entry of the profile, written by the patient through the profile's own service."""
    return profile.entry_create(actor=alice, space=space, model=SECTIONS[slug].model, values=values)


@pytest.fixture
def vaccinations(alice, space):
    return [
        add_entry(
            alice,
            space,
            "vaccinations",
            vaccine="ror",
            date=date(2019, 3, 14),
            kind="rappel",
            vaccinator="Dr Lefèvre",
            lot="LOT-ROR-42",
            comment="Aucune réaction.",
        ),
        add_entry(
            alice,
            space,
            "vaccinations",
            vaccine="autre",
            other_name="Vaccin du voyage",
            date=date(2023, 6, 2),
        ),
    ]


@pytest.fixture
def circle(alice, space):
    return add_entry(
        alice,
        space,
        "entourage",
        emergency_name="Paul Martin",
        emergency_relation="frère",
        emergency_phone="06 12 34 56 78",
        trusted_name="Jeanne Martin",
        trusted_relation="mère",
        trusted_phone="+33 6 98 76 54 32",
        organ_donation="pour",
    )


@pytest.fixture
def saved_synthesis(alice, space):
    """The patient's « Enregistrer ma synthèse dans mes documents » (a real PDF)."""
    return profile.synthesis_save(user=alice, space=space)


def pro_client(client, professional):
    client.force_login(professional.user)
    return client


def url(space_id, suffix=""):
    return f"/pro/patients/{space_id}/{suffix}"


def file_url(space, doc):
    return url(space.public_id, f"documents/{doc.public_id}/fichier/")


def html(response) -> str:
    return CSRF.sub("", response.content.decode())


def events(space, professional=None, action=None):
    found = Event.objects.filter(space_id=space.public_id, actor__startswith="professionnel:")
    if professional is not None:
        found = found.filter(actor=professional.user.actor)
    if action is not None:
        found = found.filter(action=action)
    return found


# --- What each section shows --------------------------------------------------------------


def test_a_doctor_reads_the_vaccinations(client, generalist, alice, space, vaccinations, bob):
    authorise(space, generalist)
    add_entry(bob, space_for_user(bob), "vaccinations", vaccine="grippe", date=date(2024, 1, 5))
    gone = add_entry(alice, space, "vaccinations", vaccine="zona", date=date(2022, 1, 5))
    profile.entry_delete(actor=alice, space=space, obj=gone)

    response = pro_client(client, generalist).get(url(space.public_id, "vaccinations/"))

    assert response.status_code == 200
    text = response.content.decode()
    assert "Rougeole, oreillons, rubéole (ROR)" in text
    assert "14 mars 2019" in text
    assert "Rappel" in text
    assert "Dr Lefèvre" in text and "LOT-ROR-42" in text and "Aucune réaction." in text
    assert "Vaccin du voyage" in text
    # Newest first; another patient's and a deleted entry never appear.
    assert text.index("Vaccin du voyage") < text.index("Rougeole")
    assert "Grippe" not in text and "Zona" not in text
    # Read only: no form, no link to the patient's own profile pages.
    assert "<form" not in text.split('id="contenu"')[1]
    assert "/profil-medical/" not in text.split('id="contenu"')[1]


def test_a_doctor_reads_the_circle_and_the_advance_directives(
    client, generalist, alice, space, circle
):
    authorise(space, generalist)
    directives = add_document(alice, space, Category.DIR_ANT, title="Mes directives")

    response = pro_client(client, generalist).get(url(space.public_id, "entourage/"))

    assert response.status_code == 200
    text = response.content.decode()
    assert "Personne à prévenir en cas d&#x27;urgence" in text
    assert "Paul Martin" in text and "frère" in text
    assert 'href="tel:0612345678"' in text
    assert "Personne de confiance" in text and "Jeanne Martin" in text and "mère" in text
    assert 'href="tel:+33698765432"' in text
    assert "Favorable au don d&#x27;organes" in text
    assert file_url(space, directives) in text
    assert "Mes directives" in text
    # Reading the directives is the portal's document read, audited as such.
    assert client.get(file_url(space, directives)).status_code == 200
    [event] = events(space, generalist).filter(object_id=str(directives.public_id))
    assert event.action == "document_consultation"


def test_the_advance_directives_follow_the_matrix_and_the_hidden_flag(
    client, pharmacist, alice, space, circle
):
    """A pharmacist reads the circle but not the directives (médecins only by default); a
    hidden version is the treating doctor's only."""
    authorise(space, pharmacist)
    directives = add_document(alice, space, Category.DIR_ANT, title="Mes directives")
    text = pro_client(client, pharmacist).get(url(space.public_id, "entourage/")).content.decode()
    assert "Paul Martin" in text
    assert file_url(space, directives) not in text and "Mes directives" not in text
    assert "Aucune directive anticipée ne vous est accessible." in text

    hidden = add_document(alice, space, Category.DIR_ANT, title="Version masquée", hidden=True)
    doctor = make_professional("medecin")
    authorise(space, doctor)
    text = pro_client(client, doctor).get(url(space.public_id, "entourage/")).content.decode()
    assert "Version masquée" not in text and "Mes directives" not in text
    treating = make_professional("medecin")
    make_treating(space, treating)
    text = pro_client(client, treating).get(url(space.public_id, "entourage/")).content.decode()
    assert file_url(space, hidden) in text


def test_a_doctor_reads_the_saved_synthesis_and_opens_it(
    client, generalist, alice, space, saved_synthesis
):
    authorise(space, generalist)
    other = add_document(alice, space, Category.CPT_REND, title="Compte rendu")
    older = add_document(alice, space, Category.SYNTH_PML, title="Ancienne synthèse")

    response = pro_client(client, generalist).get(url(space.public_id, "synthese/"))

    assert response.status_code == 200
    text = response.content.decode()
    assert saved_synthesis.title.startswith("Synthèse médicale du ")
    assert file_url(space, saved_synthesis) in text
    assert saved_synthesis.title in text
    assert "Le patient" in text
    assert "La plus récente" in text
    assert text.index(saved_synthesis.title) < text.index("Ancienne synthèse")
    assert file_url(space, older) in text
    assert file_url(space, other) not in text  # only the syntheses
    opened = client.get(file_url(space, saved_synthesis))
    assert opened.status_code == 200
    assert opened["Content-Type"] == "application/pdf"
    [event] = events(space, generalist).filter(object_id=str(saved_synthesis.public_id))
    assert event.action == "document_consultation"


def test_a_hidden_synthesis_is_seen_by_the_treating_doctor_only(client, alice, space):
    hidden = add_document(alice, space, Category.SYNTH_PML, title="Synthèse masquée", hidden=True)
    authorised = make_professional("medecin")
    authorise(space, authorised)
    treating = make_professional("medecin")
    make_treating(space, treating)
    text = pro_client(client, authorised).get(url(space.public_id, "synthese/")).content.decode()
    assert "Synthèse masquée" not in text
    assert "Aucune synthèse enregistrée ne vous est accessible." in text
    text = pro_client(client, treating).get(url(space.public_id, "synthese/")).content.decode()
    assert file_url(space, hidden) in text
    assert "Masqué par le patient" in text


@pytest.mark.parametrize(
    ("suffix", "empty"),
    [
        ("vaccinations/", "Aucune vaccination enregistrée."),
        ("entourage/", "Aucune information « Entourage et volontés » enregistrée."),
        ("synthese/", "Aucune synthèse enregistrée ne vous est accessible."),
    ],
)
def test_an_empty_section_says_so(client, generalist, space, suffix, empty):
    authorise(space, generalist)
    response = pro_client(client, generalist).get(url(space.public_id, suffix))
    assert response.status_code == 200
    assert empty in response.content.decode()


def test_a_circle_partly_filled_says_what_is_missing(client, generalist, alice, space):
    authorise(space, generalist)
    add_entry(alice, space, "entourage", trusted_name="Jeanne Martin")
    text = pro_client(client, generalist).get(url(space.public_id, "entourage/")).content.decode()
    assert "Jeanne Martin" in text
    assert "Non renseignée." in text  # nobody to call in an emergency
    assert "Non précisé" in text  # the organ donation, and the trusted person's phone
    assert "tel:" not in text


# --- The navigation between the sections --------------------------------------------------


@pytest.mark.parametrize("current", RECORD_PAGES)
def test_the_record_pages_share_one_navigation(client, generalist, space, current):
    authorise(space, generalist)
    text = pro_client(client, generalist).get(url(space.public_id, current)).content.decode()
    nav = re.search(r'<nav aria-label="Rubriques du dossier du patient".*?</nav>', text, re.S)
    assert nav is not None
    links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>(?:<strong>)?([^<]+)<', nav[0])
    assert [(href, label) for href, _, label in links] == [
        (url(space.public_id, suffix), NAV_LABELS[suffix]) for suffix in RECORD_PAGES
    ]
    assert [href for href, active, _ in links if active] == [url(space.public_id, current)]
    assert text.count("<h1>") == 1


def test_reading_the_documents_leaves_no_trace_of_the_other_sections(client, generalist, space):
    authorise(space, generalist)
    assert pro_client(client, generalist).get(url(space.public_id)).status_code == 200
    assert list(events(space).values_list("action", flat=True)) == ["acces_documents_liste"]


# --- Audit: one event per reading, in the patient's history -------------------------------


@pytest.mark.parametrize("suffix", SECTION_PAGES)
def test_each_reading_writes_one_event_the_patient_reads(client, generalist, alice, space, suffix):
    authorise(space, generalist)
    action, label = PAGES[suffix]

    response = pro_client(client, generalist).get(
        url(space.public_id, suffix), REMOTE_ADDR="198.51.100.7"
    )

    assert response.status_code == 200
    [event] = events(space)
    assert event.action == action
    assert event.actor == generalist.user.actor
    assert event.detail == {"motif": "autorise"}
    assert event.client == "198.51.100.7"
    assert event.object_id == ""

    patient = Client()
    patient.force_login(alice)
    history = patient.get("/historique/")
    assert history.status_code == 200
    [row] = history.context["rows"]
    assert row.label == label
    assert row.who == "Claire NOGUES, Médecin (Médecine générale)"
    assert row.channel == "Portail"
    page = history.content.decode()
    assert "Claire NOGUES" in page
    assert label.replace("'", "&#x27;") in page


@pytest.mark.parametrize("suffix", SECTION_PAGES)
def test_every_reading_is_audited_again(client, generalist, space, suffix):
    make_treating(space, generalist)
    pro_client(client, generalist)
    for _ in range(2):
        assert client.get(url(space.public_id, suffix)).status_code == 200
    assert events(space, action=PAGES[suffix][0]).count() == 2
    assert all(e.detail == {"motif": "medecin_traitant"} for e in events(space))


# --- Who may read -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SECTION_PAGES)
def test_every_refusal_is_the_404_of_a_missing_id_and_writes_nothing(
    client, professional, generalist, bob, space, suffix, vaccinations, circle, saved_synthesis
):
    pro_client(client, generalist)
    missing = client.get(url(MISSING, suffix))
    assert missing.status_code == 404

    without_basis = client.get(url(space.public_id, suffix))

    authorise(space, generalist)
    block(space, generalist)
    blocked = client.get(url(space.public_id, suffix))

    bob_space = space_for_user(bob)
    authorise(bob_space, generalist)
    bob_space.state = bob_space.State.CLOSED
    bob_space.save(update_fields=["state"])
    closed = client.get(url(bob_space.public_id, suffix))

    # A professional account not linked to the directory reaches no record.
    unlinked = Client()
    unlinked.force_login(professional)
    not_linked = unlinked.get(url(space.public_id, suffix))

    pages = [without_basis, blocked, closed, not_linked]
    assert {r.status_code for r in pages} == {404}
    assert {html(r) for r in pages[:3]} == {html(missing)}
    # The same page as a missing id for that account too (the header names who is logged in).
    assert html(not_linked) == html(unlinked.get(url(MISSING, suffix)))
    for page in pages:
        for private in ("Alice", "Bob", "Rougeole", "Paul Martin", "Synthèse médicale"):
            assert private not in page.content.decode()
    assert not events(space).exists()
    assert not events(bob_space).exists()


@pytest.mark.parametrize("suffix", SECTION_PAGES)
def test_the_pages_are_read_only(client, generalist, space, suffix):
    authorise(space, generalist)
    pro_client(client, generalist)
    assert client.post(url(space.public_id, suffix), {}).status_code == 405
    assert not events(space).exists()


@pytest.mark.parametrize("suffix", SECTION_PAGES)
def test_the_patient_does_not_read_their_record_through_the_portal(alice_client, space, suffix):
    assert alice_client.get(url(space.public_id, suffix)).status_code != 200
    assert not Event.objects.filter(action=PAGES[suffix][0]).exists()


@pytest.mark.parametrize("suffix", SECTION_PAGES)
def test_an_emergency_access_reads_every_section(
    client, alice, space, suffix, vaccinations, circle, saved_synthesis
):
    doctor = make_professional("medecin")
    emergency(space, doctor)
    response = pro_client(client, doctor).get(url(space.public_id, suffix))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Accès en urgence jusqu'au" in text
    shown = {
        "vaccinations/": "Rougeole, oreillons, rubéole (ROR)",
        "entourage/": "Paul Martin",
        "synthese/": saved_synthesis.title,
    }
    assert shown[suffix] in text
    [event] = events(space, doctor)
    assert (event.action, event.detail) == (PAGES[suffix][0], {"motif": "urgence"})


def test_an_emergency_that_expired_reads_nothing(client, space, saved_synthesis):
    doctor = make_professional("medecin")
    access = emergency(space, doctor)
    pro_client(client, doctor)
    assert client.get(url(space.public_id, "synthese/")).status_code == 200
    clock.set_offset(access.expires_at - clock.now())
    later = pro_client(Client(), doctor)  # a new session: the first one ended with the day
    for suffix in SECTION_PAGES:
        assert later.get(url(space.public_id, suffix)).status_code == 404
    assert events(space, doctor).count() == 1


def test_a_colleague_of_the_establishment_reads_through_the_care_team(
    client, generalist, space, vaccinations
):
    authorise(space, generalist)
    colleague = make_professional("medecin", finess=FINESS_HOSPITAL, first_name="Paul")
    text = pro_client(client, colleague).get(url(space.public_id, "vaccinations/")).content
    assert b"Rougeole" in text
    assert events(space, colleague).get().detail == {"motif": "equipe"}


@pytest.mark.parametrize("who", ["pharmacist", "dentist"])
def test_the_synthesis_follows_the_matrix_of_the_profession(
    client, request, space, saved_synthesis, vaccinations, who
):
    """Every profession of the default matrix reads SYNTH_PML; an operator who closes it to a
    profession closes the synthesis page too, not the other sections."""
    professional = request.getfixturevalue(who)
    authorise(space, professional)
    pro_client(client, professional)
    response = client.get(url(space.public_id, "synthese/"))
    assert response.status_code == 200
    assert file_url(space, saved_synthesis) in response.content.decode()
    assert client.get(file_url(space, saved_synthesis)).status_code == 200

    CategoryAccess.objects.filter(
        profession=professional.profession, category=Category.SYNTH_PML
    ).update(allowed=False)
    before = events(space, professional).count()
    denied = client.get(url(space.public_id, "synthese/"))
    assert denied.status_code == 404
    assert html(denied) == html(client.get(url(MISSING, "synthese/")))
    assert events(space, professional).count() == before
    assert client.get(url(space.public_id, "vaccinations/")).status_code == 200
