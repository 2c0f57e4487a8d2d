"""« Télécharger mes données », through the real pages, services and worker task: what the ZIP
holds (every document, the FHIR profile, the PDF synthesis, the messages, the agenda, the
history), who may ask and download, the email, the audit trail, the limits."""

import csv
import email
import io
import json
from datetime import timedelta
from email import policy

import pytest
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from carnet.audit.models import Event
from carnet.core import blobs, clock
from carnet.core.stores import blob_store
from carnet.exports import services, stream
from carnet.exports.models import Export
from carnet.notifications.models import OutboxMessage
from tests.accounts.helpers import page, reauthenticate

from .conftest import (
    INDEX,
    REQUEST,
    SECRET_TITLES,
    ask,
    download,
    latest,
    opened,
    reauthenticated,
    sha256,
)

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    """A new browser, logged in and freshly re-authenticated."""
    client = Client()
    client.force_login(user)
    reauthenticated(client)
    return client


def folder_of(user) -> str:
    return f"{user.person.first_name} {user.person.last_name}"


@pytest.fixture
def ready(alice_client, alice, alice_space, alice_docs, django_capture_on_commit_callbacks):
    response = ask(alice_client, django_capture_on_commit_callbacks, [alice_space])
    assert response.status_code == 302 and response["Location"] == INDEX, page(response)[:3000]
    export = latest(alice)
    assert export.status == Export.Status.READY
    return export


def test_the_settings_lead_to_the_export_and_the_request_says_what_it_holds(alice_client):
    settings_page = page(alice_client.get(reverse("parametres:index")))
    assert reverse("exports:index") in settings_page
    index = page(alice_client.get(INDEX))
    assert "Télécharger mes données" in index and REQUEST in index
    confirmation = page(alice_client.get(REQUEST))
    for part in ("profil.fhir.json", "synthese.pdf", ".eml", "agenda.ics", "historique.csv"):
        assert part in confirmation
    assert "7 jours" in confirmation
    assert "Alice" in confirmation and "(vous)" in confirmation


def test_the_zip_holds_every_document_and_the_whole_record(
    alice_client, alice, alice_space, alice_docs, doctor_message, appointment, ready
):
    reauthenticated(alice_client)
    archive = opened(download(alice_client, ready))
    folder = folder_of(alice)
    names = set(archive.namelist())

    # Every live document, decrypted, named by date and title, the same name made unique.
    documents = sorted(n for n in names if n.startswith(f"{folder}/documents/"))
    assert documents == [
        f"{folder}/documents/2026-11-02 Compte rendu cardiologie (2).pdf",
        f"{folder}/documents/2026-11-02 Compte rendu cardiologie.pdf",
        f"{folder}/documents/2026-11-02 Radio du genou.png",
    ]
    assert sorted(sha256(archive.read(n)) for n in documents) == sorted(
        d.blob.sha256 for d in alice_docs
    )
    assert ready.documents == 3

    # The profile as FHIR, read back by fhir.resources.
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate_json(archive.read(f"{folder}/profil.fhir.json"))
    assert bundle.type == "collection"
    assert any(e.resource.get_resource_type() == "Patient" for e in bundle.entry)

    assert archive.read(f"{folder}/synthese.pdf").startswith(b"%PDF")

    calendar = Calendar.from_ical(archive.read(f"{folder}/agenda.ics"))
    events = [c for c in calendar.walk("VEVENT")]
    assert [str(e["SUMMARY"]) for e in events] == ["Cardiologue"]
    assert str(events[0]["UID"]) == f"{appointment.public_id}@carnet"

    text = archive.read(f"{folder}/historique.csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["date", "heure", "qui", "action", "document", "canal"]
    actions = [row[3] for row in rows[1:]]
    assert any(a.startswith("Ajout d'un document") for a in actions)
    assert any(a.startswith("Demande d'un export") for a in actions)

    # The doctor's message as a mail, with its attachment.
    [eml] = [n for n in names if n.startswith(f"{folder}/messages/") and "Vos résultats" in n]
    mail = email.message_from_bytes(archive.read(eml), policy=policy.default)
    assert mail["Subject"] == "Vos résultats"
    assert "DUPONT" in str(mail["From"]) and alice.person.nir in str(mail["To"])
    assert "Voici." in mail.get_body(preferencelist=("plain",)).get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "résultats.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    # The welcome message of the service is there too.
    assert any("Bienvenue" in n for n in names)

    assert "LISEZMOI.txt" in names


def test_deleted_documents_are_left_out(
    alice_client, alice, alice_space, alice_docs, django_capture_on_commit_callbacks
):
    from carnet.documents.services import document_delete

    document_delete(user=alice, doc=alice_docs[2])
    ask(alice_client, django_capture_on_commit_callbacks, [alice_space])
    reauthenticated(alice_client)
    archive = opened(download(alice_client, latest(alice)))
    assert not [n for n in archive.namelist() if "Radio du genou" in n]
    assert latest(alice).documents == 2


def test_the_stored_file_is_encrypted_and_a_damaged_one_is_never_served(alice_client, ready):
    store = blob_store()
    sealed = b"".join(store.read_stream(ready.blob_id))
    assert not sealed.startswith(b"PK\x03\x04")
    assert sealed.startswith(b"CARNETX1")
    assert b"%PDF" not in sealed and SECRET_TITLES[0].encode() not in sealed
    assert len(sealed) == stream.sealed_size(ready.blob.size, 1024 * 1024)

    reauthenticated(alice_client)
    url = reverse("exports:download", args=[ready.public_id])
    damaged = bytearray(sealed)
    damaged[40] ^= 0x01  # inside the first chunk
    store.write(ready.blob_id, bytes(damaged))
    response = alice_client.get(url)
    assert response.status_code == 500
    assert "ne peut pas être téléchargé" in page(response)
    store.write(ready.blob_id, sealed[:-100])  # cut short: the first chunk is the last one here
    assert alice_client.get(url).status_code == 500
    store.write(ready.blob_id, sealed)
    assert opened(download(alice_client, ready))


def test_a_large_export_cut_after_its_first_chunks_stops_short(
    alice_client, alice, alice_space, settings, django_capture_on_commit_callbacks
):
    """Chunks of 1 KiB: the damage is found mid-stream, after the response began: it ends
    before its Content-Length (a failed download), never as a complete file."""
    from tests.documents.conftest import pdf_bytes

    from .conftest import add_document

    settings.CARNET = {**settings.CARNET, "EXPORT_CHUNK_BYTES": 1024}
    add_document(alice, alice_space, "Compte rendu", "cr.pdf", pdf_bytes("long", pages=20))
    ask(alice_client, django_capture_on_commit_callbacks, [alice_space])
    export = latest(alice)
    store = blob_store()
    sealed = b"".join(store.read_stream(export.blob_id))
    store.write(export.blob_id, sealed[: len(sealed) // 2])
    reauthenticated(alice_client)
    response = alice_client.get(reverse("exports:download", args=[export.public_id]))
    assert response.status_code == 200
    received = bytearray()
    with pytest.raises(Exception) as caught:
        for chunk in response.streaming_content:
            received += chunk
    assert caught.type.__name__ == "StreamCorrupted"
    assert 0 < len(received) < int(response["Content-Length"])


def test_the_email_says_it_is_ready_and_nothing_of_the_content(alice, ready):
    [mail] = OutboxMessage.objects.filter(kind="export_pret")
    assert mail.to == alice.email
    text = mail.subject + mail.body
    assert "prêt" in text and reverse("exports:index") in text
    for secret in (*SECRET_TITLES, alice.person.first_name, alice.person.last_name, "Léa"):
        assert secret not in text


def test_the_state_shows_and_the_page_reloads_without_script(alice_client, alice, ready):
    index = page(alice_client.get(INDEX))
    assert "Prête" in index
    assert reverse("exports:download", args=[ready.public_id]) in index
    Export.objects.filter(pk=ready.pk).update(status=Export.Status.BUILDING)
    building = page(alice_client.get(INDEX))
    assert "En préparation" in building and "Actualiser la page" in building
    assert reverse("exports:download", args=[ready.public_id]) not in building
    assert "<script" not in building.split("</main>")[0].split('<main id="contenu"')[1]


def test_each_download_is_audited_and_listed_in_the_history(alice_client, alice, ready):
    reauthenticated(alice_client)
    download(alice_client, ready)
    download(alice_client, ready)
    events = Event.objects.filter(action="export_telechargement", object_id=str(ready.public_id))
    assert events.count() == 2
    assert {e.space_id for e in events} == {ready.spaces.get().public_id}
    assert {e.actor for e in events} == {alice.actor}
    history = page(alice_client.get(reverse("historique:index"), {"onglet": "mes-activites"}))
    assert "Téléchargement de l'export de toutes les données" in history
    assert Export.objects.get(pk=ready.pk).downloads == 2


def test_the_download_needs_a_fresh_reauthentication_and_comes_back(alice_client, alice, ready):
    url = reverse("exports:download", args=[ready.public_id])
    response = alice_client.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("parametres:reauth")
    assert not Event.objects.filter(action="export_telechargement").exists()
    response = reauthenticate(alice_client, alice)
    assert response["Location"] == INDEX  # back to the exports, where the link is
    assert alice_client.get(url).status_code == 200


def test_a_head_request_is_not_a_download(alice_client, ready):
    reauthenticated(alice_client)
    response = alice_client.head(reverse("exports:download", args=[ready.public_id]))
    assert response.status_code == 405
    assert not Event.objects.filter(action="export_telechargement").exists()


def test_the_download_needs_a_login(ready):
    url = reverse("exports:download", args=[ready.public_id])
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/connexion/")


def test_another_account_cannot_download_it(bob, ready):
    other = Client()
    other.force_login(bob)
    reauthenticated(other)
    assert other.get(reverse("exports:download", args=[ready.public_id])).status_code == 404
    assert reverse("exports:download", args=[ready.public_id]) not in page(other.get(INDEX))


def test_the_link_expires_after_seven_days_and_the_file_is_deleted(
    alice_client, alice, ready, django_capture_on_commit_callbacks
):
    from carnet.tick import run_tick

    url = reverse("exports:download", args=[ready.public_id])
    key = ready.blob_id
    with clock.travel(timedelta(days=6, hours=23)):
        later = logged_in(alice)  # a new session: the first one has long ended
        assert later.get(url).status_code == 200
    with clock.travel(timedelta(days=7, minutes=1)):
        later = logged_in(alice)
        assert later.get(url).status_code == 404
        assert "Expirée" in page(later.get(INDEX))
        with django_capture_on_commit_callbacks(execute=True):
            run_tick()
    export = Export.objects.get(pk=ready.pk)
    assert export.status == Export.Status.EXPIRED and export.blob_id is None
    assert export.data_key.wrapped is None  # its key destroyed: crypto-shredded
    assert not blobs.blob_exists_on_disk(key)


def test_one_export_in_progress_and_a_cooldown(
    alice_client, alice, alice_space, ready, django_capture_on_commit_callbacks
):
    response = ask(alice_client, django_capture_on_commit_callbacks, [alice_space])
    assert response.status_code == 400
    assert "Vous avez déjà demandé un export récemment" in page(response)
    assert Export.objects.filter(user=alice).count() == 1
    with clock.travel(timedelta(hours=25)):
        # In progress: refused, whatever the delay (the service, not only the page).
        Export.objects.filter(pk=ready.pk).update(status=Export.Status.BUILDING)
        with pytest.raises(services.ExportRefused, match="déjà en préparation"):
            services.export_request(user=alice, spaces=[alice_space])
        Export.objects.filter(pk=ready.pk).update(status=Export.Status.READY)
        response = ask(logged_in(alice), django_capture_on_commit_callbacks, [alice_space])
        assert response.status_code == 302
    newest = latest(alice)
    assert newest.pk != ready.pk and newest.status == Export.Status.READY
    # One file at a time: the older one went when the new one was ready.
    assert Export.objects.get(pk=ready.pk).status == Export.Status.EXPIRED


def test_a_request_without_a_profile_is_refused_next_to_the_field(
    alice_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(REQUEST, {})
    assert response.status_code == 400
    text = page(response)
    assert "Choisissez au moins un profil à exporter." in text
    assert 'aria-describedby="id_profiles-erreur"' in text
    assert 'href="#id_profiles"' in text and 'id="id_profiles"' in text  # the summary's link
    assert '<label for="id_profiles_0">' in text
    assert not Export.objects.exists()


def test_the_request_is_audited_and_the_task_is_idempotent(alice, ready):
    assert Event.objects.filter(action="export_demande", object_id=str(ready.public_id)).count()
    assert services.export_build(ready.pk) == "ignore"  # built already: left as it is
    assert Export.objects.get(pk=ready.pk).attempts == 1


def test_a_purged_space_takes_its_exports_with_it(
    alice, alice_space, ready, django_capture_on_commit_callbacks
):
    from carnet.enrollment.services import space_close, space_purge

    space_close(space=alice_space, actor=alice.actor, confirmed=True)
    alice_space.refresh_from_db()
    key = ready.blob_id
    with django_capture_on_commit_callbacks(execute=True):
        space_purge(space=alice_space)
    export = Export.objects.get(pk=ready.pk)
    assert export.status == Export.Status.EXPIRED and export.blob_id is None
    assert not blobs.blob_exists_on_disk(key)


def test_json_of_the_fhir_profile_is_plain_json(alice_client, alice, ready):
    reauthenticated(alice_client)
    archive = opened(download(alice_client, ready))
    parsed = json.loads(archive.read(f"{folder_of(alice)}/profil.fhir.json"))
    assert parsed["resourceType"] == "Bundle"
