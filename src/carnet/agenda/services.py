"""Use cases of the agenda, each in one transaction with its audit event.

Reminders are due at `notify_at` (the start minus the person's delay, computed on every write)
and sent by `reminders_send_due` (`carnet tick`): each row is claimed by a conditional update
(`notified_at IS NULL`) in the same transaction as its outbox message, so two sweeps at once, or
a sweep run late, send it exactly once. The message gives the date and time only (invariant 7).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as Time

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import formats, timezone

from carnet.accounts.models import account_of
from carnet.audit.services import Entry as AuditEntry
from carnet.audit.services import events_record
from carnet.core import clock
from carnet.enrollment.models import Space

from .models import (
    NOTES_MAX,
    PLACE_MAX,
    PROFESSIONAL_NAME_MAX,
    TITLE_MAX,
    AgendaSettings,
    Appointment,
    Reminder,
)
from .selectors import FIRST_YEAR, LAST_YEAR

DELAYS = {
    AgendaSettings.Delay.ONE_HOUR: timedelta(hours=1),
    AgendaSettings.Delay.ONE_DAY: timedelta(hours=24),
    AgendaSettings.Delay.TWO_DAYS: timedelta(hours=48),
    AgendaSettings.Delay.ONE_WEEK: timedelta(weeks=1),
}
# A reminder without a time is "on that day": its moment, for the notice, is this local time.
REMINDER_DEFAULT_TIME = Time(9, 0)


class AgendaError(ValueError):
    """A refusal to show the person as is (French)."""


class NotWritable(AgendaError):
    """The appointment came from a professional or a booking service: changed there."""


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


# --- Settings ------------------------------------------------------------------------------


def agenda_settings(space) -> AgendaSettings:
    """The space's settings, unsaved defaults when the person never changed them."""
    found = AgendaSettings.objects.filter(space=space).first()
    return found if found is not None else AgendaSettings(space=space)


def reminder_delay(space) -> timedelta:
    return DELAYS[agenda_settings(space).reminder_delay]


def reminder_delay_set(*, user, space, delay: str, client: str = "") -> None:
    """ "Me prévenir … avant": future reminders not yet sent move to the new delay."""
    if delay not in DELAYS:
        raise AgendaError("Choisissez un délai de rappel dans la liste.")
    with transaction.atomic():
        row, _ = AgendaSettings.objects.select_for_update().get_or_create(space=space)
        row.reminder_delay, row.updated_at = delay, clock.now()
        row.save(update_fields=["reminder_delay", "updated_at"])
        shift = DELAYS[delay]
        pending = {"space": space, "deleted_at__isnull": True, "notified_at__isnull": True}
        Appointment.objects.filter(**pending).update(notify_at=F("starts_at") - shift)
        for reminder in Reminder.objects.filter(**pending):
            reminder.notify_at = reminder_moment(reminder.date, reminder.time) - shift
            reminder.save(update_fields=["notify_at"])
        _audit(user.actor, space, "agenda_parametres", client=client, delai=delay)


# --- Appointments --------------------------------------------------------------------------


@dataclass
class AppointmentData:
    starts_at: datetime
    title: str = ""
    ends_at: datetime | None = None
    professional: object = None  # a directory entry, or None
    professional_name: str = ""
    place: str = ""
    notes: str = ""


def _writable(space) -> None:
    if space.state != Space.State.ACTIVE:
        raise AgendaError("Votre espace n'est pas actif : l'agenda ne peut pas être modifié.")


# What a change compares with or must not undo, re-read under lock.
_FRESH = {
    Appointment: ("starts_at", "notify_at", "notified_at", "deleted_at"),
    Reminder: ("date", "time", "notify_at", "notified_at", "deleted_at"),
}


def _refresh_locked(row) -> None:
    """The row as it is now, locked until the change commits: the instance may be older than
    the sweep's claim (`notified_at`), which a full save would otherwise undo (a second
    notice), or than a deletion."""
    model = type(row)
    current = model.objects.select_for_update().filter(pk=row.pk).values(*_FRESH[model]).first()
    if current is None or current["deleted_at"] is not None:
        raise AgendaError("Cet élément a été supprimé de votre agenda entre-temps.")
    for name, value in current.items():
        setattr(row, name, value)


def _text(value: str, limit: int, what: str, *, required: str = "") -> str:
    """The text stripped, within its limit: the forms check first, but a service is a door of
    its own (a TextField's max_length is not checked by `full_clean`)."""
    value = value.strip()
    if required and not value:
        raise AgendaError(required)
    if len(value) > limit:
        raise AgendaError(f"{what} ne doit pas dépasser {limit} caractères.")
    return value


def _in_range(day: date) -> None:
    """Dates the agenda keeps (and shows, month by month): the notice's moment, a week
    earlier, must exist too."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise AgendaError(f"Indiquez une date entre {FIRST_YEAR} et {LAST_YEAR}.")


def _apply(appointment: Appointment, data: AppointmentData, delay: timedelta) -> None:
    _in_range(data.starts_at)
    if data.ends_at is not None:
        _in_range(data.ends_at)
    if data.ends_at is not None and data.ends_at < data.starts_at:
        raise AgendaError("La fin du rendez-vous doit être après son début.")
    title = _text(data.title, TITLE_MAX, "Le titre")
    name = _text(data.professional_name, PROFESSIONAL_NAME_MAX, "Le nom du professionnel")
    place = _text(data.place, PLACE_MAX, "Le lieu")
    notes = _text(data.notes, NOTES_MAX, "Les notes")
    if data.professional is not None:  # the directory's name, as it is today
        name = data.professional.full_name.strip()[:PROFESSIONAL_NAME_MAX]
    moved = appointment.pk is None or appointment.starts_at != data.starts_at
    appointment.title = title
    appointment.starts_at = data.starts_at
    appointment.ends_at = data.ends_at
    appointment.professional = data.professional
    appointment.professional_name = name
    appointment.place = place
    appointment.notes = notes
    # A changed start is a new reminder to send (once), at the delay the person chose; a
    # changed title or place alone does not send the notice again.
    if moved:
        appointment.notify_at = data.starts_at - delay
        appointment.notified_at = None


def appointment_add(
    *,
    user,
    space,
    data: AppointmentData,
    source: str = Appointment.Source.PERSON,
    source_name: str = "",
    external_uid: str = "",
    client: str = "",
) -> Appointment:
    _writable(space)
    now = clock.now()
    appointment = Appointment(
        space=space,
        source=source,
        source_name=source_name,
        external_uid=external_uid,
        author=account_of(user),
        created_at=now,
        updated_at=now,
    )
    with transaction.atomic():
        _apply(appointment, data, reminder_delay(space))
        appointment.full_clean(exclude=["space", "author", "professional"])
        appointment.save()
        _audit(user.actor, space, "rendez_vous_ajout", appointment, client=client, source=source)
    return appointment


def appointment_update(
    *, user, appointment: Appointment, data: AppointmentData, client: str = "", by_source=False
) -> Appointment:
    """The person changes their own appointment; `by_source`: the professional or service
    that added it changes it (the person cannot)."""
    _writable(appointment.space)
    if appointment.read_only and not by_source:
        raise NotWritable(
            f"Ce rendez-vous a été ajouté par {appointment.source_name or 'un tiers'} : "
            f"il se modifie dans {appointment.source_name or 'ce service'}."
        )
    with transaction.atomic():
        _refresh_locked(appointment)
        _apply(appointment, data, reminder_delay(appointment.space))
        appointment.updated_at = clock.now()
        appointment.full_clean(exclude=["space", "author", "professional"])
        appointment.save()
        _audit(
            user.actor, appointment.space, "rendez_vous_modification", appointment, client=client
        )
    return appointment


def appointment_withdraw(*, user, appointment: Appointment, client: str = "") -> None:
    """ "Retirer de mon agenda": the person takes out an appointment a professional or a
    service added (it cannot be changed here, but the person keeps the last word on their own
    agenda: a blocked professional's entry, say). Soft, audited, its reminder no longer sent."""
    _writable(appointment.space)
    with transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk, deleted_at__isnull=True).update(
            deleted_at=clock.now()
        )
        _audit(user.actor, appointment.space, "rendez_vous_retire", appointment, client=client)


def appointment_delete(
    *, user, appointment: Appointment, client: str = "", by_source=False
) -> None:
    """Soft: hidden at once, its reminder no longer sent; purged with the space."""
    _writable(appointment.space)
    if appointment.read_only and not by_source:
        raise NotWritable(
            f"Ce rendez-vous a été ajouté par {appointment.source_name or 'un tiers'} : "
            f"il s'annule dans {appointment.source_name or 'ce service'}."
        )
    with transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk, deleted_at__isnull=True).update(
            deleted_at=clock.now()
        )
        _audit(user.actor, appointment.space, "rendez_vous_suppression", appointment, client=client)


# --- Reminders ("Rappels") -----------------------------------------------------------------


def reminder_moment(day: date, at: Time | None) -> datetime:
    """The reminder's moment in Europe/Paris: its time, or REMINDER_DEFAULT_TIME that day."""
    return timezone.make_aware(datetime.combine(day, at or REMINDER_DEFAULT_TIME))


@dataclass
class ReminderData:
    title: str
    date: date
    time: Time | None = None
    comment: str = ""


def _reminders_on(space, day: date, exclude_pk=None) -> int:
    rows = Reminder.objects.filter(space=space, date=day, deleted_at__isnull=True)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return rows.count()


def _check_room(space, day: date, exclude_pk=None) -> None:
    limit = settings.CARNET["AGENDA_REMINDERS_PER_DAY"]
    if _reminders_on(space, day, exclude_pk) >= limit:
        raise AgendaError(
            f"Vous avez déjà {limit} rappels le {formats.date_format(day, 'j F Y')} : c'est le "
            "maximum pour une même date. Supprimez-en un ou choisissez une autre date."
        )


def _apply_reminder(reminder: Reminder, data: ReminderData, delay: timedelta) -> None:
    _in_range(data.date)
    title = _text(data.title, TITLE_MAX, "Le titre", required="Indiquez un titre.")
    comment = _text(data.comment, NOTES_MAX, "Le commentaire")
    moved = reminder.pk is None or (reminder.date, reminder.time) != (data.date, data.time)
    reminder.title = title
    reminder.date = data.date
    reminder.time = data.time
    reminder.comment = comment
    if moved:  # as for appointments: a new moment, a new notice; a new title, none
        reminder.notify_at = reminder_moment(data.date, data.time) - delay
        reminder.notified_at = None


def reminder_add(*, user, space, data: ReminderData, client: str = "") -> Reminder:
    _writable(space)
    now = clock.now()
    reminder = Reminder(space=space, author=user, created_at=now, updated_at=now)
    with transaction.atomic():
        # Under the space's lock: two additions at once cannot both take the 10th place, and
        # a closure committed since the caller read the space is seen.
        _writable(Space.objects.select_for_update(no_key=True).only("state").get(pk=space.pk))
        _check_room(space, data.date)
        _apply_reminder(reminder, data, reminder_delay(space))
        reminder.full_clean(exclude=["space", "author"])
        reminder.save()
        _audit(user.actor, space, "rappel_ajout", reminder, client=client)
    return reminder


def reminder_update(*, user, reminder: Reminder, data: ReminderData, client: str = "") -> Reminder:
    space = reminder.space
    _writable(space)
    with transaction.atomic():
        _writable(Space.objects.select_for_update(no_key=True).only("state").get(pk=space.pk))
        _refresh_locked(reminder)
        if data.date != reminder.date:
            _check_room(space, data.date, exclude_pk=reminder.pk)
        _apply_reminder(reminder, data, reminder_delay(space))
        reminder.updated_at = clock.now()
        reminder.full_clean(exclude=["space", "author"])
        reminder.save()
        _audit(user.actor, space, "rappel_modification", reminder, client=client)
    return reminder


def reminder_delete(*, user, reminder: Reminder, client: str = "") -> None:
    _writable(reminder.space)
    with transaction.atomic():
        Reminder.objects.filter(pk=reminder.pk, deleted_at__isnull=True).update(
            deleted_at=clock.now()
        )
        _audit(user.actor, reminder.space, "rappel_suppression", reminder, client=client)


# --- The sweep: reminders due ---------------------------------------------------------------


def _when_fr(moment: datetime, with_time: bool = True) -> str:
    """« le 3 mars à 10 h 30 » (Europe/Paris), the year when it is not this year's."""
    local = timezone.localtime(moment)
    fmt = "j F" if local.year == clock.today().year else "j F Y"
    day = formats.date_format(local, fmt, use_l10n=True)
    day = day.replace("1 ", "1er ", 1) if local.day == 1 else day
    if not with_time:
        return f"le {day}"
    return f"le {day} à {local.hour} h {local:%M}"  # « 9 h 05 », the French way


def notice_text(row) -> str:
    """The whole notice: a date and a time, never a title, a professional or a place."""
    if isinstance(row, Appointment):
        return f"Rappel : vous avez un rendez-vous {_when_fr(row.starts_at)}."
    moment = reminder_moment(row.date, row.time)
    return f"Rappel : vous avez un rappel {_when_fr(moment, with_time=row.time is not None)}."


def _owner(space):
    from carnet.accounts.models import User

    return User.objects.filter(person_id=space.person_id, is_active=True).first()


def _send(row) -> None:
    from carnet.accounts.services import notify_preferred

    owner = _owner(row.space)
    if owner is None:
        return
    text = notice_text(row)
    notify_preferred(
        owner,
        "rappel_agenda",
        topic="appointment",
        kind="rappel_agenda",
        sms_text=f"Carnet : {text}",
        text=text,
        url=settings.SERVICE_URL,
    )


def reminders_send_due(*, batch_size: int = 500) -> int:
    """`carnet tick`: every appointment and reminder whose notice is due and not yet sent, whose
    moment is still to come, in an active space. Exactly once: the claim is a conditional
    update in the transaction of the outbox message."""
    now = clock.now()
    sent = 0
    for model, start in ((Appointment, "starts_at"), (Reminder, None)):
        while True:
            with transaction.atomic():
                due = list(
                    model.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(
                        notify_at__lte=now,
                        notified_at__isnull=True,
                        deleted_at__isnull=True,
                        space__state=Space.State.ACTIVE,
                    )
                    .select_related("space")
                    .order_by("notify_at", "id")[:batch_size]
                )
                if not due:
                    break
                for row in due:
                    claimed = model.objects.filter(pk=row.pk, notified_at__isnull=True).update(
                        notified_at=now
                    )
                    moment = getattr(row, start) if start else reminder_moment(row.date, row.time)
                    # A notice for what is already past is no reminder: claimed, not sent.
                    if claimed and moment > now:
                        _send(row)
                        sent += 1
    return sent


# --- Purge ----------------------------------------------------------------------------------


def space_agenda_erase(*, space, **_) -> int:
    """The space's purge: every agenda row goes."""
    from .models import PreventionNotice, PreventionStatus

    erased = 0
    for model in (Appointment, Reminder, PreventionStatus, PreventionNotice, AgendaSettings):
        erased += model.objects.filter(space=space).delete()[0]
    return erased
