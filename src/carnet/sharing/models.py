"""Share links ("Partager"): chosen documents and/or the synthesis, opened without an account.

A share is reached by a random token kept only as a keyed hash (DESIGN invariant 4); its
optional passcode is chosen by a person, hence short: kept as an Argon2id hash like a password.
A share is never deleted by its owner (revoked instead): the history names it. The space's
purge erases its shares (apps.py).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

ACTOR_PREFIX = "partage:"


class Share(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # PROTECT: the space's purge erases its shares first (sharing.services.space_shares_erase).
    space = models.ForeignKey("enrollment.Space", on_delete=models.PROTECT, related_name="+")
    # PROTECT: accounts are deactivated, never deleted; a share names who made it.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Made by an account acting for the holder (legal representative, guardian): a minor's
    # confidential documents are never shown through it, as never to its author.
    by_representative = models.BooleanField(default=False)
    label = models.CharField("Nom du partage", max_length=60)
    token_hash = models.CharField(max_length=64, unique=True)
    passcode_hash = models.CharField(max_length=128, blank=True)
    # The medical synthesis, generated at each opening: the PDF now, its FHIR form (IPS) later.
    include_synthesis = models.BooleanField("Synthèse médicale", default=False)
    documents = models.ManyToManyField(
        "documents.Document", through="SharedDocument", related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=120, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["space", "-created_at", "-id"], name="share_space_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="share_expires_after_creation"
            ),
        ]

    def __str__(self):
        return f"Share {self.public_id}"

    @property
    def actor(self) -> str:
        """Who opens the documents, in the audit trail: the link itself."""
        return f"{ACTOR_PREFIX}{self.public_id}"

    @property
    def has_passcode(self) -> bool:
        return bool(self.passcode_hash)


class SharedDocument(models.Model):
    # CASCADE: a share's own rows; a purged document leaves the shares with it.
    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey("documents.Document", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["share", "document"], name="share_document_once"),
        ]

    def __str__(self):
        return f"SharedDocument {self.share_id}/{self.document_id}"
