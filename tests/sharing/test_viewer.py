"""The viewer of a share link (/partage/v/<token>/), for someone without an account: exactly
the shared documents and the synthesis, read-only, never indexed or cached; expired, revoked or
unknown links alike; the passcode, its lock; every opening in the owner's trail and page."""

import html
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse

from carnet.audit.models import Event
from carnet.core import clock
from carnet.documents.services import document_delete
from carnet.sharing.models import Share

from .conftest import create, viewer

NOINDEX = "noindex, nofollow, noarchive"


def _private(response) -> None:
    assert response["X-Robots-Tag"] == NOINDEX
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]


def file_url(token, doc, download=False) -> str:
    url = reverse("sharing:document", args=[token, doc.public_id])
    return url + ("?telecharger=1" if download else "")


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def shared(alice_client, docs):
    """Alice shares the MRI report and the photo, and her synthesis, for 24 hours."""
    _, token = create(alice_client, documents=[docs["irm"], docs["photo"]], synthesis=True)
    return token


def test_the_viewer_lists_exactly_the_shared_documents(stranger, shared, docs):
    response = stranger.get(viewer(shared))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Documents de santé de Alice" in page
    assert "Compte rendu IRM" in page and "Photo eczéma" in page
    assert "Bilan sanguin" not in page  # not shared
    assert "Télécharger la synthèse médicale (PDF)" in page
    assert '<meta name="robots" content="noindex, nofollow, noarchive">' in page
    assert "<form" not in page  # read-only: nothing to change
    _private(response)


def test_downloads_are_the_very_bytes_with_their_type_and_name(stranger, shared, docs):
    from carnet.core.blobs import blob_read

    for doc in (docs["irm"], docs["photo"]):
        response = stranger.get(file_url(shared, doc, download=True))
        assert response.status_code == 200
        assert content(response) == blob_read(doc.blob)
        assert response["Content-Type"] == doc.media_type
        assert response["Content-Disposition"].startswith("attachment;")
        assert doc.extension in response["Content-Disposition"]
        _private(response)
    inline = stranger.get(file_url(shared, docs["irm"]))
    assert inline["Content-Disposition"].startswith("inline;")
    assert inline["Content-Security-Policy"] == "sandbox"


def test_a_document_not_shared_does_not_open(stranger, shared, docs):
    response = stranger.get(file_url(shared, docs["bilan"], download=True))
    assert response.status_code == 404
    assert b"Bilan" not in content(response)
    _private(response)


def test_the_synthesis_is_a_pdf_of_the_profile(stranger, shared):
    response = stranger.get(reverse("sharing:synthesis", args=[shared]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith('attachment; filename="Profilmedical_')
    _private(response)
    assert Event.objects.filter(action="partage_synthese").count() == 1


def test_the_synthesis_is_also_an_ips_document(stranger, shared):
    from fhir.resources.R4B.bundle import Bundle

    response = stranger.get(reverse("sharing:summary", args=[shared]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate_json(response.content)
    assert bundle.type == "document"
    assert bundle.entry[0].resource.get_resource_type() == "Composition"
    _private(response)
    assert Event.objects.filter(action="partage_synthese_fhir").count() == 1


def test_no_synthesis_unless_shared(alice_client, stranger, docs):
    _, token = create(alice_client, documents=[docs["irm"]])
    assert "synthèse" not in html.unescape(stranger.get(viewer(token)).content.decode()).lower()
    assert stranger.get(reverse("sharing:synthesis", args=[token])).status_code == 404
    assert stranger.get(reverse("sharing:summary", args=[token])).status_code == 404


def test_openings_and_downloads_are_in_the_trail_and_on_the_owners_page(
    alice_client, stranger, shared, space, docs
):
    stranger.get(viewer(shared), REMOTE_ADDR="203.0.113.9")
    stranger.get(file_url(shared, docs["irm"], download=True), REMOTE_ADDR="203.0.113.9")
    share = Share.objects.get()
    events = Event.objects.filter(space_id=space.public_id, actor=share.actor).order_by("seq")
    assert [e.action for e in events] == ["partage_ouverture", "document_telechargement"]
    assert {e.client for e in events} == {"203.0.113.9"}
    assert events[1].object_id == str(docs["irm"].public_id)
    page = html.unescape(
        alice_client.get(reverse("sharing:detail", args=[share.public_id])).content.decode()
    )
    assert "Ouverture d'un lien de partage" in page
    assert "Téléchargement d'un document" in page and "Compte rendu IRM" in page
    assert "203.0.113.9" in page
    # And in the history, tab "Liens de partage", named by its label.
    history = alice_client.get(reverse("historique:index"), {"onglet": "partages"})
    rows = history.context["rows"]
    assert {r.who for r in rows} >= {"Lien de partage « Urgences Lyon »", "Vous"}
    assert {r.label for r in rows} >= {
        "Ouverture d'un lien de partage",
        "Création d'un lien de partage",
    }


def test_the_link_stops_after_its_validity(stranger, shared):
    assert stranger.get(viewer(shared)).status_code == 200
    with clock.travel(timedelta(hours=24, seconds=1)):
        response = stranger.get(viewer(shared))
        assert response.status_code == 410
        page = html.unescape(response.content.decode())
        assert "Ce lien de partage n'est plus valable" in page
        assert "Alice" not in page and "IRM" not in page
        _private(response)
        assert stranger.get(reverse("sharing:synthesis", args=[shared])).status_code == 410


def test_an_unknown_link_gets_the_very_same_page(stranger, shared):
    with clock.travel(timedelta(days=2)):
        expired = stranger.get(viewer(shared))
    forged = stranger.get(viewer(shared[:-1] + ("A" if shared[-1] != "A" else "B")))
    assert forged.status_code == expired.status_code == 410
    assert forged.content == expired.content


def test_too_many_bad_links_from_one_client_pause_it(db, stranger, settings):
    settings.CARNET = {**settings.CARNET, "SHARE_BAD_LINKS_PER_CLIENT": 3}
    bad = viewer("x" * 43)
    statuses = [stranger.get(bad).status_code for _ in range(4)]
    assert statuses == [410, 410, 410, 429]
    assert "réessayez dans 60 minutes" in stranger.get(bad).content.decode()


def test_revocation_is_effective_at_once(alice_client, stranger, shared, docs):
    share = Share.objects.get()
    confirm = alice_client.get(reverse("sharing:revoke", args=[share.public_id]))
    assert "Révoquer ce lien de partage ?" in html.unescape(confirm.content.decode())
    assert Share.objects.get().revoked_at is None  # the GET only asks
    response = alice_client.post(reverse("sharing:revoke", args=[share.public_id]))
    assert response.status_code == 302
    assert stranger.get(viewer(shared)).status_code == 410
    assert stranger.get(file_url(shared, docs["irm"])).status_code == 410
    share.refresh_from_db()
    assert share.revoked_at is not None
    assert Event.objects.filter(action="partage_revoque", object_id=str(share.public_id)).exists()
    listing = html.unescape(alice_client.get(reverse("sharing:index")).content.decode())
    assert "Liens révoqués (1)" in listing and "Liens actifs (0)" in listing


def test_the_owners_list_has_active_expired_and_revoked(alice_client, docs):
    create(alice_client, label="Actif", documents=[docs["irm"]], validity="7j")
    create(alice_client, label="Court", documents=[docs["irm"]], validity="1h")
    with clock.travel(timedelta(hours=2)):
        page = html.unescape(alice_client.get(reverse("sharing:index")).content.decode())
    assert "Liens actifs (1)" in page and "Liens expirés (1)" in page
    assert "Liens révoqués (0)" in page


def test_a_deleted_document_is_no_longer_shown(alice, stranger, shared, docs):
    document_delete(user=alice, doc=docs["photo"])
    page = html.unescape(stranger.get(viewer(shared)).content.decode())
    assert "Photo eczéma" not in page and "Compte rendu IRM" in page
    assert stranger.get(file_url(shared, docs["photo"])).status_code == 404


# --- Passcode -----------------------------------------------------------------------------


@pytest.fixture
def protected(alice_client, docs):
    _, token = create(alice_client, documents=[docs["irm"]], passcode="soleil-42")
    return token


def test_the_passcode_is_asked_before_anything_is_shown(stranger, protected, docs):
    response = stranger.get(viewer(protected))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Code d'accès" in page and "Compte rendu IRM" not in page and "Alice" not in page
    assert response["X-Robots-Tag"] == NOINDEX and "no-store" in response["Cache-Control"]
    # Its form must send its origin (CSRF): the project's "same-origin", never cross-site.
    assert response["Referrer-Policy"] == "same-origin"
    # The files wait for the code too.
    assert stranger.get(file_url(protected, docs["irm"])).status_code == 302
    assert not Event.objects.filter(action="partage_ouverture").exists()


def test_a_wrong_passcode_is_refused_next_to_its_field(stranger, protected):
    response = stranger.post(viewer(protected), {"passcode": "lune-42"})
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "Ce code d'accès est incorrect." in page
    assert 'id="id_passcode-erreur"' in page and 'aria-invalid="true"' in page
    assert Event.objects.filter(action="partage_code_refuse").count() == 1


def test_the_right_passcode_opens_the_share_for_this_browser_only(
    stranger, client, protected, docs
):
    response = stranger.post(viewer(protected), {"passcode": "soleil-42"})
    assert response.status_code == 302
    assert "Compte rendu IRM" in stranger.get(viewer(protected)).content.decode()
    assert stranger.get(file_url(protected, docs["irm"], download=True)).status_code == 200
    assert "Compte rendu IRM" not in client.get(viewer(protected)).content.decode()


def test_too_many_wrong_passcodes_lock_the_link(stranger, client, protected, settings):
    limit = settings.CARNET["SHARE_PASSCODE_MAX_FAILURES"]
    for _ in range(limit):
        stranger.post(viewer(protected), {"passcode": "mauvais"})
    locked = stranger.post(viewer(protected), {"passcode": "soleil-42"})  # even the right one
    assert locked.status_code == 429
    assert "Ce lien est verrouillé" in html.unescape(locked.content.decode())
    assert client.get(viewer(protected)).status_code == 429  # for everyone
    assert Event.objects.filter(action="partage_verrouille").count() == 1
    with clock.travel(settings.CARNET["SHARE_LOCKOUT"] + timedelta(seconds=1)):
        assert stranger.post(viewer(protected), {"passcode": "soleil-42"}).status_code == 302


def test_the_owners_list_costs_the_same_queries_whatever_the_number_of_links(
    alice_client, docs, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    index = reverse("sharing:index")
    create(alice_client, documents=[docs["irm"]])
    alice_client.get(index)  # the session's "last seen" is written once, not counted below
    with CaptureQueriesContext(connection) as one:
        assert alice_client.get(index).status_code == 200
    expected = len(one.captured_queries)  # now: the log is cleared by the next requests
    for n in range(4):
        create(alice_client, label=f"Lien {n}", documents=[docs["irm"], docs["bilan"]])
    alice_client.get(index)
    with django_assert_num_queries(expected):
        page = alice_client.get(index).content.decode()
    assert "Liens actifs (5)" in page


def test_a_logged_in_visitor_who_unlocks_a_share_can_still_end_that_session(
    stranger, protected, bob
):
    """Unlocking gives the session a new id: its line of "Mes appareils et sessions" follows,
    so that ending it there (or a password change) still ends this session."""
    from carnet.accounts.models import SessionRecord
    from carnet.accounts.services import session_end

    stranger.force_login(bob)
    now = clock.now()
    record = SessionRecord.objects.create(
        user=bob, session_key=stranger.session.session_key, created_at=now, last_seen_at=now
    )
    assert stranger.get("/documents/").status_code == 200
    assert stranger.post(viewer(protected), {"passcode": "soleil-42"}).status_code == 302
    record.refresh_from_db()
    assert record.session_key == stranger.session.session_key  # the new id
    assert session_end(user=bob, public_id=record.public_id)
    response = stranger.get("/documents/")
    assert response.status_code == 302 and response["Location"].startswith("/connexion/")


def test_an_unlocked_share_stays_open_while_it_is_read(stranger, protected):
    """The visitor's session is renewed by activity (at most once a minute), as a logged-in
    one: reading the share for more than the idle timeout does not lock it again."""
    assert stranger.post(viewer(protected), {"passcode": "soleil-42"}).status_code == 302
    stranger.get(viewer(protected))
    with clock.travel(timedelta(minutes=2)):
        response = stranger.get(viewer(protected))
        assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 30 * 60
        assert "Compte rendu IRM" in response.content.decode()


def test_a_visitor_without_a_session_gets_none(stranger, protected):
    response = stranger.get(viewer(protected))
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
