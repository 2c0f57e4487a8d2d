"""The professional portal: find a patient without learning who exists, attest consent, list and
open what the rules allow (audited), add a document, break the glass."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.consent.models import Authorisation, EmergencyAccess, EmergencySettings
from carnet.core import ratelimit
from carnet.core.validators import nir_key
from carnet.documents.models import Category, Document
from carnet.enrollment.selectors import space_for_user
from carnet.notifications.models import OutboxMessage
from carnet.professionals.portal_views import FOUND, NOT_FOUND
from carnet.professionals.services import search_key
from tests.consent.conftest import (
    FINESS_HOSPITAL,
    _pdf,
    add_document,
    authorise,
    block,
    make_professional,
    make_treating,
)

pytestmark = pytest.mark.django_db

SEARCH = "/pro/patients/"
BIRTH = "1980-05-17"  # the factory's birth date (tests/conftest.py alice)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def generalist(db):
    return make_professional("medecin", finess=FINESS_HOSPITAL)


@pytest.fixture
def pharmacist(db):
    return make_professional("pharmacien", first_name="Hugo")


@pytest.fixture
def docs(alice, space):
    """One document of Alice's per category, all visible to professionals."""
    return {c: add_document(alice, space, c, title=f"Document {c}") for c in Category.values}


@pytest.fixture
def hidden_doc(alice, space):
    return add_document(alice, space, Category.CPT_REND, hidden=True, title="Masqué")


def pro_client(client, professional):
    client.force_login(professional.user)
    return client


def search(client, nir, birth=BIRTH):
    return client.post(SEARCH, {"nir": nir, "birth_date": birth})


def page_url(space, suffix=""):
    return f"/pro/patients/{space.public_id}/{suffix}"


def file_url(space, doc):
    return page_url(space, f"documents/{doc.public_id}/fichier/")


def html(response) -> str:
    return CSRF.sub("", response.content.decode())


# --- Finding a patient ----------------------------------------------------------------------


def test_the_pro_home_links_to_the_search(client, generalist):
    response = pro_client(client, generalist).get("/pro/")
    assert f'href="{SEARCH}"' in response.content.decode()
    assert "Trouver un patient" in response.content.decode()


def test_a_patient_without_basis_is_found_and_leads_to_the_attestation(
    client, generalist, alice, space
):
    response = search(pro_client(client, generalist), alice.person.nir)
    assert response.status_code == 302
    assert response["Location"] == page_url(space, "consentement/")
    assert client.session[FOUND] == str(space.public_id)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "J&#x27;atteste avoir recueilli le consentement du patient" in page.content.decode()
    assert alice.person.nir not in response["Location"]


def test_the_nir_may_be_typed_with_spaces(client, generalist, alice, space):
    nir = alice.person.nir
    spaced = f"{nir[0]} {nir[1:3]} {nir[3:5]} {nir[5:7]} {nir[7:10]} {nir[10:13]} {nir[13:]}"
    assert search(pro_client(client, generalist), spaced).status_code == 302


def test_a_professional_with_a_basis_goes_straight_to_the_patient(client, generalist, alice, space):
    authorise(space, generalist)
    response = search(pro_client(client, generalist), alice.person.nir)
    assert response["Location"] == page_url(space)


def test_every_denied_search_gives_the_same_page(client, generalist, alice, bob, space):
    """Unknown NIR, wrong birth date, inactive space, blocked professional: one answer."""
    pro_client(client, generalist)
    unknown_nir = f"2991299999999{nir_key('2991299999999'):02d}"
    unknown = search(client, unknown_nir)
    wrong_birth = search(client, alice.person.nir, "1980-05-18")
    bob_space = bob.person.space
    bob_space.state = bob_space.State.CLOSED
    bob_space.save(update_fields=["state"])
    closed = search(client, bob.person.nir)
    block(space, generalist)
    blocked = search(client, alice.person.nir)
    pages = [unknown, wrong_birth, closed, blocked]
    assert {r.status_code for r in pages} == {200}
    assert NOT_FOUND in html(unknown)
    assert len({html(r) for r in pages}) == 1
    assert FOUND not in client.session


def test_an_invalid_nir_is_explained_next_to_the_field(client, generalist):
    response = search(pro_client(client, generalist), "123")
    assert response.status_code == 400
    assert "15 caractères" in response.content.decode()
    assert not ratelimit.blocked_until(search_key(generalist))


def test_failed_searches_are_rate_limited_per_professional(
    client, settings, generalist, alice, space
):
    settings.CARNET = {**settings.CARNET, "PRO_SEARCH_MAX_FAILURES": 3}
    pro_client(client, generalist)
    for _ in range(3):
        assert search(client, alice.person.nir, "1999-01-01").status_code == 200
    # Locked: even the right answer is not given any more.
    response = search(client, alice.person.nir)
    assert response.status_code == 429
    assert "Trop de recherches sans résultat" in response.content.decode()
    # Another professional is not locked.
    other = make_professional("medecin")
    client.force_login(other.user)
    assert search(client, alice.person.nir).status_code == 302


@pytest.mark.parametrize("who", ["alice", "operator"])
def test_patients_and_operators_cannot_reach_the_portal(client, alice, who):
    user = alice
    if who == "operator":
        user = User.objects.create_user("operateur.test", None, kind=User.Kind.OPERATOR)
    client.force_login(user)
    response = client.get(SEARCH)
    assert response.status_code == 302
    assert response["Location"] != SEARCH
    assert client.post(SEARCH, {"nir": alice.person.nir, "birth_date": BIRTH}).status_code == 403


def test_an_account_not_in_the_directory_gets_404(client, professional):
    client.force_login(professional)
    assert client.get(SEARCH).status_code == 404


# --- Consent, then the list -----------------------------------------------------------------


def test_attest_then_list(client, generalist, alice, space, docs):
    search(pro_client(client, generalist), alice.person.nir)
    refused = client.post(page_url(space, "consentement/"), {})
    assert refused.status_code == 400
    assert "Cochez la case" in refused.content.decode()
    response = client.post(page_url(space, "consentement/"), {"attest": "on"})
    assert response["Location"] == page_url(space)
    assert Authorisation.objects.filter(space=space, professional=generalist).exists()
    page = client.get(page_url(space))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Alice" in text
    assert "17 mai 1980" in text
    assert file_url(space, docs[Category.CPT_REND]) in text
    assert Event.objects.filter(
        space_id=space.public_id, action="acces_documents_liste", actor=generalist.user.actor
    ).exists()


def test_the_attestation_needs_a_search_first(client, generalist, space):
    pro_client(client, generalist)
    assert client.get(page_url(space, "consentement/")).status_code == 404
    assert client.post(page_url(space, "consentement/"), {"attest": "on"}).status_code == 404
    assert not Authorisation.objects.filter(space=space).exists()


def test_without_basis_the_patient_page_is_a_404_like_a_missing_id(client, generalist, space):
    pro_client(client, generalist)
    denied = client.get(page_url(space))
    missing = client.get("/pro/patients/00000000-0000-0000-0000-000000000001/")
    assert denied.status_code == missing.status_code == 404
    assert html(denied) == html(missing)


def test_the_list_filters_sorts_and_searches(client, generalist, alice, space):
    authorise(space, generalist)
    add_document(alice, space, Category.BIOLOGIE, title="Bilan sanguin")
    add_document(alice, space, Category.CPT_REND, title="Échographie")
    pro_client(client, generalist)
    text = client.get(page_url(space), {"q": "echo"}).content.decode()
    assert "Échographie" in text and "Bilan sanguin" not in text
    text = client.get(page_url(space), {"filtre": "BIOLOGIE"}).content.decode()
    assert "Bilan sanguin" in text and "Échographie" not in text
    text = client.get(page_url(space), {"tri": "nom"}).content.decode()
    assert text.index("Bilan sanguin") < text.index("Échographie")


def test_a_pharmacist_neither_lists_nor_opens_a_report(client, pharmacist, space, docs):
    authorise(space, pharmacist)
    pro_client(client, pharmacist)
    text = client.get(page_url(space)).content.decode()
    assert file_url(space, docs[Category.ORD_SOIN]) in text
    assert file_url(space, docs[Category.CPT_REND]) not in text
    assert client.get(file_url(space, docs[Category.CPT_REND])).status_code == 404
    assert client.get(file_url(space, docs[Category.ORD_SOIN])).status_code == 200


def test_a_hidden_document_is_seen_by_the_treating_doctor_only(client, space, hidden_doc):
    authorised = make_professional("medecin")
    authorise(space, authorised)
    treating = make_professional("medecin")
    make_treating(space, treating)
    pro_client(client, authorised)
    assert file_url(space, hidden_doc) not in client.get(page_url(space)).content.decode()
    assert client.get(file_url(space, hidden_doc)).status_code == 404
    pro_client(client, treating)
    assert file_url(space, hidden_doc) in client.get(page_url(space)).content.decode()
    assert client.get(file_url(space, hidden_doc)).status_code == 200


def test_a_file_read_is_audited_and_served_like_the_patient_s(client, generalist, space, docs):
    authorise(space, generalist)
    doc = docs[Category.CPT_REND]
    response = pro_client(client, generalist).get(file_url(space, doc))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == _pdf()
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    # One event for one reading: the consultation, with the reason consent allowed it.
    [event] = Event.objects.filter(object_id=str(doc.public_id), actor=generalist.user.actor)
    assert event.action == "document_consultation"
    assert event.detail["motif"] == "autorise"


def test_a_document_of_another_space_is_a_404(client, generalist, space, bob):
    authorise(space, generalist)
    other = add_document(bob, space_for_user(bob), Category.CPT_REND)
    assert pro_client(client, generalist).get(file_url(space, other)).status_code == 404


def test_the_patient_page_costs_the_same_queries_whatever_the_documents(
    client, generalist, alice, space, django_assert_num_queries
):
    authorise(space, generalist)
    for _ in range(3):
        add_document(alice, space, Category.CPT_REND)
    pro_client(client, generalist)
    client.get(page_url(space))  # the session's first touch
    with CaptureQueriesContext(connection) as few:
        assert client.get(page_url(space)).status_code == 200
    for _ in range(37):
        add_document(alice, space, Category.CPT_REND)
    with django_assert_num_queries(len(few)):
        assert client.get(page_url(space)).status_code == 200


# --- Adding a document ----------------------------------------------------------------------


def test_a_professional_adds_a_document_authored_by_them(client, alice, space):
    author = make_professional("medecin", establishment="Hôpital des Tilleuls")
    authorise(space, author)
    before = OutboxMessage.objects.count()
    pro_client(client, author)
    assert client.get(page_url(space, "ajouter/")).status_code == 200
    response = client.post(
        page_url(space, "ajouter/"),
        {
            "file": SimpleUploadedFile("cr.pdf", _pdf(), content_type="application/pdf"),
            "title": "Compte rendu opératoire",
            "category": Category.CPT_REND,
            "document_date": "2026-11-02",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == page_url(space)
    doc = Document.objects.get(title="Compte rendu opératoire")
    assert doc.author_id == author.user_id
    assert doc.author_kind == Document.AuthorKind.PROFESSIONNEL
    assert doc.author_name == f"Claire {author.last_name}"
    assert doc.author_establishment == "Hôpital des Tilleuls"
    assert not doc.hidden
    # One event for one addition, with the reason consent allowed it.
    [event] = Event.objects.filter(object_id=str(doc.public_id))
    assert (event.action, event.actor) == ("document_ajout", author.user.actor)
    assert event.detail["motif"] == "autorise"
    [mail] = OutboxMessage.objects.order_by("-id")[: OutboxMessage.objects.count() - before]
    assert mail.to == alice.email
    assert mail.subject == "Vous avez reçu un nouveau document"
    assert "Compte rendu" not in mail.body and "opératoire" not in mail.body
    assert "Compte" not in mail.subject


def test_an_invalid_upload_changes_nothing(client, generalist, space):
    authorise(space, generalist)
    response = pro_client(client, generalist).post(
        page_url(space, "ajouter/"),
        {
            "file": SimpleUploadedFile("x.exe", b"MZ\x90\x00", content_type="application/pdf"),
            "category": "",
            "document_date": "2026-11-02",
        },
    )
    assert response.status_code == 400
    assert "Choisissez une catégorie." in response.content.decode()
    assert not Document.objects.filter(space=space).exists()


def test_adding_without_basis_is_a_404(client, generalist, space):
    pro_client(client, generalist)
    assert client.get(page_url(space, "ajouter/")).status_code == 404


# --- Emergency ------------------------------------------------------------------------------


def test_an_emergency_access_opens_the_record_for_24_hours(client, generalist, alice, space, docs):
    search(pro_client(client, generalist), alice.person.nir)
    page = client.get(page_url(space, "urgence/"))
    assert page.status_code == 200
    assert "24 heures" in page.content.decode()
    assert "Médecin régulateur du SAMU" in page.content.decode()
    short = client.post(page_url(space, "urgence/"), {"kind": "urgence", "reason": "court"})
    assert short.status_code == 400
    response = client.post(
        page_url(space, "urgence/"),
        {"kind": "urgence", "reason": "Patient inconscient aux urgences"},
    )
    assert response["Location"] == page_url(space)
    assert EmergencyAccess.objects.filter(space=space, professional=generalist).exists()
    assert client.get(page_url(space)).status_code == 200


def test_samu_is_offered_to_doctors_only(client, pharmacist, alice, space):
    search(pro_client(client, pharmacist), alice.person.nir)
    assert "SAMU" not in client.get(page_url(space, "urgence/")).content.decode()
    response = client.post(
        page_url(space, "urgence/"), {"kind": "samu", "reason": "Patient inconscient"}
    )
    assert response.status_code == 400
    assert not EmergencyAccess.objects.exists()


def test_an_emergency_the_patient_refused_says_so(client, generalist, alice, space):
    EmergencySettings.objects.create(space=space, emergency_allowed=False)
    search(pro_client(client, generalist), alice.person.nir)
    response = client.post(
        page_url(space, "urgence/"),
        {"kind": "urgence", "reason": "Patient inconscient aux urgences"},
    )
    assert response.status_code == 403
    assert "n&#x27;autorise pas l&#x27;accès en urgence" in response.content.decode()
    assert not EmergencyAccess.objects.exists()
    assert client.get(page_url(space)).status_code == 404


def test_the_emergency_needs_a_search_first(client, generalist, space):
    pro_client(client, generalist)
    assert client.get(page_url(space, "urgence/")).status_code == 404


def test_a_colleague_of_the_establishment_lists_through_the_care_team(client, space, docs):
    authorise(space, make_professional("medecin", finess=FINESS_HOSPITAL))
    colleague = make_professional("medecin", finess=FINESS_HOSPITAL)
    assert pro_client(client, colleague).get(page_url(space)).status_code == 200
