"""Reads of the person's messaging, always scoped to their own active space (another space's id
is a 404, like a missing one)."""

from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Case, Exists, OuterRef, Q, When
from django.http import Http404

from carnet.documents.selectors import live_documents, search_text
from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user

from .models import Attachment, Conversation, Message

PAGE_SIZE = 20
# The documents offered as attachments of a reply ("Joindre depuis Mes documents").
DOCUMENT_CHOICES_MAX = 50
INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png"}


def messaging_space(user) -> Space:
    """The space whose messaging `user` reads: their own, active."""
    space = space_for_user(user)
    if space is None or space.state != Space.State.ACTIVE:
        raise Http404
    return space


@dataclass(frozen=True)
class ListQuery:
    search: str = ""
    archived: bool = False
    page: str | int = 1

    @classmethod
    def from_params(cls, params) -> "ListQuery":
        return cls(
            search=search_text(params.get("q", "")),
            archived=params.get("archives") == "1",
            page=params.get("page", 1),
        )


def _from_other(conversation_ref="pk"):
    return Message.objects.filter(conversation=OuterRef(conversation_ref)).exclude(
        author_kind=Message.AuthorKind.PERSON
    )


def conversations_page(space: Space, query: ListQuery) -> Page:
    rows = Conversation.objects.filter(space=space, deleted_at__isnull=True)
    rows = rows.filter(archived_at__isnull=not query.archived)
    if query.search:
        words = query.search
        rows = rows.filter(
            Q(subject__icontains=words)
            | Q(professional__last_name__icontains=words)
            | Q(professional__first_name__icontains=words)
            | Q(professional__establishment__icontains=words)
        )
    rows = rows.annotate(
        unread=Case(
            When(read_until__isnull=True, then=Exists(_from_other())),
            default=Exists(_from_other().filter(sent_at__gt=OuterRef("read_until"))),
        ),
        has_attachments=Exists(
            Attachment.objects.filter(message__conversation=OuterRef("pk"), blob__isnull=False)
        ),
    ).select_related("professional")
    rows = rows.order_by("-last_message_at", "-id")
    return Paginator(rows, PAGE_SIZE).get_page(query.page)


def conversation_of_space(space: Space, public_id) -> Conversation:
    found = (
        Conversation.objects.filter(space=space, deleted_at__isnull=True, public_id=public_id)
        .select_related("professional", "space__person")
        .first()
    )
    if found is None:
        raise Http404
    return found


def conversations_all(space: Space):
    """Every live conversation of the space, archived ones too, oldest first (the export of
    « Télécharger mes données »)."""
    return (
        Conversation.objects.filter(space=space, deleted_at__isnull=True)
        .select_related("professional", "space__person")
        .order_by("created_at", "id")
    )


def thread(conversation: Conversation) -> list[Message]:
    """The messages in order, their attachments fetched (bodies decrypted by the view's
    service call)."""
    messages = list(
        Message.objects.filter(conversation=conversation)
        .select_related("body")
        .prefetch_related("attachments")
        .order_by("sent_at", "id")
    )
    for message in messages:
        message.conversation = conversation  # no query per message for the space
    return messages


def attachment_of_space(space: Space, public_id) -> Attachment:
    """A stored attachment of a live conversation of the space."""
    found = (
        Attachment.objects.filter(
            public_id=public_id,
            blob__isnull=False,
            message__conversation__space=space,
            message__conversation__deleted_at__isnull=True,
        )
        .select_related("blob", "message__conversation__space")
        .first()
    )
    if found is None:
        raise Http404
    return found


def document_choices(space: Space) -> list[tuple[str, str]]:
    """The person's newest documents, to attach to a reply."""
    rows = live_documents(space).order_by("-created_at", "-id")[:DOCUMENT_CHOICES_MAX]
    return [(str(d.public_id), f"{d.title} ({d.extension.upper()})") for d in rows]


def limits() -> dict:
    return {
        "max_files": settings.CARNET["MESSAGE_MAX_FILES"],
        "max_bytes": settings.CARNET["MESSAGE_MAX_BYTES"],
        "file_max_bytes": settings.CARNET["DOCUMENT_MAX_BYTES"],
    }


def attachment_as_file(attachment):
    """What `documents.responses.file_response` needs: a name without its extension, the
    extension, the type."""
    from types import SimpleNamespace

    name = attachment.filename
    suffix = f".{attachment.extension}"
    title = name[: -len(suffix)] if name.lower().endswith(suffix.lower()) else name
    return SimpleNamespace(
        title=title, extension=attachment.extension, media_type=attachment.media_type
    )
