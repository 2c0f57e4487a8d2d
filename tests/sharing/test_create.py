"""Making a share link (« Partager »): through the real pages and services. The link is shown
once with its QR code, only its keyed hash is stored, and the limits are checked by the form
and again by the service."""

import html
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from carnet.audit.models import Event
from carnet.core import clock, crypto
from carnet.sharing import services
from carnet.sharing.models import Share, SharedDocument

from .conftest import CREATE, create, form, viewer


def test_the_person_shares_documents_and_the_synthesis(alice_client, alice, space, docs):
    response, token = create(alice_client, documents=[docs["irm"], docs["photo"]], synthesis=True)
    assert response.status_code == 200
    page = response.content.decode()
    share = Share.objects.get()
    assert share.label == "Urgences Lyon" and share.include_synthesis
    assert share.space == space and share.created_by == alice and not share.by_representative
    assert set(share.documents.all()) == {docs["irm"], docs["photo"]}
    assert share.expires_at - share.created_at == timedelta(hours=24)
    # The whole link once, in a field one can select, and as an inline QR code (CSP: data:).
    assert f'value="{settings.SERVICE_URL}{viewer(token)}"' in page
    assert "readonly" in page and "data-copy-source" in page
    assert 'src="data:image/svg+xml' in page
    assert len(token) >= 43  # 32 random bytes, 256 bits
    event = Event.objects.get(action="partage_cree")
    assert event.actor == alice.actor and event.object_id == str(share.public_id)
    assert event.detail["documents"] == 2 and event.detail["synthese"] is True
    assert event.client == "127.0.0.1"


def test_the_token_is_stored_nowhere_in_clear(alice_client, docs):
    _, token = create(alice_client, documents=[docs["irm"]], passcode="soleil-42")
    share = Share.objects.get()
    assert share.token_hash == crypto.keyed_hash(token, purpose=services.LINK_PURPOSE)
    assert share.passcode_hash.startswith("argon2") and "soleil-42" not in share.passcode_hash
    # Not in any row of any table: shares, audit, sessions, messages, outbox…
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (our own table names)
            for row in cursor.fetchall():
                text = repr(row)
                assert token not in text, table
                assert "soleil-42" not in text, table
    # The page that showed it once does not show it again.
    detail = alice_client.get(reverse("sharing:detail", args=[share.public_id]))
    assert token not in detail.content.decode()


def test_the_form_offers_the_documents_and_ticks_the_synthesis_from_the_profile(alice_client, docs):
    page = alice_client.get(CREATE, {"synthese": "1"}).content.decode()
    for doc in docs.values():
        assert html.escape(doc.title) in page
    assert 'name="include_synthesis" id="id_include_synthesis" checked' in page
    assert '<option value="24h" selected>24 heures</option>' in page
    # Every field has its label, and its hint is linked to it.
    for name in ("label", "validity", "passcode", "include_synthesis"):
        assert f'for="id_{name}"' in page
    assert 'aria-describedby="id_validity-aide"' in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"validity": "31j"}, "validity", "Un lien de partage est valable 30 jours au plus."),
        ({"validity": "721h"}, "validity", "Un lien de partage est valable 30 jours au plus."),
        ({"validity": "demain"}, "validity", "Choisissez une durée de validité dans la liste."),
        ({"validity": "0h"}, "validity", "Choisissez une durée de validité dans la liste."),
        ({"label": "   "}, "label", "Donnez un nom à ce partage."),
        ({"label": "x" * 61}, "label", "Le nom ne doit pas dépasser 60 caractères."),
        ({"documents": []}, "documents", "Choisissez au moins un document ou votre synthèse"),
        ({"passcode": "abc"}, "passcode", "Le code doit faire de 4 à 32 caractères."),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_changes_nothing(
    alice_client, docs, fields, field, message
):
    values = {"documents": [docs["irm"]], **fields}
    response, token = create(alice_client, **values)
    assert response.status_code == 400 and token is None
    page = response.content.decode()
    assert html.escape(message) in page
    assert f'id="id_{field}-erreur"' in page  # the message is next to its field…
    assert f'href="#id_{field}"' in page  # …and the summary leads there
    assert not Share.objects.exists() and not Event.objects.filter(action="partage_cree")


def test_thirty_days_is_accepted(alice_client, docs):
    _, token = create(alice_client, documents=[docs["irm"]], validity="30j")
    share = Share.objects.get()
    assert token and share.expires_at - share.created_at == timedelta(days=30)


def test_the_service_refuses_a_longer_validity_whatever_the_form(alice, space, docs):
    with pytest.raises(services.ShareError, match="30 jours au plus"):
        services.share_create(
            user=alice,
            space=space,
            label="Trop long",
            document_ids=[docs["irm"].public_id],
            include_synthesis=False,
            validity=timedelta(days=30, seconds=1),
        )
    assert not Share.objects.exists()


def test_at_most_twenty_documents_per_link(alice_client, alice, space, settings):
    from tests.documents.conftest import pdf_bytes

    from .conftest import add

    settings.CARNET = {**settings.CARNET, "SHARE_MAX_DOCUMENTS": 2}
    data = pdf_bytes("x")
    many = [add(alice, space, f"Document {n}", data) for n in range(3)]
    response, token = create(alice_client, documents=many)
    assert token is None
    assert "Choisissez 2 documents au plus." in response.content.decode()
    with pytest.raises(services.ShareError):
        services.share_create(
            user=alice,
            space=space,
            label="x",
            document_ids=[d.public_id for d in many],
            include_synthesis=False,
            validity=timedelta(hours=1),
        )


def test_a_limited_number_of_active_links(alice_client, alice, space, docs, settings):
    settings.CARNET = {**settings.CARNET, "SHARE_MAX_ACTIVE": 2}
    assert create(alice_client, documents=[docs["irm"]])[1]
    assert create(alice_client, documents=[docs["irm"]], validity="1h")[1]
    response, token = create(alice_client, documents=[docs["irm"]])
    assert token is None and response.status_code == 400
    assert "Vous avez déjà 2 liens de partage actifs" in html.unescape(response.content.decode())
    # An expired one no longer counts.
    with clock.travel(timedelta(hours=2)):
        assert create(alice_client, documents=[docs["irm"]])[1]


def test_a_document_of_someone_else_cannot_be_slipped_in(alice, space, bob, docs):
    from carnet.enrollment.selectors import space_for_user
    from tests.documents.conftest import pdf_bytes

    from .conftest import add

    bobs = add(bob, space_for_user(bob), "Bilan de Bob", pdf_bytes("Bob"))
    with pytest.raises(services.ShareError, match="plus disponible"):
        services.share_create(
            user=alice,
            space=space,
            label="x",
            document_ids=[docs["irm"].public_id, bobs.public_id],
            include_synthesis=False,
            validity=timedelta(hours=1),
        )
    assert not SharedDocument.objects.exists()


def test_the_page_refuses_a_document_not_in_the_list(alice_client, bob, docs):
    from carnet.enrollment.selectors import space_for_user
    from tests.documents.conftest import pdf_bytes

    from .conftest import add

    bobs = add(bob, space_for_user(bob), "Bilan de Bob", pdf_bytes("Bob"))
    posted = form(documents=[docs["irm"]])
    posted["documents"] = [str(docs["irm"].public_id), str(bobs.public_id)]
    response = alice_client.post(CREATE, posted)
    assert response.status_code == 400
    assert "Choisissez les documents dans la liste." in response.content.decode()
    assert not Share.objects.exists()
