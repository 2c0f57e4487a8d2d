"""Use cases of the SMTP gateway (`carnet smtpd`, docs/adr/0016-smtp-gateway.md).

- `credential_create`: a professional's gateway password, returned in clear once, kept only
  as a keyed hash (DESIGN invariant 4). The login is the professional's RPPS (unique and
  stable; a messaging address may change or be shared by a practice).
- `credential_check`: the AUTH of the gateway.
- `recipient_space` / `recipient_check`: RCPT TO, an active patient address the professional
  may write to.
- `mail_deliver`: a MIME mail becomes a message (a reply in its thread, or a new
  conversation), attachments checked like uploads, HTML reduced to text, in one transaction.
- `replies_relay`: the sweep that sends the patients' replies to the professionals' messaging
  addresses (Django's email backend: the outbox carries no attachments and keeps its body in
  clear until delivered, which a health message must never be).
"""

import logging
import re
import smtplib
from dataclasses import dataclass, field
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q

from carnet.core import blobs, clock, crypto
from carnet.enrollment.models import Space

from . import mime
from .models import SUBJECT_MAX, Conversation, Message, MessagingCredential
from .services import (
    BODY_MAX,
    MessagingError,
    OutgoingFile,
    Refused,
    RefusedFile,
    conversation_start,
    message_seal,
    patient_address,
    professional_reply,
)

log = logging.getLogger(__name__)

CREDENTIAL_PURPOSE = "smtp-gateway"
CREDENTIAL_LENGTH = 32  # characters of [0-9A-Za-z]: about 190 bits
REFERENCES_MAX = 20  # message ids in a relayed reply's References


class DeliveryRefused(MessagingError):
    """A recipient, or the mail, refused; the text is for the sender (French), `status` the
    enhanced status code of the SMTP answer."""

    def __init__(self, message: str, *, status: str = "5.7.1"):
        super().__init__(message)
        self.status = status


# --- Credentials ---------------------------------------------------------------------------


def credential_create(professional) -> str:
    """A new gateway password for this professional (an earlier one stops working): the clear
    secret is returned once, to be shown once; only its keyed hash is stored."""
    if professional.user_id is None or not professional.user.is_active:
        raise MessagingError("Ce professionnel n'a pas de compte actif.")
    if not professional.messaging_address:
        raise MessagingError("Ce professionnel n'a pas d'adresse de messagerie sécurisée.")
    secret = crypto.random_code(CREDENTIAL_LENGTH)
    MessagingCredential.objects.update_or_create(
        professional=professional,
        defaults={
            "secret_hash": crypto.keyed_hash(secret, purpose=CREDENTIAL_PURPOSE),
            "created_at": clock.now(),
            "last_used_at": None,
        },
    )
    log.info("smtp credential created for professional %s", professional.public_id)
    return secret


def credential_check(login: str, secret: str):
    """The professional whose RPPS is `login` and credential `secret`, or None. The keyed hash
    is computed whatever the login, and compared in constant time."""
    from carnet.professionals.models import Professional

    offered = crypto.keyed_hash(secret, purpose=CREDENTIAL_PURPOSE)
    credential = (
        MessagingCredential.objects.select_related("professional__user")
        .filter(professional__rpps=login.strip())
        .first()
    )
    stored = credential.secret_hash if credential is not None else "0" * 64
    if not crypto.hashes_equal(offered, stored) or credential is None:
        return None
    professional: Professional = credential.professional
    user = professional.user
    if user is None or not user.is_active or user.kind != "professionnel":
        return None
    MessagingCredential.objects.filter(pk=credential.pk).update(last_used_at=clock.now())
    return professional


def sender_allowed(professional, address: str) -> bool:
    """MAIL FROM: the professional's own registered messaging address, nothing else."""
    registered = (professional.messaging_address or "").strip().lower()
    return bool(registered) and address.strip().lower() == registered


# --- Recipients ----------------------------------------------------------------------------


def recipient_space(address: str):
    """The space behind `<INS>@<CARNET_PATIENT_MAIL_DOMAIN>`, or None (unknown address)."""
    local, _, domain = address.strip().rpartition("@")
    if domain.lower() != settings.CARNET_PATIENT_MAIL_DOMAIN.lower():
        return None
    if not re.fullmatch(r"[0-9]{5}[0-9AB]{2}[0-9]{8}", local.upper()):
        return None
    # What a delivery reads of the space: its state, ids and data key (not the person).
    found = (
        Space.objects.select_related("data_key")
        .only("public_id", "state", "person_id", "data_key")
        .filter(person__nir=local.upper())[:1]
    )
    return next(iter(found), None)


def _active_recipient(address: str, space=None):
    """The active space behind the address (`space`: as RCPT found it, its state read again),
    or DeliveryRefused."""
    if space is None:
        space = recipient_space(address)
    else:
        states = Space.objects.filter(pk=space.pk).values_list("state", flat=True)[:1]
        space.state = next(iter(states), None)
    if space is not None and space.state == Space.State.CLOSED:
        raise DeliveryRefused("Cet espace santé est fermé : il ne reçoit plus de messages.")
    if space is None or space.state != Space.State.ACTIVE:
        raise DeliveryRefused("Destinataire inconnu.", status="5.1.1")
    return space


def recipient_check(professional, address: str):
    """RCPT TO: the space, or DeliveryRefused with the reason for the sender. The decision is
    consent's (pure here: the audited one is made when the message is written)."""
    from carnet.consent.models import Action
    from carnet.consent.rules import decide, professional_facts

    space = _active_recipient(address)
    decision = decide(
        professional.user,
        space,
        Action.DOCUMENT_ADD,
        facts=professional_facts(space, professional),
    )
    if not decision.allowed:
        raise DeliveryRefused("Vous ne pouvez pas écrire à ce patient dans son espace santé.")
    return space


# --- From MIME to a message ----------------------------------------------------------------


@dataclass
class Parsed:
    subject: str
    body: str
    message_id: str
    references: list[str]
    files: list[OutgoingFile] = field(default_factory=list)
    refused: list[RefusedFile] = field(default_factory=list)


def _read_in_child(content: bytes, *, check: bool, session=None):
    """The mail read in a child of the checker (see `mime`), the session's if one is given
    (`checker.CheckerSession`): a Reading, or None if the child was stopped by its bounds (or
    crashed)."""
    from carnet.documents import checker

    limits = settings.CARNET
    header = {
        "job": "mail",
        "check": check,
        "cpu": limits["FILE_CHECK_CPU_SECONDS"],
        "memory": limits["FILE_CHECK_MEMORY_BYTES"],
        "timeout": limits["FILE_CHECK_TIMEOUT_SECONDS"],
        "subject_max": SUBJECT_MAX,
        "body_max": BODY_MAX,
        "images_apart": session is not None,
        "settings": {key: limits[key] for key in (*checker.CHECK_SETTINGS, *mime.CHECK_SETTINGS)},
    }
    report = (session or checker).check(header, content, limits["FILE_CHECK_TIMEOUT_SECONDS"])
    try:
        return mime.mail_report_read(report)
    except (ValueError, KeyError, TypeError):  # no whole report
        return None


def mail_parse(content: bytes, session=None) -> Parsed:
    """The mail read and its attachments checked in one child of the checker process (see
    `mime`): the child of the sender's `session` (`checker.CheckerSession`) if given, else a
    child of its own. A child stopped by its bounds (a hostile attachment, most likely): the
    mail is read again in a new child without the checks, and each attachment checked in a
    child of its own — the hostile one is refused alone, the others kept. A mail whose mere
    reading is stopped is refused. A session's child leaves images unchecked (see
    `mime.mail_check_job`): each is checked in a child of its own too."""
    from carnet.documents.files import FileRefused, file_check_isolated

    try:
        reading = _read_in_child(content, check=True, session=session)
        if reading is None:
            log.warning("mail check stopped: attachments checked one by one")
            reading = _read_in_child(content, check=False)
            if reading is None:
                raise DeliveryRefused("Ce message est trop complexe pour être lu.", status="5.6.0")
        files, reading.files = reading.files, []
        for name, data, kind, extension in files:
            if kind:  # checked in the mail's child
                reading.files.append((name, data, kind, extension))
                continue
            try:
                checked = file_check_isolated(name, data)
            except FileRefused as exc:
                reading.refused.append((name, str(exc)))
            else:
                reading.files.append((name, data, checked.media_type, checked.extension))
    except mime.MailRefused as exc:
        raise DeliveryRefused(str(exc), status=exc.status) from exc
    return Parsed(
        reading.subject,
        reading.body,
        reading.message_id,
        reading.references,
        [OutgoingFile(name, data, kind, ext) for name, data, kind, ext in reading.files],
        [RefusedFile(name, reason) for name, reason in reading.refused],
    )


def _thread_of(space, professional, references: list[str]):
    """The conversation of this space and professional that one of the ids belongs to (the
    closest first: In-Reply-To, then References from the last)."""
    for ref in references:
        message = (
            Message.objects.select_related("conversation")
            .filter(
                message_id=ref,
                conversation__space=space,
                conversation__professional=professional,
                conversation__deleted_at__isnull=True,
            )
            .first()
        )
        if message is not None:
            return message.conversation
        conversation = Conversation.objects.filter(
            thread_id=ref, space=space, professional=professional, deleted_at__isnull=True
        ).first()
        if conversation is not None:
            return conversation
    return None


def mail_deliver(
    *,
    professional,
    recipients: list[str],
    content: bytes,
    client: str = "",
    spaces: dict | None = None,
    session=None,
):
    """The mail, for each accepted recipient, as a message in one transaction: committed when
    this returns (the gateway answers 250 only then), or nothing written at all. `session`:
    the sender's connection's `checker.CheckerSession` (see `mail_parse`).

    Each recipient's space (`spaces`: as RCPT found them, by address) is read again (closed
    since RCPT?), its thread found and the body and attachments sealed under its key before the
    transaction, which then only decides (consent, audited by the services) and inserts."""
    parsed = mail_parse(content, session)
    user = professional.user
    deliveries = []
    for address in recipients:
        space = _active_recipient(address, (spaces or {}).get(address))
        deliveries.append(
            (
                space,
                _thread_of(space, professional, parsed.references),
                message_seal(space, parsed.body, parsed.files),
            )
        )
    written = []
    with transaction.atomic():
        for space, conversation, sealed in deliveries:
            common = {
                "user": user,
                "professional": professional,
                "body": parsed.body,
                "files": parsed.files,
                "refused": parsed.refused,
                "channel": Message.Channel.SMTP,
                "message_id": parsed.message_id,
                "client": client,
                "sealed": sealed,
            }
            try:
                if conversation is None:
                    written.append(
                        conversation_start(space=space, subject=parsed.subject, **common)
                    )
                else:
                    written.append(
                        professional_reply(
                            conversation=conversation,
                            in_reply_to=parsed.references[0] if parsed.references else "",
                            **common,
                        )
                    )
            except Refused as exc:
                raise DeliveryRefused(
                    "Vous ne pouvez pas écrire à ce patient dans son espace santé."
                ) from exc
    return written


# --- The patients' replies, out by SMTP ----------------------------------------------------


def _references(message: Message) -> list[str]:
    earlier = list(
        Message.objects.filter(
            conversation_id=message.conversation_id, sent_at__lte=message.sent_at
        )
        .exclude(pk=message.pk)
        .exclude(message_id="")
        .order_by("sent_at", "id")
        .values_list("message_id", flat=True)
    )
    root = message.conversation.thread_id
    chain = ([root] if root else []) + [i for i in earlier if i != root]
    return chain[:1] + chain[1:][-(REFERENCES_MAX - 1) :] if chain else []


def reply_mail(message: Message) -> EmailMessage:
    """The MIME mail of a patient's reply: decrypted body and attachments, threading headers."""
    from .services import message_text

    conversation = message.conversation
    space = conversation.space
    person = space.person
    sender = f"{person.first_name} {person.last_name} <{patient_address(space)}>".strip()
    subject = conversation.subject
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    domain = settings.CARNET_PATIENT_MAIL_DOMAIN
    headers = {"Message-ID": message.message_id or make_msgid(domain=domain)}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    references = _references(message)
    if references:
        headers["References"] = " ".join(references)
    mail = EmailMessage(
        subject,
        message_text(message),
        sender,
        [conversation.professional.messaging_address],
        headers=headers,
    )
    for attachment in message.attachments.filter(blob__isnull=False).select_related(
        "blob__data_key"
    ):
        media_type = attachment.media_type.split(";")[0].strip() or "application/octet-stream"
        mail.attach(attachment.filename, blobs.blob_read(attachment.blob), media_type)
    return mail


def replies_relay(*, batch_size: int = 100) -> int:
    """Send the patients' replies not yet relayed to the professional's messaging address.

    Each one is claimed (relayed_at set) and sent in the same transaction: a failed send rolls
    the claim back, and the reply waits MESSAGE_RELAY_RETRY_DELAY, doubled at each failure,
    before the next try; a refusal by the server (5xx) or MESSAGE_RELAY_MAX_ATTEMPTS failures
    end the tries, and the person is told that it was not delivered (never what). A concurrent
    sweep waits on the claimed row and then skips it. Needs EMAIL_URL (nothing is relayed to
    the console or the outbox)."""
    if not settings.EMAIL_URL:
        return 0
    now = clock.now()
    due = list(
        Message.objects.filter(
            author_kind=Message.AuthorKind.PERSON,
            relayed_at__isnull=True,
            relay_failed_at__isnull=True,
            conversation__professional__isnull=False,
            conversation__space__state=Space.State.ACTIVE,
        )
        .filter(Q(relay_next_at__isnull=True) | Q(relay_next_at__lte=now))
        .exclude(conversation__professional__messaging_address="")
        .order_by("sent_at", "id")
        .values_list("pk", flat=True)[:batch_size]
    )
    sent = 0
    for pk in due:
        try:
            with transaction.atomic():
                # The conditions again: a concurrent sweep may have failed it meanwhile.
                claimed = (
                    Message.objects.filter(
                        pk=pk, relayed_at__isnull=True, relay_failed_at__isnull=True
                    )
                    .filter(Q(relay_next_at__isnull=True) | Q(relay_next_at__lte=now))
                    .update(relayed_at=clock.now())
                )
                if not claimed:
                    continue
                message = Message.objects.select_related(
                    "conversation__space__person", "conversation__professional", "body__data_key"
                ).get(pk=pk)
                reply_mail(message).send()
        except Exception as exc:  # transport or store failure: the claim is rolled back
            log.warning("reply %s not relayed: %s", pk, exc.__class__.__name__)
            _relay_failed(pk, permanent=_refused_for_good(exc))
            continue
        sent += 1
    return sent


def _refused_for_good(exc: Exception) -> bool:
    """The professional's address or the mail refused for good (5xx at RCPT or DATA), as
    opposed to a failure worth trying again — our own relay's refusals included (a login that
    expired, a sender refused): they must not fail every reply at once."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def _relay_failed(pk: int, *, permanent: bool) -> None:
    from .services import relay_undelivered_notify

    limits = settings.CARNET
    now = clock.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("conversation__space")
            .filter(pk=pk, relayed_at__isnull=True, relay_failed_at__isnull=True)
            .first()
        )
        if message is None:
            return
        message.relay_attempts += 1
        if permanent or message.relay_attempts >= limits["MESSAGE_RELAY_MAX_ATTEMPTS"]:
            message.relay_failed_at = now
            message.relay_next_at = None
            relay_undelivered_notify(message)
        else:
            delay = limits["MESSAGE_RELAY_RETRY_DELAY"] * 2 ** (message.relay_attempts - 1)
            message.relay_next_at = now + min(delay, limits["MESSAGE_RELAY_RETRY_MAX"])
        message.save(update_fields=["relay_attempts", "relay_failed_at", "relay_next_at"])
