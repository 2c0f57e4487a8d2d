"""A conversation the person deleted: hidden at once, erased for good by `carnet tick` after
MESSAGE_RETENTION — its messages, attachments, draft and files — with an audit event; the
other conversations are left alone, and a second run finds nothing to do."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command

from carnet.audit.models import Event
from carnet.core import clock
from carnet.core.models import Blob
from carnet.enrollment.selectors import space_for_user
from carnet.messaging import services
from carnet.messaging.models import Attachment, Conversation, Draft, Message
from carnet.tick import run_tick
from tests.consent.conftest import authorise, make_professional
from tests.enrollment.helpers import at

pytestmark = pytest.mark.django_db

RETENTION = settings.CARNET["MESSAGE_RETENTION"]


def pdf(name="bilan.pdf"):
    data = b"%PDF-1.4\nbilan\n%%EOF\n"
    return services.OutgoingFile(
        filename=name, data=data, media_type="application/pdf", extension="pdf"
    )


@pytest.fixture
def exchange(alice):
    """Two conversations of Alice's with a doctor (attachments, a reply, a draft), and one of
    Bob's."""
    space = space_for_user(alice)
    doctor = make_professional("medecin")
    authorise(space, doctor)
    first = services.conversation_start(
        user=doctor.user,
        professional=doctor,
        space=space,
        subject="Résultats",
        body="Vos résultats",
        files=[pdf()],
    )
    services.person_reply(user=alice, conversation=first, body="Merci", files=[pdf("ma.pdf")])
    services.draft_save(user=alice, conversation=first, body="Une question encore")
    second = services.conversation_start(
        user=doctor.user, professional=doctor, space=space, subject="Rappel", body="Vaccin"
    )
    return space, first, second


def _blob_keys(conversation) -> set[str]:
    messages = Message.objects.filter(conversation=conversation)
    return {
        *messages.values_list("body_id", flat=True),
        *Attachment.objects.filter(message__in=messages).values_list("blob_id", flat=True),
        *Draft.objects.filter(conversation=conversation).values_list("body_id", flat=True),
    } - {None}


def _stored_files() -> set[str]:
    return {p.name for p in settings.BLOB_DIR.rglob("*") if p.is_file()}


def test_a_deleted_conversation_is_erased_after_the_retention_only(
    alice, exchange, django_capture_on_commit_callbacks
):
    space, first, second = exchange
    keys = _blob_keys(first)
    assert len(keys) == 5  # two bodies, two attachments, the draft
    services.conversation_delete(user=alice, conversation=first)

    at(clock.now() + RETENTION - timedelta(minutes=1))
    assert services.conversations_purge_due() == 0
    assert Conversation.objects.filter(pk=first.pk).exists()

    at(clock.now() + timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.conversations_purge_due() == 1
    assert not Conversation.objects.filter(pk=first.pk).exists()
    assert not Message.objects.filter(conversation_id=first.pk).exists()
    assert not Draft.objects.filter(conversation_id=first.pk).exists()
    assert not Blob.objects.filter(key__in=keys).exists()
    assert not any(key in name for key in keys for name in _stored_files())
    # The other conversation is untouched, and readable.
    [kept] = Message.objects.filter(conversation=second)
    assert services.message_text(kept) == "Vaccin"
    event = Event.objects.get(action="conversation_purge")
    assert (event.actor, event.object_id) == ("systeme:tick", str(first.public_id))
    assert event.space_id == space.public_id
    # Run again: nothing left to do.
    assert services.conversations_purge_due() == 0


def test_the_tick_runs_the_purge(alice, exchange):
    _, first, _ = exchange
    services.conversation_delete(user=alice, conversation=first)
    at(clock.now() + RETENTION + timedelta(hours=1))
    assert run_tick()["messages_supprimes"] == 1
    assert run_tick()["messages_supprimes"] == 0
    call_command("tick")  # the operator's command runs it too, with nothing left
    assert not Conversation.objects.filter(pk=first.pk).exists()


def test_the_delete_page_states_the_retention(alice, alice_client, exchange):
    _, first, _ = exchange
    page = alice_client.get(f"/messagerie/{first.public_id}/supprimer/").content.decode()
    assert f"après {RETENTION.days} jours" in page
