"""A result withheld by its professional author until the announcement consultation (DESIGN,
consent rule 7): invisible to the patient, who is told after 14 days that a document waits
(never what), and visible at the latest after 1 month (`carnet tick`) or when the author
releases it."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from carnet.audit.models import Event
from carnet.core import clock
from carnet.documents.models import Category, Document
from carnet.enrollment.selectors import space_for_user
from carnet.notifications.models import OutboxMessage
from carnet.tick import run_tick
from tests.consent.conftest import _pdf, authorise, make_professional

pytestmark = pytest.mark.django_db

TITLE = "Biopsie hépatique"
NOTICE_AFTER = timedelta(days=14, seconds=1)
MAX = timedelta(days=30, seconds=1)


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def author(space):
    found = make_professional("medecin", establishment="Hôpital des Tilleuls")
    authorise(space, found)
    return found


def pro_page(space, suffix=""):
    return f"/pro/patients/{space.public_id}/{suffix}"


def add(client, author, space, *, withhold=True):
    client.force_login(author.user)
    data = {
        "file": SimpleUploadedFile("cr.pdf", _pdf(), content_type="application/pdf"),
        "title": TITLE,
        "category": Category.BIOLOGIE,
        "document_date": "2026-11-02",
    }
    if withhold:
        data["withhold"] = "on"
    response = client.post(pro_page(space, "ajouter/"), data)
    assert response.status_code == 302
    client.logout()
    return Document.objects.get(title=TITLE)


def mails(alice):
    kinds = ("nouveau_document", "document_en_attente")
    return list(OutboxMessage.objects.filter(to=alice.email, kind__in=kinds).order_by("id"))


def assert_invisible(client, alice, doc):
    client.force_login(alice)
    listing = client.get("/documents/").content.decode()
    assert TITLE not in listing and "Biologie" not in listing.split("<form")[0]
    for suffix in ("", "fichier/", "modifier/"):
        assert client.get(f"/documents/{doc.public_id}/{suffix}").status_code == 404
    assert client.post(f"/documents/{doc.public_id}/supprimer/").status_code == 404
    client.logout()


def assert_visible(client, alice, doc):
    client.force_login(alice)
    assert TITLE in client.get("/documents/").content.decode()
    assert client.get(f"/documents/{doc.public_id}/").status_code == 200
    assert client.get(f"/documents/{doc.public_id}/fichier/").status_code == 200
    client.logout()


def test_a_withheld_document_is_hidden_from_the_patient_not_from_its_author(
    client, alice, space, author
):
    doc = add(client, author, space)
    assert doc.withheld_until == doc.created_at + timedelta(days=30)
    assert mails(alice) == []  # no "nouveau document" at upload
    assert_invisible(client, alice, doc)
    # Nor in the patient's activity (the trail names the document by its title otherwise).
    client.force_login(alice)
    activity = client.get("/parametres/activites/")
    assert activity.status_code == 200 and TITLE not in activity.content.decode()
    client.logout()
    client.force_login(author.user)
    response = client.get(pro_page(space))
    assert response.status_code == 200
    page = response.content.decode()
    assert TITLE in page and "Retenu jusqu'au" in page
    assert "Rendre visible au patient" in page
    assert client.get(pro_page(space, f"documents/{doc.public_id}/fichier/")).status_code == 200
    added = Event.objects.get(action="document_ajout", object_id=str(doc.public_id))
    assert added.detail["retenu"] is True


def test_the_patient_is_told_once_after_14_days_then_sees_it_after_a_month(
    client, alice, space, author
):
    doc = add(client, author, space)
    with clock.travel(timedelta(days=13)):
        run_tick()
    assert mails(alice) == []
    client.force_login(alice)
    assert "vous attend" not in client.get("/documents/").content.decode()
    client.logout()

    with clock.travel(NOTICE_AFTER):
        assert run_tick()["documents_retenus"] == 1
        assert run_tick()["documents_retenus"] == 0  # exactly once
        [notice] = mails(alice)
        assert notice.subject == "Un document vous attend"
        for word in ("Biopsie", "hépatique", "Biologie", author.last_name):
            assert word not in notice.body and word not in notice.subject
        client.force_login(alice)
        listing = client.get("/documents/").content.decode()
        assert "Un document vous attend" in listing and TITLE not in listing
        client.logout()
        assert_invisible(client, alice, doc)

    with clock.travel(MAX):
        assert run_tick()["documents_retenus"] == 1
        assert run_tick()["documents_retenus"] == 0
        assert_visible(client, alice, doc)
        client.force_login(alice)
        assert "vous attend" not in client.get("/documents/").content.decode()
        client.logout()
    doc.refresh_from_db()
    assert doc.withheld_until is None
    assert [m.subject for m in mails(alice)] == [
        "Un document vous attend",
        "Vous avez reçu un nouveau document",
    ]
    [released] = Event.objects.filter(action="document_libere", object_id=str(doc.public_id))
    assert released.actor == "systeme:tick"


def test_the_author_releases_it_early(client, alice, space, author):
    doc = add(client, author, space)
    client.force_login(author.user)
    url = pro_page(space, f"documents/{doc.public_id}/rendre-visible/")
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 302
    assert client.post(url).status_code == 404  # no longer withheld
    client.logout()
    assert_visible(client, alice, doc)
    [mail] = mails(alice)
    assert mail.subject == "Vous avez reçu un nouveau document" and TITLE not in mail.body
    [released] = Event.objects.filter(action="document_libere", object_id=str(doc.public_id))
    assert released.actor == author.user.actor
    with clock.travel(MAX):
        assert run_tick()["documents_retenus"] == 0
    assert len(mails(alice)) == 1


def test_only_the_author_releases_it(client, alice, space, author):
    doc = add(client, author, space)
    colleague = make_professional("medecin")
    authorise(space, colleague)
    client.force_login(colleague.user)
    page = client.get(pro_page(space)).content.decode()
    assert TITLE in page and "Rendre visible au patient" not in page
    url = pro_page(space, f"documents/{doc.public_id}/rendre-visible/")
    assert client.post(url).status_code == 404
    client.force_login(alice)  # a patient's account does not reach the portal
    assert client.post(url).status_code == 403
    assert Document.objects.get(pk=doc.pk).withheld_until is not None


def test_not_withheld_by_default(client, alice, space, author):
    doc = add(client, author, space, withhold=False)
    assert doc.withheld_until is None
    assert_visible(client, alice, doc)
    assert [m.subject for m in mails(alice)] == ["Vous avez reçu un nouveau document"]


def test_the_patients_trail_says_nothing_of_a_withheld_result_until_release(
    client, alice, space, author
):
    doc = add(client, author, space)
    client.force_login(alice)
    urls = ("/parametres/activites/?sujet=documents", "/parametres/activites/",
            "/historique/?onglet=professionnels")  # fmt: skip
    for url in urls:
        page = client.get(url).content.decode()
        assert "Ajout d&#x27;un document" not in page, url
        assert "biologie" not in page.lower(), url
    client.logout()
    client.force_login(author.user)
    client.post(pro_page(space, f"documents/{doc.public_id}/rendre-visible/"))
    client.force_login(alice)
    page = client.get("/parametres/activites/?sujet=documents").content.decode()
    assert "Ajout d&#x27;un document" in page  # told once released
