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
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage as MimeMessage
from email.parser import BytesParser
from email.utils import make_msgid
from html.parser import HTMLParser

import nh3
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q

from carnet.core import blobs, clock, crypto
from carnet.enrollment.models import Space

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
NO_SUBJECT = "(Sans objet)"
NO_TEXT = "(Message sans texte)"
MESSAGE_ID_MAX = 255
REFERENCES_MAX = 20  # message ids in a relayed reply's References
# The HTML kept by nh3 before it is turned into text: structure and links only (no images,
# no styles, no scripts: their content is dropped with them).
HTML_TAGS = {"a", "p", "br", "div", "li", "ul", "ol", "tr", "td", "th", "table", "blockquote"}
HTML_TAGS |= {"h1", "h2", "h3", "h4", "h5", "h6", "pre", "span", "b", "i", "strong", "em"}
BLOCK_TAGS = {"p", "div", "li", "tr", "table", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"}
BLOCK_TAGS |= {"pre", "ul", "ol"}


# The mail's structure with the modern API (get_body, iter_attachments), its headers kept raw
# (compat32): the default policy parses every header into objects, again at each access — a
# third of the parse for a mail with one attachment. Only the subject needs decoding.
PARSING = policy.compat32.clone(message_factory=MimeMessage)


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
    return (
        Space.objects.select_related("person", "data_key").filter(person__nir=local.upper()).first()
    )


def _active_recipient(address: str, space=None):
    """The active space behind the address (`space`: as RCPT found it, its state read again),
    or DeliveryRefused."""
    if space is None:
        space = recipient_space(address)
    else:
        space.state = Space.objects.filter(pk=space.pk).values_list("state", flat=True).first()
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


class _TextOfHtml(HTMLParser):
    """Sanitised HTML (nh3) to plain text: blocks on their own lines, a link as
    "text <address>" (shown, never loaded)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag):
        if tag in BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href:
                self.parts.append(f" <{href}>")

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    """HTML from a mail reduced to safe text: nh3 removes scripts, styles, images and every
    attribute but links' addresses (http, https, mailto); what is left becomes text."""
    clean = nh3.clean(
        markup,
        tags=HTML_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
    )
    parser = _TextOfHtml()
    parser.feed(clean)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@dataclass
class Parsed:
    subject: str
    body: str
    message_id: str
    references: list[str]
    files: list[OutgoingFile] = field(default_factory=list)
    refused: list[RefusedFile] = field(default_factory=list)


def _ids(value) -> list[str]:
    return re.findall(r"<[^<>\s]{1,250}>", str(value or ""))


def _body_of(mail: MimeMessage) -> str:
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    declared = (part.get_content_charset() or "us-ascii").lower()
    if declared in ("us-ascii", "ascii"):
        # No charset, or ASCII declared with 8-bit bytes (swaks and many scripts send UTF-8
        # so): UTF-8 when the bytes are UTF-8, else Latin-1, the old mail default.
        try:
            content = payload.decode("utf-8")
        except UnicodeDecodeError:
            content = payload.decode("latin-1")
    else:
        try:
            content = payload.decode(declared, "replace")
        except LookupError:  # unknown charset
            content = payload.decode("utf-8", "replace")
    if part.get_content_subtype() == "html":
        return html_to_text(content)
    return content


def _attachments(mail: MimeMessage) -> tuple[list[OutgoingFile], list[RefusedFile]]:
    """Each attachment checked like an upload (`file_check_isolated`); a refused one is listed
    with its reason, and so is one past the message's limits (count, total size)."""
    from carnet.documents.files import FileRefused, file_check_isolated, safe_file_name

    limits = settings.CARNET
    files, refused, total = [], [], 0
    for part in mail.iter_attachments():
        name = safe_file_name(_decoded(part.get_filename()) or "piece-jointe")
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):  # a message/rfc822 or a multipart attached
            refused.append(RefusedFile(name, "ce type de pièce jointe n'est pas accepté."))
            continue
        if len(files) >= limits["MESSAGE_MAX_FILES"]:
            refused.append(
                RefusedFile(
                    name, f"un message compte au plus {limits['MESSAGE_MAX_FILES']} pièces jointes."
                )
            )
            continue
        if total + len(data) > limits["MESSAGE_MAX_BYTES"]:
            refused.append(RefusedFile(name, "les pièces jointes du message sont trop lourdes."))
            continue
        try:
            checked = file_check_isolated(name, data)
        except FileRefused as exc:
            refused.append(RefusedFile(name, str(exc)))
            continue
        total += len(data)
        files.append(OutgoingFile(name, data, checked.media_type, checked.extension))
    return files, refused


def _decoded(value) -> str:
    """A header's text, its RFC 2047 encoded words decoded (an undecodable one left as is)."""
    try:
        return str(make_header(decode_header(str(value or ""))))
    except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return str(value or "")


def mail_parse(content: bytes) -> Parsed:
    mail = BytesParser(policy=PARSING).parsebytes(content)
    subject = " ".join(_decoded(mail.get("Subject")).split())[:SUBJECT_MAX] or NO_SUBJECT
    body = _body_of(mail).replace("\r\n", "\n").strip() or NO_TEXT
    if len(body) > BODY_MAX:
        raise DeliveryRefused(f"Le texte du message dépasse {BODY_MAX} caractères.", status="5.3.4")
    ids = _ids(mail.get("Message-ID"))
    message_id = ids[0] if ids and len(ids[0]) <= MESSAGE_ID_MAX else ""
    references = _ids(mail.get("In-Reply-To")) + list(reversed(_ids(mail.get("References"))))
    files, refused = _attachments(mail)
    return Parsed(subject, body, message_id, references, files, refused)


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
):
    """The mail, for each accepted recipient, as a message in one transaction: committed when
    this returns (the gateway answers 250 only then), or nothing written at all.

    Each recipient's space (`spaces`: as RCPT found them, by address) is read again (closed
    since RCPT?), its thread found and the body and attachments sealed under its key before the
    transaction, which then only decides (consent, audited by the services) and inserts."""
    parsed = mail_parse(content)
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
                claimed = Message.objects.filter(pk=pk, relayed_at__isnull=True).update(
                    relayed_at=clock.now()
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
    """The server refused the mail (5xx), as opposed to a failure worth trying again."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


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
