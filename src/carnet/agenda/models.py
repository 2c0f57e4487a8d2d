"""The medical agenda: appointments, personal reminders, the person's agenda settings (reminder
delay, prevention opt-outs, the iCalendar feed's hashed token), and the prevention calendar's
statuses and notices (the calendar itself is computed from `prevention.json`, not stored)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

TITLE_MAX = 100
NOTES_MAX = 1000
PLACE_MAX = 200
PROFESSIONAL_NAME_MAX = 150

LIVE = Q(deleted_at__isnull=True)


class Appointment(models.Model):
    """*Rendez-vous*. Added by the person (editable), or by a professional, a booking service or
    an imported file (noted as such; the first two are read-only for the person)."""

    class Source(models.TextChoices):
        PERSON = "usager", "Vous"
        PROFESSIONAL = "professionnel", "Un professionnel de santé"
        SERVICE = "service", "Un service de prise de rendez-vous"
        IMPORT = "import", "Un fichier importé"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # PROTECT: agenda rows go away only through the space's purge, never by cascade.
    space = models.ForeignKey("enrollment.Space", on_delete=models.PROTECT, related_name="+")
    title = models.CharField("Titre", max_length=TITLE_MAX, blank=True)
    professional = models.ForeignKey(
        "professionals.Professional", null=True, blank=True, on_delete=models.SET_NULL
    )
    # The directory's name at the time, or the name typed freely.
    professional_name = models.CharField(
        "Professionnel de santé", max_length=PROFESSIONAL_NAME_MAX, blank=True
    )
    place = models.CharField("Lieu", max_length=PLACE_MAX, blank=True)
    starts_at = models.DateTimeField("Début")
    ends_at = models.DateTimeField("Fin", null=True, blank=True)
    notes = models.TextField("Notes", max_length=NOTES_MAX, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.PERSON)
    source_name = models.CharField(max_length=100, blank=True)  # "Dr …", "Doctolib", a calendar
    external_uid = models.CharField(max_length=255, blank=True)  # the UID of a file or service
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The reminder: due at notify_at (starts_at minus the person's delay), sent once.
    notify_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["space", "starts_at", "id"], condition=LIVE, name="appt_live"),
            models.Index(
                fields=["notify_at"],
                condition=LIVE & Q(notified_at__isnull=True, notify_at__isnull=False),
                name="appt_reminder_due",
            ),
        ]
        constraints = [
            # Re-importing a file or a booking service's update finds the same row by UID.
            models.UniqueConstraint(
                fields=["space", "source", "external_uid"],
                condition=~Q(external_uid=""),
                name="appt_external_uid_unique",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gte=models.F("starts_at")),
                name="appt_ends_after_start",
            ),
        ]

    def __str__(self):
        return f"Rendez-vous {self.public_id}"

    @property
    def read_only(self) -> bool:
        """Added by a professional or a booking service: changed there, not here."""
        return self.source in (self.Source.PROFESSIONAL, self.Source.SERVICE)


class Reminder(models.Model):
    """*Rappel*: a personal note on a date, with an optional time."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    space = models.ForeignKey("enrollment.Space", on_delete=models.PROTECT, related_name="+")
    title = models.CharField("Titre", max_length=TITLE_MAX)
    date = models.DateField("Date")
    time = models.TimeField("Heure", null=True, blank=True)
    comment = models.TextField("Commentaire", max_length=NOTES_MAX, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)
    notify_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["date", "time", "id"]
        indexes = [
            models.Index(fields=["space", "date", "id"], condition=LIVE, name="reminder_live"),
            models.Index(
                fields=["notify_at"],
                condition=LIVE & Q(notified_at__isnull=True, notify_at__isnull=False),
                name="reminder_due",
            ),
        ]

    def __str__(self):
        return f"Rappel {self.public_id}"


class AgendaSettings(models.Model):
    """The person's choices for their agenda (one row per space, created on first change)."""

    class Delay(models.TextChoices):
        ONE_HOUR = "1h", "1 heure avant"
        ONE_DAY = "24h", "24 heures avant"
        TWO_DAYS = "48h", "48 heures avant"
        ONE_WEEK = "1sem", "1 semaine avant"

    space = models.OneToOneField(
        "enrollment.Space", on_delete=models.PROTECT, related_name="agenda_settings"
    )
    reminder_delay = models.CharField(
        "Me prévenir", max_length=5, choices=Delay.choices, default=Delay.ONE_DAY
    )
    # The prevention kinds the person no longer wants reminders for ("vaccination", …).
    prevention_opt_out = models.JSONField(default=list, blank=True)
    # The iCalendar subscription: only the keyed hash of its token (DESIGN invariant 4).
    feed_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    feed_created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Agenda {self.space_id}"


class PreventionStatus(models.Model):
    """What the person said about one item of their prevention calendar."""

    class Status(models.TextChoices):
        PLANNED = "planifie", "Planifié"
        DONE = "realise", "Réalisé"
        NOT_DONE = "non_realise", "Non réalisé"

    space = models.ForeignKey("enrollment.Space", on_delete=models.PROTECT, related_name="+")
    item_key = models.CharField(max_length=80)  # the rule's id and occurrence, e.g. "dtp-adulte@25"
    status = models.CharField(max_length=12, choices=Status.choices)
    planned_on = models.DateField(null=True, blank=True)
    done_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "item_key"], name="prevention_status_unique")
        ]

    def __str__(self):
        return f"{self.item_key}: {self.status}"


class PreventionNotice(models.Model):
    """One reminder sent for one item: the unique pair makes a second sweep send nothing."""

    space = models.ForeignKey("enrollment.Space", on_delete=models.PROTECT, related_name="+")
    item_key = models.CharField(max_length=80)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "item_key"], name="prevention_notice_unique")
        ]

    def __str__(self):
        return f"{self.item_key} le {self.sent_at:%Y-%m-%d}"
