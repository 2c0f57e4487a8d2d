"""Renaming a document, changing its category or date: every rule through the HTTP form, the
error next to its field (aria-invalid) and nothing changed; then a success, audited."""

import re
from datetime import timedelta

import pytest

from carnet.audit.models import Event
from carnet.core import clock
from carnet.documents.models import Document
from tests.pages import field_error

from .test_access import add_document
from .test_list import bulk_documents

pytestmark = pytest.mark.django_db

VALID = {"title": "Échographie cardiaque", "category": "RADIO_SC", "document_date": "2026-03-14"}


def input_tag(page: str, field: str) -> str:
    found = re.search(rf'<(?:input|select|textarea)[^>]*\bid="id_{field}"[^>]*>', page)
    assert found, field
    return found.group(0)


def _snapshot(doc):
    doc.refresh_from_db()
    return {f.attname: getattr(doc, f.attname) for f in doc._meta.concrete_fields}


@pytest.fixture
def doc(alice):
    return add_document(alice, "Compte rendu.pdf", document_date="2026-01-05")


def _edit(client, doc, **overrides):
    return client.post(f"/documents/{doc.public_id}/modifier/", {**VALID, **overrides})


def _tomorrow() -> str:
    return (clock.today() + timedelta(days=1)).isoformat()


REFUSED = [
    ({"title": ""}, "title", "Indiquez un titre."),
    ({"title": "   "}, "title", "Indiquez un titre."),
    ({"title": "x" * 51}, "title", "Le titre ne doit pas dépasser 50 caractères."),
    ({"title": "é" * 51}, "title", "Le titre ne doit pas dépasser 50 caractères."),
    ({"title": "Bilan <script>"}, "title", "Le titre ne doit pas contenir les caractères < ou >."),
    ({"title": "a > b"}, "title", "Le titre ne doit pas contenir les caractères < ou >."),
    ({"title": "<"}, "title", "Le titre ne doit pas contenir les caractères < ou >."),
    ({"category": "INCONNU"}, "category", "Choisissez une catégorie de la liste."),
    ({"category": "radio_sc"}, "category", "Choisissez une catégorie de la liste."),
    ({"category": ""}, "category", "Choisissez une catégorie."),
    ({"document_date": ""}, "document_date", "Indiquez la date du document."),
    ({"document_date": "2026-02-30"}, "document_date",
     "Indiquez une date valide, par exemple 14/03/2026."),
    ({"document_date": "demain"}, "document_date",
     "Indiquez une date valide, par exemple 14/03/2026."),
    ({"document_date": _tomorrow}, "document_date",
     "La date du document ne peut pas être dans le futur."),
    ({"document_date": "2999-01-01"}, "document_date",
     "La date du document ne peut pas être dans le futur."),
    ({"document_date": "1899-12-31"}, "document_date", "Indiquez une date après 1900."),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "field", "message"), REFUSED)
def test_refused_next_to_the_field_and_nothing_changes(
    alice_client, doc, overrides, field, message
):
    overrides = {k: v() if callable(v) else v for k, v in overrides.items()}
    before = _snapshot(doc)
    events = Event.objects.count()
    response = _edit(alice_client, doc, **overrides)
    assert response.status_code == 200
    page = response.content.decode()
    assert field_error(page, field) == message
    tag = input_tag(page, field)
    assert 'aria-invalid="true"' in tag
    assert f"id_{field}-erreur" in tag  # aria-describedby names the error
    # Only that field is in error; the summary links to it.
    for other in {"title", "category", "document_date"} - {field}:
        assert field_error(page, other) is None, other
        assert 'aria-invalid="true"' not in input_tag(page, other)
    assert f'<a href="#id_{field}">' in page
    assert "<title>Erreur : " in page
    assert _snapshot(doc) == before
    assert Event.objects.count() == events


def test_an_empty_post_is_refused_not_ignored(alice_client, doc):
    before = _snapshot(doc)
    response = alice_client.post(f"/documents/{doc.public_id}/modifier/", {})
    assert response.status_code == 200
    page = response.content.decode()
    assert field_error(page, "title") == "Indiquez un titre."
    assert field_error(page, "category") == "Choisissez une catégorie."
    assert field_error(page, "document_date") == "Indiquez la date du document."
    assert _snapshot(doc) == before


def test_a_refused_form_keeps_what_was_typed(alice_client, doc):
    page = _edit(alice_client, doc, title="Bilan <b>", document_date="2999-01-01").content.decode()
    assert 'value="Bilan &lt;b&gt;"' in input_tag(page, "title")
    assert 'value="2999-01-01"' in input_tag(page, "document_date")
    assert '<option value="RADIO_SC" selected>' in page
    assert "Bilan <b>" not in page  # escaped everywhere


def test_the_form_starts_from_the_current_values(alice_client, doc):
    page = alice_client.get(f"/documents/{doc.public_id}/modifier/").content.decode()
    assert 'value="Compte rendu"' in input_tag(page, "title")
    assert 'value="2026-01-05"' in input_tag(page, "document_date")
    assert '<option value="CPT_REND" selected>' in page
    assert "aria-invalid" not in page


def test_a_valid_edit_updates_and_is_audited(alice_client, alice, doc):
    created = doc.created_at
    with clock.travel(timedelta(minutes=5)):
        response = _edit(alice_client, doc, title="  Échographie   cardiaque ")
    assert response.status_code == 302 and response.url == f"/documents/{doc.public_id}/"
    assert "Le document a été modifié." in alice_client.get(response.url).content.decode()
    doc.refresh_from_db()
    assert doc.title == "Échographie cardiaque"  # spaces collapsed
    assert doc.title_key == "echographie cardiaque"  # the sort follows the new title
    assert doc.category == "RADIO_SC"
    assert doc.document_date.isoformat() == "2026-03-14"
    assert doc.updated_at > created and doc.created_at == created
    event = Event.objects.filter(action="document_modification").get()
    assert event.object_type == "document" and event.object_id == str(doc.public_id)
    assert event.actor == alice.actor
    assert event.detail == {"categorie": "RADIO_SC", "champs": ["titre", "categorie", "date"]}
    assert "chographie" not in str(event.detail)


def test_accepted_edge_values(alice_client, doc):
    for title, day in (("x" * 50, clock.today().isoformat()), ("é" * 50, "1900-01-01"),
                       ("Bilan « 2 » & co / 50 %", "14/03/2026")):  # fmt: skip
        response = _edit(alice_client, doc, title=title, document_date=day)
        assert response.status_code == 302, field_error(response.content.decode(), "title")
        doc.refresh_from_db()
        assert doc.title == title


def test_only_the_changed_fields_are_named(alice_client, doc):
    _edit(alice_client, doc, title="Compte rendu", category="CPT_REND", document_date="2026-02-01")
    event = Event.objects.filter(action="document_modification").get()
    assert event.detail["champs"] == ["date"]


def test_a_renamed_document_sorts_by_its_new_name(alice_client, alice):
    zebra, middle = bulk_documents(alice, [{"title": "Zèbre"}, {"title": "Milieu"}])
    assert _edit(alice_client, zebra, title="Abricot").status_code == 302
    response = alice_client.get("/documents/?tri=nom")
    assert [d["title"] for d in response.context["page"]] == ["Abricot", "Milieu"]
    found = alice_client.get("/documents/", {"q": "abricot"}).context["page"]
    assert [d["public_id"] for d in found] == [zebra.public_id]
    assert not Document.objects.filter(title="Zèbre").exists()
