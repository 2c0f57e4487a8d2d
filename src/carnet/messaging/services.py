"""Use cases of the secure messaging, each in one transaction with its audit event.

The rules (issue "Secure health messaging"):
- only a professional starts a conversation, and only when consent allows it (`decide` with
  DOCUMENT_ADD: the right to feed the record — a blocked professional, or one without any
  basis, is refused; a closed space receives nothing);
- the person replies; they start a new conversation only with a professional who already wrote
  to them and did not close the exchange; never with another person or any address;
- a professional closes a conversation, or sends a message that cannot be answered.
Bodies and attachments are encrypted under the space's data key (`core.blobs`).
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from carnet.audit.services import Entry as AuditEntry
from carnet.audit.services import events_record
from carnet.core import blobs, clock
from carnet.core.models import Blob
from carnet.enrollment.models import Space

from .models import SUBJECT_MAX, Attachment, Conversation, Message

BODY_MAX = 20_000  # characters of a message's text
WELCOME_SUBJECT = "Bienvenue dans votre messagerie"
WELCOME_BODY = (
    "Bonjour,\n\n"
    "Bienvenue dans votre messagerie de santé. Vos professionnels de santé peuvent vous y écrire "
    "en toute sécurité, et vous pouvez leur répondre. Seuls des professionnels de santé peuvent "
    "vous écrire ici.\n\n"
    "Communiquez-leur votre adresse de messagerie : {address}\n\n"
    "L'équipe Carnet"
)


class MessagingError(ValueError):
    """A refusal to show as is (French)."""


class Refused(MessagingError):
    """The rules do not allow this exchange (the reason stays in the server)."""


@dataclass(frozen=True)
class OutgoingFile:
    """An attachment already checked by `documents.files.file_check` (type sniffed, size)."""

    filename: str
    data: bytes
    media_type: str
    extension: str


@dataclass(frozen=True)
class RefusedFile:
    """An attachment dropped by the checks: listed to the person with its reason."""

    filename: str
    reason: str


def patient_address(space) -> str:
    """ "<INS>@<CARNET_PATIENT_MAIL_DOMAIN>": the INS is the 15-character NIR."""
    return f"{space.person.nir}@{settings.CARNET_PATIENT_MAIL_DOMAIN}"


def _audit(actor: str, space, action: str, obj=None, *, client: str = "", **detail) -> None:
    events_record(
        [
            AuditEntry(
                actor=actor,
                action=action,
                space_id=space.public_id,
                object_type=obj.__class__.__name__.lower() if obj is not None else "",
                object_id=str(obj.public_id) if obj is not None else "",
                detail=detail,
                client=client,
            )
        ]
    )


def _clean_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise MessagingError("Indiquez l'objet du message.")
    if len(subject) > SUBJECT_MAX:
        raise MessagingError(f"L'objet ne doit pas dépasser {SUBJECT_MAX} caractères.")
    return subject


def _clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise MessagingError("Écrivez votre message.")
    if len(body) > BODY_MAX:
        raise MessagingError(f"Le message ne doit pas dépasser {BODY_MAX} caractères.")
    return body


def _check_files(files) -> None:
    limits = settings.CARNET
    if len(files) > limits["MESSAGE_MAX_FILES"]:
        raise MessagingError(
            f"Un message compte au plus {limits['MESSAGE_MAX_FILES']} pièces jointes."
        )
    if sum(len(f.data) for f in files) > limits["MESSAGE_MAX_BYTES"]:
        raise MessagingError(
            "Les pièces jointes d'un message ne doivent pas dépasser "
            f"{limits['MESSAGE_MAX_BYTES'] // (1024 * 1024)} Mo en tout."
        )


@dataclass
class Sealed:
    """A message's body and files, encrypted under the space's key and durable on the store;
    their rows are inserted by `_write`, in the transaction of the message."""

    body: Blob
    files: list[tuple[OutgoingFile, Blob]]


def message_seal(space, body: str, files=()) -> Sealed:
    """Before the transaction: the files' writes and syncs stay out of it (SQLite holds its
    one write lock for the whole transaction). A transaction that then fails leaves orphans,
    which the sweep removes (DESIGN invariant 5). `body` as the services clean it."""
    from carnet.enrollment.services import space_data_key

    key = space_data_key(space)
    return Sealed(
        body=blobs.blob_seal(data_key=key, plaintext=body.encode()),
        files=[(f, blobs.blob_seal(data_key=key, plaintext=f.data)) for f in files],
    )


def _message_id(now) -> str:
    """Our Message-ID of a message written here (a professional's mail keeps its own): random,
    and short enough that the header fits on one line (78 characters)."""
    domain = settings.CARNET_PATIENT_MAIL_DOMAIN
    return f"<{secrets.token_urlsafe(12)}.{int(now.timestamp())}@{domain}>"


def _new_conversation(
    *, space, professional, subject: str, message_id: str, read_by_person: bool = False
):
    """The conversation row, its thread id (its first message's id) set at once."""
    now = clock.now()
    message_id = message_id or _message_id(now)
    conversation = Conversation.objects.create(
        space=space,
        professional=professional,
        subject=subject,
        created_at=now,
        last_message_at=now,
        thread_id=message_id,
        read_until=now if read_by_person else None,
    )
    return conversation, message_id, now


def _write(
    conversation: Conversation,
    *,
    sealed: Sealed,
    author_kind: str,
    author,
    author_name: str,
    channel: str,
    refused=(),
    no_reply: bool = False,
    message_id: str = "",
    in_reply_to: str = "",
    now=None,
) -> Message:
    """The message's rows, pointing to its sealed body and attachments (in the caller's
    transaction: the files are durable before the rows commit, DESIGN invariant 5). `now`: the
    time of a conversation just created with it."""
    now = now or clock.now()
    Blob.objects.bulk_create([sealed.body, *(blob for _, blob in sealed.files)])
    message = Message.objects.create(
        conversation=conversation,
        author_kind=author_kind,
        author=author,
        author_name=author_name,
        channel=channel,
        body=sealed.body,
        no_reply=no_reply,
        sent_at=now,
        message_id=message_id or _message_id(now),
        in_reply_to=in_reply_to,
    )
    Attachment.objects.bulk_create(
        [
            Attachment(
                message=message,
                blob=blob,
                filename=f.filename[:255],
                media_type=f.media_type,
                extension=f.extension,
                size=len(f.data),
            )
            for f, blob in sealed.files
        ]
        + [
            Attachment(message=message, filename=r.filename[:255], refused_reason=r.reason[:300])
            for r in refused
        ]
    )
    if conversation.last_message_at != now:
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now)
        conversation.last_message_at = now
    return message


NOTICE_FIELDS = ("public_id", "kind", "email", "email_verified", "mobile", "mobile_verified")
NOTICE_FIELDS += ("preferences__new_message_email", "preferences__new_message_sms")


def _owner(space):
    from carnet.accounts.models import User

    # One active account per person: no ordering needed. Only what a notice reads (what else
    # a caller reads is loaded when read).
    found = (
        User.objects.select_related("preferences")
        .filter(person_id=space.person_id, is_active=True)
        .only(*NOTICE_FIELDS)[:1]
    )
    return next(iter(found), None)


def _notify_person(space) -> None:
    """ "Vous avez reçu un nouveau message dans votre messagerie de santé": never the sender,
    the subject or the content (DESIGN invariant 7), by the "Nouveau message" preferences."""
    from carnet.accounts.services import notify_preferred
    from carnet.family.selectors import linked_accounts

    owner = _owner(space)
    told = [owner] if owner is not None else []
    # The accounts linked to the space (a child's representatives, a caregiver) are told too.
    told += [user for user in linked_accounts(space) if user not in told]
    for user in told:
        notify_preferred(
            user,
            "nouveau_message",
            topic="new_message",
            kind="nouveau_message",
            url=settings.SERVICE_URL,
            sms_text="Carnet : vous avez reçu un nouveau message dans votre messagerie de santé.",
        )


def relay_undelivered_notify(message: Message) -> None:
    """The person's reply could not be delivered to the professional: they are told (by email,
    else SMS), never to whom or what; the thread shows it too. Audited."""
    from carnet.accounts.services import notify

    space = message.conversation.space
    _audit("systeme:relais", space, "message_non_remis", message.conversation)
    owner = _owner(space)
    if owner is not None:
        notify(
            owner,
            "message_non_remis",
            kind="message_non_remis",
            url=settings.SERVICE_URL,
            sms_text=(
                "Carnet : un message que vous avez envoyé n'a pas pu être remis. "
                "Connectez-vous à votre messagerie de santé."
            ),
        )


def professional_name(professional) -> str:
    return f"{professional.first_name} {professional.last_name}".strip()


# --- Professionals -------------------------------------------------------------------------


def _professional_allowed(user, professional, space, *, client: str) -> str:
    """Consent decides (the right to feed the record); a refusal is `Refused`. Returns the
    reason it allowed, written in the caller's "message_recu" event: not the access event of a
    document added, which the patient's history would name « Ajout d'un document »."""
    from carnet.consent.models import Action
    from carnet.consent.rules import professional_facts
    from carnet.consent.services import Denied, access

    if space.state != Space.State.ACTIVE:
        raise Refused("espace_inactif")
    try:
        decision = access(
            user,
            space,
            Action.DOCUMENT_ADD,
            facts=professional_facts(space, professional),
            client=client,
            record=False,
        )
    except Denied as exc:
        raise Refused(exc.decision.reason) from exc
    return decision.reason


def conversation_start(
    *,
    user,
    professional,
    space,
    subject: str,
    body: str,
    files=(),
    refused=(),
    no_reply: bool = False,
    channel: str = Message.Channel.PORTAL,
    message_id: str = "",
    client: str = "",
    sealed: Sealed | None = None,
) -> Conversation:
    """A professional writes to a patient: a new conversation. `sealed`: the body and files
    already sealed (`message_seal`) by a caller whose transaction is already open."""
    subject, body = _clean_subject(subject), _clean_body(body)
    _check_files(files)
    motif = _professional_allowed(user, professional, space, client=client)
    sealed = sealed or message_seal(space, body, files)
    # No savepoint: a failure rolls back the caller's transaction too (mail_deliver's).
    with transaction.atomic(savepoint=False):
        conversation, message_id, now = _new_conversation(
            space=space, professional=professional, subject=subject, message_id=message_id
        )
        _write(
            conversation,
            now=now,
            sealed=sealed,
            author_kind=Message.AuthorKind.PROFESSIONAL,
            author=user,
            author_name=professional_name(professional),
            channel=channel,
            refused=refused,
            no_reply=no_reply,
            message_id=message_id,
        )
        _audit(
            user.actor,
            space,
            "message_recu",
            conversation,
            client=client,
            canal=channel,
            motif=motif,
        )
        _notify_person(space)
    return conversation


def professional_reply(
    *,
    user,
    professional,
    conversation: Conversation,
    body: str,
    files=(),
    refused=(),
    no_reply: bool = False,
    channel: str = Message.Channel.PORTAL,
    message_id: str = "",
    in_reply_to: str = "",
    client: str = "",
    sealed: Sealed | None = None,
) -> Message:
    """A professional writes again in their conversation (closed ones included: a professional
    may still inform; the person cannot answer a closed one). `sealed`: as conversation_start."""
    if conversation.professional_id != professional.pk:
        raise Refused("pas_sa_conversation")
    body = _clean_body(body)
    _check_files(files)
    space = conversation.space
    motif = _professional_allowed(user, professional, space, client=client)
    sealed = sealed or message_seal(space, body, files)
    with transaction.atomic(savepoint=False):  # as conversation_start
        message = _write(
            conversation,
            sealed=sealed,
            author_kind=Message.AuthorKind.PROFESSIONAL,
            author=user,
            author_name=professional_name(professional),
            channel=channel,
            refused=refused,
            no_reply=no_reply,
            message_id=message_id,
            in_reply_to=in_reply_to,
        )
        _audit(
            user.actor,
            space,
            "message_recu",
            conversation,
            client=client,
            canal=channel,
            motif=motif,
        )
        _notify_person(space)
    return message


def conversation_close(*, user, professional, conversation: Conversation, client: str = ""):
    """ "Clore l'échange": the person can no longer reply; shown in the thread."""
    if conversation.professional_id != professional.pk:
        raise Refused("pas_sa_conversation")
    with transaction.atomic():
        closed = Conversation.objects.filter(pk=conversation.pk, closed_at__isnull=True).update(
            closed_at=clock.now()
        )
        if closed:
            _audit(
                user.actor, conversation.space, "conversation_close", conversation, client=client
            )


# --- The person ----------------------------------------------------------------------------


def _replyable(conversation: Conversation) -> None:
    if conversation.professional_id is None:
        raise Refused("Ce message du service Carnet n'appelle pas de réponse.")
    if conversation.closed_at is not None:
        raise Refused("Le professionnel a clos cet échange : vous ne pouvez plus y répondre.")
    last = (
        Message.objects.filter(conversation=conversation, author_kind="professionnel")
        .order_by("-sent_at", "-id")
        .first()
    )
    if last is not None and last.no_reply:
        raise Refused("Ce message ne permet pas de réponse.")


def person_reply(
    *, user, conversation: Conversation, body: str, files=(), client: str = ""
) -> Message:
    """The person answers a professional; the answer is relayed by SMTP (the worker)."""
    space = conversation.space
    if space.state != Space.State.ACTIVE or conversation.deleted_at is not None:
        raise Refused("Cet échange n'est plus disponible.")
    _replyable(conversation)
    body = _clean_body(body)
    _check_files(files)
    sealed = message_seal(space, body, files)
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        _replyable(locked)  # closed meanwhile?
        last = Message.objects.filter(conversation=conversation).order_by("-sent_at", "-id").first()
        message = _write(
            conversation,
            sealed=sealed,
            author_kind=Message.AuthorKind.PERSON,
            author=user,
            author_name="",
            channel=Message.Channel.WEB,
            in_reply_to=last.message_id if last else "",
        )
        Conversation.objects.filter(pk=conversation.pk).update(read_until=message.sent_at)
        _audit(user.actor, space, "message_envoye", conversation, client=client)
    return message


def correspondents(space):
    """The professionals the person may start a new conversation with: who wrote to them in a
    conversation not closed (and not the service's own)."""
    from carnet.professionals.models import Professional

    # Only the conversations the professional wrote in: one the person started does not make a
    # correspondent (else it would outlive the professional closing their own).
    open_ids = (
        Message.objects.filter(
            conversation__space=space,
            conversation__professional__isnull=False,
            conversation__closed_at__isnull=True,
            author_kind=Message.AuthorKind.PROFESSIONAL,
        )
        .values_list("conversation__professional_id", flat=True)
        .distinct()
    )
    return Professional.objects.filter(pk__in=list(open_ids)).order_by("last_name", "first_name")


def person_start(
    *, user, space, professional, subject: str, body: str, files=(), client: str = ""
) -> Conversation:
    """A new conversation by the person: only with a professional of `correspondents`."""
    if space.state != Space.State.ACTIVE:
        raise Refused("Votre espace n'est pas actif.")
    if professional is None or not correspondents(space).filter(pk=professional.pk).exists():
        raise Refused(
            "Vous pouvez écrire seulement à un professionnel de santé qui vous a déjà écrit."
        )
    subject, body = _clean_subject(subject), _clean_body(body)
    _check_files(files)
    sealed = message_seal(space, body, files)
    with transaction.atomic():
        conversation, message_id, now = _new_conversation(
            space=space,
            professional=professional,
            subject=subject,
            message_id="",
            read_by_person=True,
        )
        _write(
            conversation,
            now=now,
            sealed=sealed,
            author_kind=Message.AuthorKind.PERSON,
            author=user,
            author_name="",
            channel=Message.Channel.WEB,
            message_id=message_id,
        )
        _audit(user.actor, space, "message_envoye", conversation, client=client)
    return conversation


def conversation_read_by_professional(*, user, conversation: Conversation, client: str = ""):
    """A professional opens their thread with the patient (the patient's replies): audited."""
    _audit(
        user.actor,
        conversation.space,
        "conversation_lue_professionnel",
        conversation,
        client=client,
    )


def conversation_read(*, user, conversation: Conversation) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(read_until=clock.now())


def conversation_archive(*, user, conversation: Conversation, archived: bool, client: str = ""):
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(
            archived_at=clock.now() if archived else None
        )
        _audit(
            user.actor,
            conversation.space,
            "conversation_archivee" if archived else "conversation_desarchivee",
            conversation,
            client=client,
        )


def conversation_delete(*, user, conversation: Conversation, client: str = ""):
    """Soft: hidden at once, purged after the retention (as documents)."""
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk, deleted_at__isnull=True).update(
            deleted_at=clock.now()
        )
        _audit(
            user.actor, conversation.space, "conversation_supprimee", conversation, client=client
        )


# --- The service's own messages ------------------------------------------------------------


SERVICE_TEMPLATES = {"bienvenue": WELCOME_BODY}


def welcome_send(space_ids) -> int:
    """ "Bienvenue dans votre messagerie", once per space, on activation (`space_activated`):
    two rows per space, in bulk (automatic creation activates thousands at a time)."""
    from carnet.enrollment.models import Space as SpaceModel

    now = clock.now()
    done = set(
        Conversation.objects.filter(space_id__in=space_ids, professional__isnull=True).values_list(
            "space_id", flat=True
        )
    )
    todo = [pk for pk in SpaceModel.objects.filter(pk__in=space_ids).values_list("pk", flat=True)]
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(
                space_id=pk,
                subject=WELCOME_SUBJECT,
                created_at=now,
                last_message_at=now,
                thread_id=f"<bienvenue.{pk}@{settings.CARNET_PATIENT_MAIL_DOMAIN}>",
            )
            for pk in todo
            if pk not in done
        ]
    )
    if conversations and conversations[0].pk is None:  # a backend that returns no ids
        conversations = list(
            Conversation.objects.filter(
                space_id__in=[c.space_id for c in conversations], professional__isnull=True
            )
        )
    Message.objects.bulk_create(
        [
            Message(
                conversation=c,
                author_kind=Message.AuthorKind.SERVICE,
                author_name="Carnet",
                channel=Message.Channel.WEB,
                service_template="bienvenue",
                no_reply=True,
                sent_at=now,
                message_id=c.thread_id,
            )
            for c in conversations
        ]
    )
    return len(conversations)


def message_text(message: Message) -> str:
    """The decrypted body, or the service's template filled for this space."""
    if message.body_id is None:
        space = message.conversation.space
        return SERVICE_TEMPLATES[message.service_template].format(address=patient_address(space))
    return blobs.blob_read(message.body).decode()


def _conversations_erase(conversations) -> tuple[int, list[str]]:
    """The rows of these conversations (messages, attachments, draft) go; returns how many,
    and the keys of their blobs, for the caller to delete or leave to the space's purge."""
    from .models import Draft

    messages = Message.objects.filter(conversation__in=conversations)
    drafts = Draft.objects.filter(conversation__in=conversations)
    attachments = Attachment.objects.filter(message__in=messages)
    keys = [
        *attachments.exclude(blob=None).values_list("blob_id", flat=True),
        *messages.exclude(body=None).values_list("body_id", flat=True),
        *drafts.values_list("body_id", flat=True),
    ]
    erased = attachments.delete()[0]
    erased += drafts.delete()[0]
    erased += messages.delete()[0]
    erased += conversations.delete()[0]
    return erased, keys


def space_messages_erase(*, space, **_) -> int:
    """The space's purge: every conversation and message goes (their blobs with the space)."""
    return _conversations_erase(Conversation.objects.filter(space=space))[0]


def conversations_purge_due(*, batch_size: int = 200) -> int:
    """`carnet tick`: conversations the person deleted more than MESSAGE_RETENTION ago go for
    good — messages, attachments, draft and their files (audited, by the service)."""
    cutoff = clock.now() - settings.CARNET["MESSAGE_RETENTION"]
    purged = 0
    while True:
        with transaction.atomic():
            due = list(
                # of=self: lock the conversations only, never their spaces' rows.
                Conversation.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(deleted_at__lte=cutoff)
                .select_related("space")
                .order_by("deleted_at", "id")[:batch_size]
            )
            if not due:
                return purged
            events_record(
                [
                    AuditEntry(
                        actor="systeme:tick",
                        action="conversation_purge",
                        space_id=c.space.public_id,
                        object_type="conversation",
                        object_id=str(c.public_id),
                    )
                    for c in due
                ]
            )
            _, keys = _conversations_erase(Conversation.objects.filter(pk__in=[c.pk for c in due]))
            blobs.blobs_delete(keys)  # files removed once this commits
            purged += len(due)


# --- The person's inbox: replies' helpers, drafts, attachments ------------------------------


def reply_refusal(conversation: Conversation) -> str:
    """Why the person cannot answer this conversation (French), or "" if they can."""
    try:
        _replyable(conversation)
    except Refused as exc:
        return str(exc)
    return ""


def draft_text(conversation: Conversation) -> str:
    from .models import Draft

    draft = Draft.objects.filter(conversation=conversation).select_related("body").first()
    return blobs.blob_read(draft.body).decode() if draft is not None else ""


def draft_save(*, user, conversation: Conversation, body: str) -> None:
    """Keep the reply being written (encrypted like a message); an empty text drops it."""
    from carnet.enrollment.services import space_data_key

    from .models import Draft

    body = (body or "").replace("\r\n", "\n")[:BODY_MAX]
    with transaction.atomic():
        previous = Draft.objects.filter(conversation=conversation).first()
        if not body.strip():
            if previous is not None:
                previous.delete()
                blobs.blobs_delete([previous.body_id])
            return
        blob = blobs.blob_put(data_key=space_data_key(conversation.space), plaintext=body.encode())
        Draft.objects.update_or_create(
            conversation=conversation, defaults={"body": blob, "updated_at": clock.now()}
        )
        if previous is not None:
            blobs.blobs_delete([previous.body_id])


def draft_delete(*, conversation: Conversation) -> None:
    draft_save(user=None, conversation=conversation, body="")


def document_files(space, public_ids) -> list[OutgoingFile]:
    """The person's own live documents ("Mes documents") as attachments of a reply."""
    from carnet.documents.selectors import live_documents

    files = []
    for doc in live_documents(space).filter(public_id__in=list(public_ids)).select_related("blob"):
        files.append(
            OutgoingFile(
                filename=f"{doc.title}.{doc.extension}",
                data=blobs.blob_read(doc.blob),
                media_type=doc.media_type,
                extension=doc.extension,
            )
        )
    return files


def attachment_content(*, user, attachment: Attachment, download: bool, client: str = "") -> bytes:
    """The decrypted file; every view and download is in the trail."""
    space = attachment.message.conversation.space
    data = blobs.blob_read(attachment.blob)
    action = "piece_jointe_telechargement" if download else "piece_jointe_consultation"
    _audit(user.actor, space, action, attachment, client=client)
    return data


def attachment_to_document(
    *, user, attachment: Attachment, title: str, category: str, document_date, client: str = ""
):
    """ "Enregistrer dans mes documents": the copy becomes a normal document of the space."""
    from carnet.documents.files import CheckedFile
    from carnet.documents.services import document_add

    space = attachment.message.conversation.space
    data = blobs.blob_read(attachment.blob)
    checked = CheckedFile(
        data=data,
        media_type=attachment.media_type,
        extension=attachment.extension,
        suggested_title=title,
    )
    with transaction.atomic():
        doc = document_add(
            user=user,
            space=space,
            checked=checked,
            title=title,
            category=category,
            document_date=document_date,
            client=client,
        )
        _audit(
            user.actor,
            space,
            "piece_jointe_enregistree",
            attachment,
            client=client,
            document=str(doc.public_id),
        )
    return doc
