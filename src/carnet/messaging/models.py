"""Secure health messaging: conversations between a person's space and professionals.

Message bodies and attachments are encrypted at rest under the space's data key (DESIGN
invariant 3): a body is a `core.Blob` like a document's file, never a text column. Subjects are
kept in clear (they are shown in lists and searched) — professionals are told, in the portal and
in the gateway's greeting, to put no health content in a subject.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

SUBJECT_MAX = 200
LIVE = Q(deleted_at__isnull=True)


class Conversation(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # PROTECT: messages go away only through the space's purge, never by cascade.
    space = models.ForeignKey("enrollment.Space", on_delete=models.PROTECT, related_name="+")
    # The correspondent; None for the service's own messages ("Bienvenue dans votre messagerie").
    professional = models.ForeignKey(
        "professionals.Professional", null=True, blank=True, on_delete=models.PROTECT
    )
    subject = models.CharField("Objet", max_length=SUBJECT_MAX)
    created_at = models.DateTimeField()
    last_message_at = models.DateTimeField()
    # Closed by the professional: no more replies, shown in the thread.
    closed_at = models.DateTimeField(null=True, blank=True)
    # The person's own filing: archived (out of the main list), deleted (soft, retention).
    archived_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The person read everything up to this moment (unread = a later message from the other).
    read_until = models.DateTimeField(null=True, blank=True)
    # The thread's root Message-ID for mail threading (In-Reply-To / References).
    thread_id = models.CharField(max_length=255, blank=True, db_index=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [
            models.Index(
                fields=["space", "-last_message_at", "-id"], condition=LIVE, name="conv_live"
            ),
        ]

    def __str__(self):
        return f"Conversation {self.public_id}"


class Message(models.Model):
    class AuthorKind(models.TextChoices):
        PERSON = "usager", "Vous"
        PROFESSIONAL = "professionnel", "Professionnel de santé"
        SERVICE = "service", "Carnet"

    class Channel(models.TextChoices):
        WEB = "web", "Carnet"
        PORTAL = "portail", "Portail des professionnels"
        SMTP = "smtp", "Messagerie sécurisée (SMTP)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="+")
    author_kind = models.CharField(max_length=15, choices=AuthorKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=200, blank=True)  # as shown, at the time
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # The encrypted body (plain text, UTF-8), under the space's data key; None for the service's
    # own messages, whose text is a template of the code (`service_template`): the same for
    # everyone, no health content, and millions of welcome messages cost no file each.
    body = models.ForeignKey(
        "core.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service_template = models.CharField(max_length=40, blank=True)
    no_reply = models.BooleanField(default=False)  # "message sans réponse possible"
    sent_at = models.DateTimeField()
    # Mail threading: this message's Message-ID, and what it answered.
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    # A patient's reply relayed by SMTP to the professional: when it was sent; the failed
    # attempts, when to try again, and when the relay gave up (refused, or too many attempts).
    relayed_at = models.DateTimeField(null=True, blank=True)
    relay_attempts = models.PositiveSmallIntegerField(default=0)
    relay_next_at = models.DateTimeField(null=True, blank=True)
    relay_failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["conversation", "sent_at", "id"], name="msg_thread")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(body__isnull=False) | ~models.Q(service_template=""),
                name="msg_body_or_template",
            )
        ]

    def __str__(self):
        return f"Message {self.public_id}"


class Attachment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments")
    # None for a refused attachment ("pièce jointe refusée : <raison>"): listed, never stored.
    blob = models.ForeignKey(
        "core.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    filename = models.CharField(max_length=255)
    media_type = models.CharField(max_length=100, blank=True)
    extension = models.CharField(max_length=10, blank=True)
    size = models.PositiveIntegerField(default=0)
    refused_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"Pièce jointe {self.public_id}"


class Draft(models.Model):
    """The person's reply being written (kept between visits), encrypted like a message."""

    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="+")
    body = models.ForeignKey("core.Blob", on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    def __str__(self):
        return f"Brouillon {self.conversation_id}"


class MessagingCredential(models.Model):
    """A professional's password for the SMTP gateway (AUTH): random, shown once in the
    portal, stored only as a keyed hash (DESIGN invariant 4)."""

    professional = models.OneToOneField(
        "professionals.Professional", on_delete=models.CASCADE, related_name="+"
    )
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Accès SMTP {self.professional_id}"
