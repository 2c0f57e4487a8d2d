"""« Télécharger mes données »: one export of an account's spaces, built by the worker.

An export moves `demandee → en_preparation → prete → expiree`, or ends `echec` after
EXPORT_MAX_ATTEMPTS builds that did not finish. Its file is a `core.Blob` sealed in chunks
(`exports.stream`) under a data key of its own, and exists only once the export is `prete`:
a build that stops half-way offers nothing.
"""

import uuid

from django.db import models
from django.db.models import Q


class Export(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "demandee", "En préparation"
        BUILDING = "en_preparation", "En préparation"
        READY = "prete", "Prête"
        EXPIRED = "expiree", "Expirée"
        FAILED = "echec", "Échec"

    IN_PROGRESS = (Status.REQUESTED, Status.BUILDING)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # PROTECT: accounts are never deleted (a purge deactivates them); exports go with their file.
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    # The spaces the account asked for, as checked at the request (and again at each build
    # and download): its own and the linked profiles it manages.
    spaces = models.ManyToManyField("enrollment.Space", related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    # The last time a build was asked of the worker (the request, or the sweep's retry).
    queued_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    # The running build: its token (a build that lost it stops and drops its file) and its
    # last sign of life (a silent build is taken over after EXPORT_STALE_AFTER).
    token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # PROTECT: a key goes only once destroyed (crypto-shredding at expiry), its row kept.
    data_key = models.ForeignKey(
        "core.DataKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # PROTECT: the file is deleted by the expiry, which clears this first.
    blob = models.OneToOneField(
        "core.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    documents = models.PositiveIntegerField(default=0)  # files of documents in the ZIP
    # Documents and messages left out because their stored file failed its integrity check
    # (named in the ZIP's LISEZMOI.txt, and said on the export page).
    unreadable = models.PositiveIntegerField(default=0)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)  # expired, withdrawn or failed
    downloads = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One export in progress per account (the service says so in French first).
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status__in=["demandee", "en_preparation"]),
                name="export_one_in_progress",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-requested_at"], name="export_user_idx"),
            models.Index(fields=["status", "queued_at"], name="export_status_idx"),
        ]

    def __str__(self):
        return f"Export {self.public_id} ({self.status})"

    @property
    def in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS
