"""Linked profiles: who may manage a space besides its holder (DESIGN § 5, `family`).

A link gives an account (a legal representative, a guardian under a protection measure, a
caregiver) the management of another person's space. It is never deleted: an ended link keeps
its dates, for the history and the audit trail.
"""

import uuid

from django.db import models
from django.db.models import Q


class Link(models.Model):
    class Kind(models.TextChoices):
        LEGAL_REPRESENTATIVE = "representant_legal", "Représentant légal"
        TUTELLE = "tutelle", "Tuteur"
        CURATELLE = "curatelle", "Curateur"
        CAREGIVER = "aidant", "Proche aidant"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    space = models.ForeignKey(
        "enrollment.Space", on_delete=models.PROTECT, related_name="family_links"
    )
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="family_links")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    started_at = models.DateTimeField()
    until = models.DateField(null=True, blank=True)  # a protection measure's end
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "user"],
                condition=Q(ended_at__isnull=True),
                name="family_one_open_link_per_account",
            )
        ]
        indexes = [models.Index(fields=["user", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.public_id})"


class Invitation(models.Model):
    """The managing representative invites another account (the other parent, a guardian) to
    share the management of a minor's space; it expires after FAMILY_INVITATION_VALIDITY."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    space = models.ForeignKey(
        "enrollment.Space", on_delete=models.PROTECT, related_name="family_invitations"
    )
    invited_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="family_invitations_sent"
    )
    invitee = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="family_invitations"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    accepted = models.BooleanField(null=True)  # None until answered
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["invitee", "answered_at"])]

    def __str__(self) -> str:
        return f"Invitation ({self.public_id})"


class MajorityNotice(models.Model):
    """What the coming-of-age sweep did for a space, once each: the notice a month before the
    18th birthday, and the birthday itself (links ended, the young adult's code issued)."""

    class Kind(models.TextChoices):
        MONTH_BEFORE = "un_mois_avant", "Un mois avant la majorité"
        BIRTHDAY = "majorite", "Majorité"

    space = models.ForeignKey(
        "enrollment.Space", on_delete=models.PROTECT, related_name="majority_notices"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    done_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "kind"], name="family_majority_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.space_id})"
