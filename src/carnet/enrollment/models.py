"""Provisional codes, spaces and their life cycle."""

import uuid

from django.db import models


class ProvisionalCode(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "SMS"
        LETTER = "courrier", "Courrier"

    # PROTECT: codes are part of the person's history; purge deletes them explicitly.
    person = models.ForeignKey(
        "registry.InsuredPerson", on_delete=models.PROTECT, related_name="codes"
    )
    code_hash = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["person", "-sent_at"], name="code_person_sent_idx")]

    def __str__(self):
        return f"Code {self.pk} ({self.channel})"


class Space(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "En attente de décision"
        ACTIVE = "active", "Actif"
        OPPOSED = "opposed", "Opposition"
        CLOSED = "closed", "Fermé"
        PURGED = "purged", "Supprimé définitivement"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    person = models.OneToOneField(
        "registry.InsuredPerson", on_delete=models.PROTECT, related_name="space"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    data_key = models.OneToOneField(
        "core.DataKey", null=True, blank=True, on_delete=models.PROTECT, related_name="space"
    )
    created_at = models.DateTimeField()
    auto_activate_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_automatically = models.BooleanField(default=False)
    opposed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    archive_until = models.DateTimeField(null=True, blank=True)
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    deletion_due_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["state", "auto_activate_at"], name="space_auto_idx"),
            models.Index(fields=["state", "deletion_due_at"], name="space_deletion_idx"),
            models.Index(fields=["state", "archive_until"], name="space_archive_idx"),
        ]

    def __str__(self):
        return f"Espace {self.public_id} ({self.state})"


class ContactCheck(models.Model):
    """A 6-digit code sent to a new email or mobile given during activation."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "SMS"

    person = models.ForeignKey(
        "registry.InsuredPerson", on_delete=models.CASCADE, related_name="contact_checks"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    value = models.CharField(max_length=254)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Vérification {self.channel} {self.pk}"
