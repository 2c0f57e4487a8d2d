"""Only the owner reaches their documents: another person's document is a 404 exactly like an
id that does not exist, and nothing changes; visitors go to the login, professionals to their
portal; a closed space has no documents. The file itself is served so that it cannot act."""

import re
import uuid
from urllib.parse import quote

import pytest
from django.test import Client

from carnet.audit.models import Event
from carnet.documents.models import Document
from carnet.enrollment import services as enrollment
from tests.enrollment.helpers import space_of

from .conftest import form_data, image_bytes, pdf_bytes, upload

pytestmark = pytest.mark.django_db

ACTIONS = ["", "fichier/", "fichier/?telecharger=1", "modifier/", "epingler/", "masquer/",
           "supprimer/", "restaurer/"]  # fmt: skip
LIST_PAGES = ["/documents/", "/documents/ajouter/", "/documents/supprimes/",
              "/documents/preferences/"]  # fmt: skip
EDIT = {"title": "Piraté", "category": "AUTR_DOC", "document_date": "2020-01-01"}


def add_document(user, name="Compte rendu.pdf", data=None, **fields) -> Document:
    """A document added through the owner's own upload form."""
    client = Client()
    client.force_login(user)
    data = pdf_bytes() if data is None else data
    response = client.post("/documents/ajouter/", form_data(upload(name, data), **fields))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Document.objects.filter(author=user).order_by("-id").first()


@pytest.fixture
def bob_doc(bob):
    return add_document(bob, "Bilan de Bob.pdf")


@pytest.fixture
def bob_deleted(bob):
    doc = add_document(bob, "Ancien bilan de Bob.pdf")
    client = Client()
    client.force_login(bob)
    assert client.post(f"/documents/{doc.public_id}/supprimer/").status_code == 302
    doc.refresh_from_db()
    assert doc.deleted_at is not None
    return doc


def _page(response) -> str:
    """The page without its per-response CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def _snapshot(doc):
    return {f.attname: getattr(doc, f.attname) for f in doc._meta.concrete_fields}


def _url(public_id, action):
    return f"/documents/{public_id}/{action}"


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("which", ["live", "deleted"])
def test_another_space_document_is_a_404_like_a_random_id(
    alice_client, alice, bob_doc, bob_deleted, action, method, which
):
    theirs = bob_doc if which == "live" else bob_deleted
    before = _snapshot(theirs)
    events_before = Event.objects.count()
    send = getattr(alice_client, method)
    data = EDIT if action == "modifier/" else {}
    foreign = send(_url(theirs.public_id, action), data)
    missing = send(_url(uuid.uuid4(), action), data)
    assert foreign.status_code == missing.status_code
    assert foreign.status_code in (404, 405)  # 405: a GET on a POST-only action, or vice versa
    assert _page(foreign) == _page(missing)
    theirs.refresh_from_db()
    assert _snapshot(theirs) == before  # neither changed, deleted, restored nor purged
    assert Document.objects.count() == 2
    assert Event.objects.count() == events_before  # not even a consultation is written
    assert not Event.objects.filter(space_id=space_of(alice.person).public_id,
                                    object_type="document").exists()  # fmt: skip


ON = {"valeur": "1"}


def test_the_owner_reaches_the_same_urls(alice_client, alice):
    """The other side of the test above: with the owner, the same URLs do what they say."""
    mine = add_document(alice)
    assert alice_client.get(_url(mine.public_id, "")).status_code == 200
    assert alice_client.get(_url(mine.public_id, "fichier/")).status_code == 200
    assert alice_client.get(_url(mine.public_id, "modifier/")).status_code == 200
    assert alice_client.get(_url(mine.public_id, "supprimer/")).status_code == 200
    assert alice_client.post(_url(mine.public_id, "epingler/"), ON).status_code == 302
    assert alice_client.post(_url(mine.public_id, "masquer/"), ON).status_code == 302
    assert alice_client.post(_url(mine.public_id, "supprimer/")).status_code == 302
    assert alice_client.post(_url(mine.public_id, "restaurer/")).status_code == 302
    mine.refresh_from_db()
    assert mine.pinned and mine.hidden and mine.deleted_at is None


def test_a_live_document_cannot_be_restored_and_a_deleted_one_not_reached(alice_client, alice):
    """A live document's id on "restaurer", a deleted one's on the other pages: 404."""
    live = add_document(alice, "Vivant.pdf")
    gone = add_document(alice, "Supprimé.pdf")
    alice_client.post(_url(gone.public_id, "supprimer/"))
    assert alice_client.post(_url(live.public_id, "restaurer/")).status_code == 404
    for action in ("", "fichier/", "modifier/", "supprimer/"):
        assert alice_client.get(_url(gone.public_id, action)).status_code == 404, action
    for action in ("epingler/", "masquer/", "supprimer/", "modifier/"):
        assert alice_client.post(_url(gone.public_id, action), EDIT).status_code == 404, action
    gone.refresh_from_db()
    assert gone.deleted_at is not None and not gone.pinned and not gone.hidden
    assert gone.title == "Supprimé"


def test_malformed_ids_are_404(alice_client):
    for path in ("/documents/123/", "/documents/not-a-uuid/fichier/",
                 "/documents/00000000-0000-0000-0000-00000000000g/modifier/"):  # fmt: skip
        assert alice_client.get(path).status_code == 404, path


def _all_pages(public_id):
    return LIST_PAGES + [_url(public_id, action) for action in ACTIONS]


def test_anonymous_visitors_are_sent_to_the_login(client, bob_doc):
    before = _snapshot(bob_doc)
    for path in _all_pages(bob_doc.public_id):
        for response in (client.get(path), client.post(path, EDIT)):
            assert response.status_code == 302, path
            assert response.url.startswith("/connexion/?next=/documents/"), path
    bob_doc.refresh_from_db()
    assert _snapshot(bob_doc) == before


def test_a_professional_is_sent_back_to_their_portal(client, professional, bob_doc):
    before = _snapshot(bob_doc)
    events_before = Event.objects.count()
    client.force_login(professional)
    for path in _all_pages(bob_doc.public_id):
        response = client.get(path)
        assert response.status_code == 302 and response.url == "/pro/", path
        assert client.post(path, EDIT).status_code == 403, path
    bob_doc.refresh_from_db()
    assert _snapshot(bob_doc) == before
    assert Event.objects.count() == events_before


def test_a_closed_space_has_no_documents(alice_client, alice):
    mine = add_document(alice)
    gone = add_document(alice, "Supprimé.pdf")
    alice_client.post(_url(gone.public_id, "supprimer/"))
    enrollment.space_close(space=space_of(alice.person), actor=alice.actor, confirmed=True)
    before = {d.pk: _snapshot(d) for d in Document.objects.all()}
    for path in _all_pages(mine.public_id) + [_url(gone.public_id, "restaurer/")]:
        assert alice_client.get(path).status_code in (404, 405), path
        assert alice_client.post(path, EDIT).status_code in (404, 405), path
    assert alice_client.get("/documents/").status_code == 404
    assert alice_client.get(_url(mine.public_id, "fichier/")).status_code == 404
    assert {d.pk: _snapshot(d) for d in Document.objects.all()} == before


# --- The file itself ------------------------------------------------------------------------


def _tiff() -> bytes:
    return image_bytes("TIFF")


FILES = [
    ("scan.pdf", pdf_bytes, "application/pdf", "inline", "pdf"),
    ("photo.jpg", lambda: image_bytes("JPEG"), "image/jpeg", "inline", "jpg"),
    ("photo.png", lambda: image_bytes("PNG"), "image/png", "inline", "png"),
    ("scan.tiff", _tiff, "image/tiff", "attachment", "tiff"),
    ("lettre.rtf", lambda: b"{\\rtf1\\ansi Bonjour}", "application/rtf", "attachment", "rtf"),
    ("notes.txt", lambda: "Tension : 12/8 été\n".encode(), "text/plain; charset=utf-8",
     "attachment", "txt"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "media_type", "disposition", "extension"), FILES)
def test_the_file_is_served_safely(alice_client, alice, name, make, media_type, disposition,
                                   extension):  # fmt: skip
    data = make()
    doc = add_document(alice, name, data, title="Mon document")
    response = alice_client.get(_url(doc.public_id, "fichier/"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == media_type
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Disposition"] == f'{disposition}; filename="Mon document.{extension}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    event = Event.objects.filter(object_type="document").order_by("-id").first()
    assert event.action == (
        "document_consultation" if disposition == "inline" else "document_telechargement"
    )
    download = alice_client.get(_url(doc.public_id, "fichier/?telecharger=1"))
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Security-Policy"] == "sandbox"
    assert "no-store" in download["Cache-Control"]
    assert Event.objects.filter(object_type="document").order_by("-id").first().action == (
        "document_telechargement"
    )


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ('Compte "rendu"', 'inline; filename="Compte \\"rendu\\".pdf"'),
        ("Back\\slash", 'inline; filename="Back-slash.pdf"'),
        ("Radio 1/2", 'inline; filename="Radio 1-2.pdf"'),
        ("Échographie d'été", "inline; filename*=utf-8''" + quote("Échographie d'été.pdf")),
        ("Bilan; x=1, y", 'inline; filename="Bilan; x=1, y.pdf"'),
        ("医療 記録", "inline; filename*=utf-8''" + quote("医療 記録.pdf")),
    ],
)
def test_the_file_name_is_the_title_safely_encoded(alice_client, alice, title, expected):
    doc = add_document(alice)
    Document.objects.filter(pk=doc.pk).update(title=title)  # some cannot be typed in the form
    response = alice_client.get(_url(doc.public_id, "fichier/"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == expected
    assert "\n" not in response["Content-Disposition"]


def test_a_title_typed_with_quotes_and_accents_names_the_download(alice_client, alice):
    doc = add_document(alice)
    response = alice_client.post(
        _url(doc.public_id, "modifier/"),
        {"title": 'Lettre "urgente" été', "category": "CPT_REND", "document_date": "2026-01-02"},
    )
    assert response.status_code == 302
    download = alice_client.get(_url(doc.public_id, "fichier/?telecharger=1"))
    assert download["Content-Disposition"] == (
        "attachment; filename*=utf-8''" + quote('Lettre "urgente" été.pdf')
    )
