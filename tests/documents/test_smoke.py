"""The main journey through the views: add, list, view, edit, pin, hide, delete, restore."""

import pytest

from carnet.audit.models import Event
from carnet.documents.models import Document

from .conftest import form_data, pdf_bytes, upload

pytestmark = pytest.mark.django_db


def test_add_view_and_manage_a_pdf(alice_client):
    data = pdf_bytes()
    response = alice_client.post(
        "/documents/ajouter/", form_data(upload("Compte-rendu cardio.pdf", data))
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    doc = Document.objects.get()
    assert doc.title == "Compte-rendu cardio"
    assert doc.media_type == "application/pdf"
    listing = alice_client.get("/documents/")
    assert "Compte-rendu cardio" in listing.content.decode()
    assert "1 - 1 sur 1" in listing.content.decode()
    file = alice_client.get(f"/documents/{doc.public_id}/fichier/")
    assert file.status_code == 200
    assert b"".join(file.streaming_content) == data
    assert file["Content-Type"] == "application/pdf"
    assert file["Content-Security-Policy"] == "sandbox"
    assert file["Content-Disposition"].startswith("inline")
    alice_client.post(f"/documents/{doc.public_id}/masquer/", {"valeur": "1"})
    alice_client.post(f"/documents/{doc.public_id}/epingler/", {"valeur": "1"})
    doc.refresh_from_db()
    assert doc.hidden and doc.pinned
    alice_client.post(f"/documents/{doc.public_id}/supprimer/")
    alice_client.get("/")  # the confirmation message names the document once
    assert "Compte-rendu cardio" not in alice_client.get("/documents/").content.decode()
    assert "Compte-rendu cardio" in alice_client.get("/documents/supprimes/").content.decode()
    alice_client.post(f"/documents/{doc.public_id}/restaurer/")
    assert "Compte-rendu cardio" in alice_client.get("/documents/").content.decode()
    actions = list(Event.objects.filter(object_type="document").values_list("action", flat=True))
    assert "document_consultation" in actions and "document_restauration" in actions
    trail = alice_client.get("/parametres/activites/?sujet=documents").content.decode()
    assert "Consultation d&#x27;un document" in trail or "Consultation d'un document" in trail


def test_hiding_sets_the_asked_state_a_resent_form_does_not_undo_it(alice_client):
    alice_client.post("/documents/ajouter/", form_data(upload("Sérologie.pdf", pdf_bytes())))
    doc = Document.objects.get()
    url = f"/documents/{doc.public_id}/masquer/"
    for _ in range(2):  # a double click
        assert alice_client.post(url, {"valeur": "1"}).status_code == 302
    doc.refresh_from_db()
    assert doc.hidden
    assert alice_client.post(url, {"valeur": "peut-être"}).status_code == 400
    assert alice_client.post(url).status_code == 400
    doc.refresh_from_db()
    assert doc.hidden
    page = alice_client.get(f"/documents/{doc.public_id}/").content.decode()
    assert '<input type="hidden" name="valeur" value="0">' in page  # the button now un-hides


def test_no_document_title_travels_in_a_cookie(alice_client):
    response = alice_client.post(
        "/documents/ajouter/", form_data(upload("VIH sérologie.pdf", pdf_bytes()))
    )
    assert all("rologie" not in c.value for c in response.cookies.values())
    assert "messages" not in response.cookies


def test_a_space_closed_while_the_file_travels_receives_nothing(alice, alice_client):
    from carnet.documents import services
    from carnet.documents.files import file_check
    from carnet.enrollment import services as enrollment
    from carnet.enrollment.selectors import space_for_user

    space = space_for_user(alice)  # read while still active, as the view does
    enrollment.space_close(space=space_for_user(alice), actor=alice.actor, confirmed=True)
    with pytest.raises(services.SpaceNotWritable):
        services.document_add(
            user=alice,
            space=space,
            checked=file_check("cr.pdf", pdf_bytes()),
            title="CR",
            category="CPT_REND",
            document_date=space.activated_at.date(),
        )
    assert not Document.objects.exists()
