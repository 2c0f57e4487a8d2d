"""A document's life: deleted after a confirmation, restorable for DOCUMENT_RETENTION, then
purged by the tick (row, blob row, file); erased with its space; every step in the trail
without its title; "Qui a consulté mes documents ?"; the default "hide new documents"."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client

from carnet.audit.models import Event
from carnet.core import blobs, clock
from carnet.core.models import Blob, DataKey
from carnet.documents.models import Document, DocumentSettings
from carnet.enrollment import services as enrollment
from carnet.enrollment.models import Space
from carnet.profile.sections import SECTIONS
from carnet.tick import run_tick
from tests.enrollment.helpers import space_of
from tests.profile.test_forms import VALID, url

from .conftest import form_data, pdf_bytes, upload
from .test_access import add_document
from .test_list import bulk_documents

pytestmark = pytest.mark.django_db

RETENTION = timedelta(days=30)
SECOND = timedelta(seconds=1)


def _titles(client, path="/documents/") -> str:
    return client.get(path).content.decode()


def _relogin(client, user):
    """A new session: after a trip in time, the old one has passed its absolute lifetime."""
    client.logout()
    client.force_login(user)


def _delete(client, doc):
    response = client.post(f"/documents/{doc.public_id}/supprimer/")
    assert response.status_code == 302 and response.url == "/documents/"
    message = client.get("/documents/").content.decode()  # the message names it, once
    assert "a été supprimé. Vous pouvez le restaurer" in message
    doc.refresh_from_db()
    return doc


# --- Delete, with a confirmation ------------------------------------------------------------


def test_delete_asks_for_confirmation_first(alice_client, alice):
    doc = add_document(alice, "Radio du genou.pdf")
    response = alice_client.get(f"/documents/{doc.public_id}/supprimer/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Supprimer ce document ?" in page
    assert "Vous pourrez le restaurer depuis « Documents supprimés » pendant 30 jours" in page
    assert re.search(r'<form method="post">', page)
    assert f'href="/documents/{doc.public_id}/"' in page  # "Annuler"
    doc.refresh_from_db()
    assert doc.deleted_at is None  # a GET changes nothing
    assert not Event.objects.filter(action="document_suppression").exists()


def test_deleting_a_professionals_document_says_its_author_will_know(alice_client, alice):
    [doc] = bulk_documents(
        alice,
        [{"title": "Lettre", "author_kind": Document.AuthorKind.PROFESSIONNEL,
          "author_name": "Dr Jeanne Roux"}],
    )  # fmt: skip
    page = alice_client.get(f"/documents/{doc.public_id}/supprimer/").content.decode()
    assert "Ce document a été ajouté par Dr Jeanne Roux." in page


def test_deleted_leaves_the_list_and_is_restorable(alice_client, alice):
    doc = add_document(alice, "Radio du genou.pdf")
    doc = _delete(alice_client, doc)
    assert doc.deleted_at == pytest.approx(clock.now(), abs=timedelta(seconds=5))
    assert doc.deleted_by == alice.actor
    assert "Radio du genou" not in _titles(alice_client)
    assert "Vous n'avez encore aucun document." in _titles(alice_client)
    deleted = alice_client.get("/documents/supprimes/")
    page = deleted.content.decode()
    assert "Radio du genou" in page
    assert "restauré pendant 30 jours" in page
    purge_on = clock.localdate_fr(doc.deleted_at + RETENTION)
    assert f"<dt>Suppression définitive le</dt><dd>{purge_on}</dd>" in page
    assert f'action="/documents/{doc.public_id}/restaurer/"' in page
    # A GET does not restore.
    assert alice_client.get(f"/documents/{doc.public_id}/restaurer/").status_code == 405
    response = alice_client.post(f"/documents/{doc.public_id}/restaurer/")
    assert response.status_code == 302 and response.url == f"/documents/{doc.public_id}/"
    assert "a été restauré" in alice_client.get(response.url).content.decode()
    doc.refresh_from_db()
    assert doc.deleted_at is None and doc.deleted_by == ""
    assert "Radio du genou" in _titles(alice_client)
    assert "Aucun document supprimé." in _titles(alice_client, "/documents/supprimes/")
    # Restored with what it had: the file reads as before.
    file = alice_client.get(f"/documents/{doc.public_id}/fichier/")
    assert file.status_code == 200
    assert b"".join(file.streaming_content).startswith(b"%PDF-")


def test_deleted_documents_newest_first_and_only_ones_own(alice_client, alice, bob):
    first = add_document(alice, "Premier.pdf")
    second = add_document(alice, "Second.pdf")
    theirs = add_document(bob, "Celui de Bob.pdf")
    bob_client = Client()
    bob_client.force_login(bob)
    _delete(bob_client, theirs)
    _delete(alice_client, first)
    with clock.travel(timedelta(hours=1)):
        _delete(alice_client, second)
        page = _titles(alice_client, "/documents/supprimes/")
    assert "Celui de Bob" not in page
    assert page.index("Second") < page.index("Premier")


# --- Retention, then the purge by the tick --------------------------------------------------


def test_kept_until_the_end_of_the_retention(alice_client, alice):
    doc = _delete(alice_client, add_document(alice))
    with clock.travel(RETENTION - SECOND):
        _relogin(alice_client, alice)
        assert run_tick()["documents_supprimes"] == 0
        assert Document.objects.filter(pk=doc.pk).exists()
        assert Blob.objects.filter(key=doc.blob_id).exists()
        assert blobs.blob_exists_on_disk(doc.blob_id)
        assert "Compte rendu" in _titles(alice_client, "/documents/supprimes/")
        assert alice_client.post(f"/documents/{doc.public_id}/restaurer/").status_code == 302
    doc.refresh_from_db()
    assert doc.deleted_at is None


def test_purged_by_the_tick_after_the_retention(
    alice_client, alice, django_capture_on_commit_callbacks
):
    doc = _delete(alice_client, add_document(alice))
    kept = add_document(alice, "Gardé.pdf")
    key, public_id = doc.blob_id, str(doc.public_id)
    assert blobs.blob_exists_on_disk(key)
    with clock.travel(RETENTION + SECOND):
        _relogin(alice_client, alice)
        # Past the retention, it is no longer offered for restoring, even before the tick.
        assert "Compte rendu" not in _titles(alice_client, "/documents/supprimes/")
        assert alice_client.post(f"/documents/{public_id}/restaurer/").status_code == 404
        with django_capture_on_commit_callbacks(execute=True):
            assert run_tick()["documents_supprimes"] == 1
    _relogin(alice_client, alice)
    assert not Document.objects.filter(pk=doc.pk).exists()
    assert not Blob.objects.filter(key=key).exists()
    assert not blobs.blob_exists_on_disk(key)
    purge = Event.objects.get(action="document_purge")
    assert purge.object_type == "document" and purge.object_id == public_id
    assert purge.actor == "systeme:tick"
    assert purge.space_id == space_of(alice.person).public_id
    assert purge.detail == {"categorie": "CPT_REND"}
    # The rest stays: the other document, its file, the space's key.
    assert Document.objects.filter(pk=kept.pk).exists()
    assert blobs.blob_exists_on_disk(kept.blob_id)
    assert alice_client.get(f"/documents/{kept.public_id}/fichier/").status_code == 200
    # Purged means gone: a second tick has nothing to do, the id is a 404 everywhere.
    assert run_tick()["documents_supprimes"] == 0
    for path in (f"/documents/{public_id}/", f"/documents/{public_id}/fichier/"):
        assert alice_client.get(path).status_code == 404
    assert alice_client.post(f"/documents/{public_id}/restaurer/").status_code == 404
    assert Event.objects.filter(action="document_purge").count() == 1


def test_the_purge_goes_in_batches(alice, django_capture_on_commit_callbacks):
    from carnet.documents.services import documents_purge_due

    docs = bulk_documents(alice, 7, deleted_at=clock.now(), deleted_by=alice.actor)
    with clock.travel(RETENTION + SECOND):
        assert documents_purge_due(batch_size=3) == 7
    assert not Document.objects.exists()
    assert not Blob.objects.filter(key__in=[d.blob_id for d in docs]).exists()
    assert Event.objects.filter(action="document_purge").count() == 7


# --- The space's purge erases its documents -------------------------------------------------


def test_a_space_purge_erases_its_documents_blobs_and_profile(
    alice_client, alice, bob, django_capture_on_commit_callbacks
):
    mine = [add_document(alice, "Un.pdf"), add_document(alice, "Deux.pdf")]
    _delete(alice_client, mine[1])  # deleted ones go too
    bulk_documents(alice, 3)
    assert alice_client.post(url("allergies"), VALID["allergies"]).status_code == 302
    alice_client.post("/documents/preferences/", {"hide_new_documents": "on"})
    theirs = add_document(bob, "De Bob.pdf")
    space = space_of(alice.person)
    data_key_id = space.data_key_id
    keys = list(Document.objects.filter(space=space).values_list("blob_id", flat=True))
    assert len(keys) == 5
    enrollment.space_close(space=space, actor=alice.actor, confirmed=True)
    enrollment.space_request_deletion(space=space, actor=alice.actor)
    with clock.travel(timedelta(days=8)), django_capture_on_commit_callbacks(execute=True):
        results = run_tick()
    assert results["purge"] == 1
    space.refresh_from_db()
    assert space.state == Space.State.PURGED
    assert not Document.objects.filter(space=space).exists()
    assert not Blob.objects.filter(key__in=keys).exists()
    assert not any(blobs.blob_exists_on_disk(k) for k in keys)
    assert not DocumentSettings.objects.filter(space=space).exists()
    assert not SECTIONS["allergies"].model.objects.filter(space=space).exists()
    assert DataKey.objects.get(pk=data_key_id).wrapped is None
    # Bob's documents are untouched.
    theirs.refresh_from_db()
    assert blobs.blob_exists_on_disk(theirs.blob_id)
    bob_client = Client()
    bob_client.force_login(bob)
    assert bob_client.get(f"/documents/{theirs.public_id}/fichier/").status_code == 200


def test_space_purge_service_directly(alice, django_capture_on_commit_callbacks):
    doc = add_document(alice)
    space = space_of(alice.person)
    enrollment.space_close(space=space, actor=alice.actor, confirmed=True)
    with django_capture_on_commit_callbacks(execute=True):
        enrollment.space_purge(space=space)
    assert not Document.objects.exists()
    assert not Blob.objects.filter(key=doc.blob_id).exists()
    assert not blobs.blob_exists_on_disk(doc.blob_id)


# --- The trail ------------------------------------------------------------------------------

EVERY_ACTION = {
    "document_ajout", "document_consultation", "document_telechargement",
    "document_modification", "document_epingle", "document_desepingle", "document_masque",
    "document_affiche", "document_suppression", "document_restauration", "document_purge",
}  # fmt: skip
TITLE = "Scintigraphie osseuse"


def test_every_action_is_audited_without_its_title(
    alice_client, alice, django_capture_on_commit_callbacks
):
    response = alice_client.post(
        "/documents/ajouter/", form_data(upload("scan.pdf", pdf_bytes()), title=TITLE)
    )
    assert response.status_code == 302
    doc = Document.objects.get()
    base = f"/documents/{doc.public_id}/"
    alice_client.get(f"{base}fichier/")
    alice_client.get(f"{base}fichier/?telecharger=1")
    alice_client.post(
        f"{base}modifier/",
        {"title": f"{TITLE} 2", "category": "RADIO_SC", "document_date": "2026-01-02"},
    )
    for value in ("1", "0"):
        alice_client.post(f"{base}epingler/", {"valeur": value})
        alice_client.post(f"{base}masquer/", {"valeur": value})
    alice_client.post(f"{base}supprimer/")
    alice_client.post(f"{base}restaurer/")
    alice_client.post(f"{base}supprimer/")
    with clock.travel(RETENTION + SECOND), django_capture_on_commit_callbacks(execute=True):
        run_tick()
    events = list(Event.objects.filter(object_id=str(doc.public_id)).order_by("at", "id"))
    assert {e.action for e in events} == EVERY_ACTION
    space = space_of(alice.person)
    for event in events:
        assert event.object_type == "document"
        assert event.space_id == space.public_id
        assert event.actor == ("systeme:tick" if event.action == "document_purge" else alice.actor)
        text = json.dumps(event.detail, ensure_ascii=False)
        assert "Scintigraphie" not in text and "scintigraphie" not in text, event.action
    modification = next(e for e in events if e.action == "document_modification")
    assert modification.detail == {"categorie": "RADIO_SC", "champs": ["titre", "categorie",
                                                                       "date"]}  # fmt: skip
    # Nowhere in the trail at all, whatever the field.
    for event in Event.objects.all():
        row = json.dumps([event.actor, event.action, event.object_id, event.detail,
                          event.client], ensure_ascii=False)  # fmt: skip
        assert "cintigraphie" not in row


def test_who_read_my_documents(alice_client, alice, bob):
    doc = add_document(alice, "Bilan.pdf")
    theirs = add_document(bob, "Bilan de Bob.pdf")
    bob_client = Client()
    bob_client.force_login(bob)
    bob_client.get(f"/documents/{theirs.public_id}/fichier/")  # Bob's, in Bob's trail only
    alice_client.get(f"/documents/{doc.public_id}/fichier/")
    alice_client.get(f"/documents/{doc.public_id}/fichier/?telecharger=1")
    alice_client.post("/documents/preferences/", {"hide_new_documents": "on"})  # not a document
    response = alice_client.get("/parametres/activites/?sujet=documents")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Qui a consulté, ajouté, modifié ou supprimé vos documents" in page
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", page, re.DOTALL)
    actions = [row[2].replace("&#x27;", "'") for row in rows]
    assert actions == [
        "Téléchargement d'un document",
        "Consultation d'un document",
        "Ajout d'un document",
    ]
    assert all(row[1] == "Vous" for row in rows)
    assert "Comptes rendus" in page  # the category, never the title
    assert "Bilan" not in page
    # The whole trail has the other events; the documents' one does not.
    everything = alice_client.get("/parametres/activites/").content.decode()
    assert "Modification des préférences des documents" in everything
    assert "Modification des préférences des documents" not in page
    assert "Activation de l" in everything and "Activation de l" not in page


def test_who_read_my_documents_shows_others_as_others(alice_client, alice):
    """An event by another actor on Alice's document is not shown as hers."""
    from carnet.audit.services import Entry, events_record

    doc = add_document(alice)
    events_record(
        [
            Entry(
                actor="professionnel:00000000-0000-0000-0000-000000000001",
                action="document_consultation",
                space_id=space_of(alice.person).public_id,
                object_type="document",
                object_id=str(doc.public_id),
                detail={"categorie": doc.category},
            )
        ]
    )
    page = alice_client.get("/parametres/activites/?sujet=documents").content.decode()
    assert "<td>Un professionnel de santé</td>" in page


# --- Preferences ----------------------------------------------------------------------------


def test_hide_new_documents_by_default(alice_client, alice):
    page = alice_client.get("/documents/preferences/").content.decode()
    assert 'name="hide_new_documents"' in page and "checked" not in page
    before = add_document(alice, "Avant.pdf")
    assert not before.hidden
    response = alice_client.post("/documents/preferences/", {"hide_new_documents": "on"})
    assert response.status_code == 302
    assert "checked" in alice_client.get("/documents/preferences/").content.decode()
    hidden = add_document(alice, "Après.pdf")
    assert hidden.hidden
    before.refresh_from_db()
    assert not before.hidden  # only new documents
    listing = alice_client.get("/documents/").content.decode()
    assert listing.count("Masqué aux professionnels") == 1
    # Turned off again: new documents are visible again, the hidden one stays hidden.
    alice_client.post("/documents/preferences/", {})
    assert not add_document(alice, "Ensuite.pdf").hidden
    hidden.refresh_from_db()
    assert hidden.hidden
    assert Event.objects.filter(action="documents_parametres").count() == 2


def test_preferences_are_per_space(alice_client, alice, bob):
    alice_client.post("/documents/preferences/", {"hide_new_documents": "on"})
    assert not add_document(bob, "De Bob.pdf").hidden
    assert add_document(alice, "D'Alice.pdf").hidden


def test_the_restore_service_refuses_past_the_retention(alice_client, alice):
    """The rule is in the service too: a restore racing the tick cannot bring back a document
    whose retention is over."""
    from carnet.documents import services

    doc = _delete(alice_client, add_document(alice))
    with clock.travel(RETENTION + SECOND), pytest.raises(services.DocumentGone):
        services.document_restore(user=alice, doc=doc)
    doc.refresh_from_db()
    assert doc.deleted_at is not None
    assert not Event.objects.filter(action="document_restauration").exists()
