"""The outbox: every email and SMS is a row written in the same transaction as its event."""

import uuid

from django.db import models


class OutboxMessage(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "SMS"

    class Status(models.TextChoices):
        PENDING = "pending", "À envoyer"
        HELD = "held", "Conservé (aucun canal configuré)"
        SENT = "sent", "Envoyé"
        FAILED = "failed", "Échec définitif"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    # Codes travel in bodies: the body is erased once delivered (see docs/adr/0006).
    body = models.TextField(blank=True)
    kind = models.CharField(max_length=40)  # "code_provisoire", "activation", … (no content)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx")]

    def __str__(self):
        return f"{self.kind} → {self.channel}"
