"""iCalendar (RFC 5545) for the agenda: the subscription feed we publish, and the files we import.

The feed (`feed_calendar`) holds the space's live appointments, its reminders and its planned
prevention items, in Europe/Paris with that zone's VTIMEZONE; UIDs never change.

An imported file (`parse_ics`) comes from anyone: it is bounded in size and events, and any
fault of the file is an `IcsError` with a French message, never another exception. What the
file says is reported as is (`ImportedEvent`); which events become appointments is decided by
`feed_services.ics_import`:
- times: with a TZID (IANA or Windows name), in UTC, or floating; floating times and unknown
  zones are read as Europe/Paris time (the service is French);
- the file's own VTIMEZONE definitions are never used: icalendar would keep them in a cache
  shared by the whole process (one person's file would change how another's is read), and a
  hostile definition can cost minutes of CPU when a time is converted;
- all-day events and recurring events (RRULE, RDATE, RECURRENCE-ID) are flagged, not expanded.
"""

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as Time
from zoneinfo import ZoneInfo

from django.conf import settings
from icalendar import Calendar, Event, Timezone, vDuration
from icalendar.parser.ical.calendar import CalendarIcalParser
from icalendar.prop import vBroken

from . import models
from .services import AgendaError

PARIS = ZoneInfo("Europe/Paris")
PRODID = "-//Carnet//Agenda santé//FR"
CALENDAR_NAME = "Carnet — agenda santé"
UID_DOMAIN = "carnet"
# Our own mark on each event of the feed: an import of the feed knows its reminders and
# prevention items (not appointments) from its appointments.
KIND_PROPERTY = "X-CARNET-KIND"
KIND_APPOINTMENT, KIND_REMINDER, KIND_PREVENTION = "rendez-vous", "rappel", "prevention"
# The first line of an appointment's DESCRIPTION when it names its professional: an import of the
# feed takes it back out of the notes.
PROFESSIONAL_LINE = "Professionnel de santé : "
DEFAULT_TITLE = "Rendez-vous"
PREVENTION_TITLE = "Prévention"
REFRESH = timedelta(hours=1)  # how often we ask calendar apps to fetch the feed again
# Dates outside these years are refused in an imported file (and out of range for conversions).
FIRST_YEAR, LAST_YEAR = 1900, 2200
UID_MAX = 255  # Appointment.external_uid
# Parsing costs about 50 µs a line: a file of 1 Mo of tiny lines would take seconds. Real files
# have 10 to 30 lines an event (more once folded, which is not counted).
LINES_PER_EVENT = 50


class IcsError(AgendaError):
    """The file cannot be imported; the message says why, in French."""


# --- The feed --------------------------------------------------------------------------------


def appointment_uid(appointment) -> str:
    return f"{appointment.public_id}@{UID_DOMAIN}"


def reminder_uid(reminder) -> str:
    return f"{reminder.public_id}@{UID_DOMAIN}"


def prevention_uid(space, item_key: str) -> str:
    """Stable and unique per space, without showing the space's id."""
    return f"prevention-{uuid.uuid5(space.public_id, item_key)}@{UID_DOMAIN}"


def prevention_label(item_key: str) -> str:
    """The prevention calendar's name for an item, "Prévention" when it has none (yet)."""
    try:
        from carnet.agenda.prevention import item_label
    except ImportError:
        return PREVENTION_TITLE
    try:
        label = item_label(item_key)
    except (LookupError, ValueError):
        return PREVENTION_TITLE
    return str(label) if label else PREVENTION_TITLE


def _stamp(event: Event, uid: str, kind: str, row, now: datetime) -> None:
    event.add("UID", uid)
    event.add("DTSTAMP", now)
    if getattr(row, "created_at", None):
        event.add("CREATED", row.created_at.astimezone(UTC))
    event.add("LAST-MODIFIED", row.updated_at.astimezone(UTC))
    event.add(KIND_PROPERTY, kind)


def _appointment_event(appointment, now: datetime) -> Event:
    event = Event()
    _stamp(event, appointment_uid(appointment), KIND_APPOINTMENT, appointment, now)
    event.add("SUMMARY", appointment.title or DEFAULT_TITLE)
    event.add("DTSTART", appointment.starts_at.astimezone(PARIS))
    # Without an end, none is made up: RFC 5545 reads the event as ending when it starts.
    if appointment.ends_at is not None:
        event.add("DTEND", appointment.ends_at.astimezone(PARIS))
    if appointment.place:
        event.add("LOCATION", appointment.place)
    lines = []
    if appointment.professional_name:
        event.add("CONTACT", appointment.professional_name)
        lines.append(f"{PROFESSIONAL_LINE}{appointment.professional_name}")
    if appointment.notes:
        lines.append(appointment.notes)
    if lines:
        event.add("DESCRIPTION", "\n\n".join(lines))
    return event


def _all_day(event: Event, day: date) -> None:
    event.add("DTSTART", day)
    event.add("DTEND", day + timedelta(days=1))
    event.add("TRANSP", "TRANSPARENT")  # a note on a day, not busy time


def _reminder_event(reminder, now: datetime) -> Event:
    event = Event()
    _stamp(event, reminder_uid(reminder), KIND_REMINDER, reminder, now)
    event.add("SUMMARY", reminder.title)
    if reminder.time is None:
        _all_day(event, reminder.date)
    else:
        event.add("DTSTART", datetime.combine(reminder.date, reminder.time, tzinfo=PARIS))
        event.add("TRANSP", "TRANSPARENT")
    if reminder.comment:
        event.add("DESCRIPTION", reminder.comment)
    return event


def _prevention_event(space, status, now: datetime) -> Event:
    event = Event()
    _stamp(event, prevention_uid(space, status.item_key), KIND_PREVENTION, status, now)
    event.add("SUMMARY", prevention_label(status.item_key))
    _all_day(event, status.planned_on)
    event.add("DESCRIPTION", "Planifié dans le calendrier de prévention de votre agenda Carnet.")
    return event


def _vtimezone(years: list[int]) -> Timezone:
    """Europe/Paris over the years the feed's events need (its changes of time, listed)."""
    first, last = min(years) - 1, max(years) + 2
    return Timezone.from_tzid(
        "Europe/Paris", first_date=date(first, 1, 1), last_date=date(last, 1, 1)
    )


def feed_calendar(space) -> bytes:
    """The whole feed of a space: appointments, reminders and planned prevention items."""
    from carnet.core import clock

    now = clock.now().astimezone(UTC).replace(microsecond=0)
    live = {"space": space, "deleted_at__isnull": True}
    appointments = list(models.Appointment.objects.filter(**live).order_by("starts_at", "id"))
    reminders = list(models.Reminder.objects.filter(**live).order_by("date", "time", "id"))
    planned = list(
        models.PreventionStatus.objects.filter(
            space=space, status=models.PreventionStatus.Status.PLANNED, planned_on__isnull=False
        ).order_by("planned_on", "item_key")
    )

    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.calendar_name = CALENDAR_NAME  # NAME (RFC 7986) and X-WR-CALNAME
    calendar.add("X-WR-TIMEZONE", "Europe/Paris")
    calendar.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH))

    years = [now.year]
    years += [a.starts_at.astimezone(PARIS).year for a in appointments]
    years += [a.ends_at.astimezone(PARIS).year for a in appointments if a.ends_at]
    years += [r.date.year for r in reminders if r.time is not None]
    calendar.add_component(_vtimezone(years))
    for appointment in appointments:
        calendar.add_component(_appointment_event(appointment, now))
    for reminder in reminders:
        calendar.add_component(_reminder_event(reminder, now))
    for status in planned:
        calendar.add_component(_prevention_event(space, status, now))
    return calendar.to_ical()


# --- Import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedEvent:
    """One VEVENT as the file gives it, cleaned and cut to our fields' lengths."""

    uid: str
    title: str
    starts_at: datetime  # aware; local midnight for an all-day event
    ends_at: datetime | None = None
    place: str = ""
    professional_name: str = ""
    notes: str = ""
    all_day: bool = False
    recurring: bool = False
    cancelled: bool = False
    carnet_kind: str = ""  # our feed's mark, "" for any other file


@dataclass(frozen=True)
class ParsedCalendar:
    name: str  # X-WR-CALNAME (or NAME), else "" — the source, with the file's PRODID
    product: str  # the owner part of PRODID ("-//Doctolib//Agenda//FR" → "Doctolib"), or ""
    events: list[ImportedEvent] = field(default_factory=list)


class _SafeParser(CalendarIcalParser):
    """icalendar's parser without its process-wide cache of the file's VTIMEZONEs (see the module
    docstring): a VTIMEZONE is parsed, then forgotten."""

    def handle_end_component(self, vals: str) -> None:
        if vals.upper() == "VTIMEZONE" and self.component is not None:
            self.component.pop("TZID", None)  # without its TZID, it is not cached
        super().handle_end_component(vals)

    def prepare_components(self) -> None:
        """No second pass for VTIMEZONEs defined after their use: they are not used."""


class _SafeCalendar(Calendar):
    @classmethod
    def _get_ical_parser(cls, st):
        return _SafeParser(st, cls._get_component_factory(), cls.types_factory)


def count_label(n: int) -> str:
    """1000 → « 1 000 » (French digit grouping, with a no-break space)."""
    return f"{n:,}".replace(",", "\u00a0")


def size_label(n: int) -> str:
    """1048576 → « 1 Mo », 2048 → « 2 ko », 100 → « 100 octets »."""
    if n < 1024:
        return f"{n} octets"
    value, unit = (n / (1024 * 1024), "Mo") if n >= 1024 * 1024 else (n / 1024, "ko")
    return f"{value:.3g} {unit}".replace(".", ",")


NOT_ICS = (
    "Ce fichier n'est pas un fichier iCalendar (.ics). Exportez votre agenda au format "
    "iCalendar depuis votre application ou votre service de prise de rendez-vous, puis "
    "importez le fichier obtenu."
)
BROKEN = (
    "Ce fichier iCalendar est illisible : il est peut-être abîmé ou incomplet. Exportez-le à "
    "nouveau, puis importez-le."
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
BEGIN_EVENT = re.compile(r"^[ \t]*BEGIN[ \t]*:[ \t]*VEVENT[ \t]*\r?$", re.I | re.M)
LOGICAL_LINE = re.compile(r"^[^ \t\r\n]", re.M)  # not the continuation of a folded line


def _decode(data: bytes) -> str:
    """UTF-8 (RFC 5545), with or without BOM; UTF-16 with its BOM; else Windows-1252, which
    old Windows exporters write (every byte then reads as something)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise IcsError(BROKEN) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _first(component, name: str):
    value = component.get(name)
    if isinstance(value, list):  # the property is repeated: the first one counts
        value = value[0] if value else None
    return value


def _text(component, name: str, limit: int, *, one_line: bool = False) -> str:
    value = _first(component, name)
    if value is None:
        return ""
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 — a broken value of a hostile file: no text
        return ""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = CONTROL.sub("", text)
    text = " ".join(text.split()) if one_line else text.strip()
    return text[:limit].rstrip()


def _product(prodid: str) -> str:
    """The owner of a formal PRODID ("-//Owner//Product//FR"), else the whole value."""
    parts = [p.strip() for p in prodid.split("//")]
    if len(parts) >= 3 and parts[0] in ("-", "+"):
        return parts[1][: models.Appointment._meta.get_field("source_name").max_length]
    return prodid


def _value(prop):
    """The date, datetime or duration of a property; None when absent or broken."""
    if prop is None or isinstance(prop, vBroken):
        return None
    try:
        return prop.dt
    except Exception:  # noqa: BLE001 — whatever a hostile value does when read: no value
        return None


def _moment(value, what: str, position: str) -> tuple[datetime, bool]:
    """(aware moment, all day) of a DTSTART/DTEND value; floating and unknown zones → Paris."""
    if isinstance(value, datetime):
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise IcsError(f"{position} a une {what} hors des années {FIRST_YEAR} à {LAST_YEAR}.")
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=PARIS)
        try:
            return value.astimezone(PARIS), False
        except (OverflowError, ValueError, TypeError):
            raise IcsError(f"{position} a une {what} invalide.") from None
    if isinstance(value, date):
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise IcsError(f"{position} a une {what} hors des années {FIRST_YEAR} à {LAST_YEAR}.")
        return datetime.combine(value, Time(0, 0), tzinfo=PARIS), True
    raise IcsError(f"{position} a une {what} invalide.")


def _end(event, starts_at: datetime, all_day: bool, position: str) -> datetime | None:
    """DTEND, else DTSTART + DURATION; an end that makes no sense is left out (not refused)."""
    raw = _value(_first(event, "DTEND"))
    try:
        if raw is not None:
            ends_at, end_all_day = _moment(raw, "date de fin", position)
            if end_all_day != all_day:
                return None
        else:
            duration = _value(_first(event, "DURATION"))
            if not isinstance(duration, timedelta):
                return None
            ends_at = starts_at + duration
    except (IcsError, OverflowError):
        return None
    return ends_at if ends_at >= starts_at else None


def _event(event, number: int) -> ImportedEvent:
    title = _text(event, "SUMMARY", models.TITLE_MAX, one_line=True)
    position = f"L'événement n° {number}" + (f" (« {title[:40]} »)" if title else "")
    uid = _text(event, "UID", 10_000, one_line=True)
    if not uid:
        raise IcsError(
            f"{position} n'a pas d'identifiant (UID) : le fichier n'est pas conforme à la norme "
            "iCalendar. Exportez-le à nouveau, puis importez-le."
        )
    if len(uid) > UID_MAX:  # kept stable for the next import, within the column
        uid = "sha256:" + hashlib.sha256(uid.encode()).hexdigest()
    start = _first(event, "DTSTART")
    if start is None:
        raise IcsError(
            f"{position} n'a pas de date de début (DTSTART) : il ne peut pas être importé."
        )
    starts_at, all_day = _moment(_value(start), "date de début", position)
    ends_at = _end(event, starts_at, all_day, position)

    professional = _text(event, "CONTACT", models.PROFESSIONAL_NAME_MAX, one_line=True)
    if not professional:
        organizer = _first(event, "ORGANIZER")
        params = getattr(organizer, "params", None) or {}
        cn = params.get("CN", "") if hasattr(params, "get") else ""
        professional = " ".join(CONTROL.sub("", str(cn)).split())[: models.PROFESSIONAL_NAME_MAX]
    notes = _text(event, "DESCRIPTION", 10 * models.NOTES_MAX)
    if professional and notes.startswith(f"{PROFESSIONAL_LINE}{professional}"):
        notes = notes[len(PROFESSIONAL_LINE) + len(professional) :].strip()
    recurring = any(name in event for name in ("RRULE", "RDATE", "RECURRENCE-ID"))
    return ImportedEvent(
        uid=uid,
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        place=_text(event, "LOCATION", models.PLACE_MAX, one_line=True),
        professional_name=professional,
        notes=notes[: models.NOTES_MAX].rstrip(),
        all_day=all_day,
        recurring=recurring,
        cancelled=_text(event, "STATUS", 20, one_line=True).upper() == "CANCELLED",
        carnet_kind=_text(event, KIND_PROPERTY, 20, one_line=True).lower(),
    )


def parse_ics(data: bytes) -> ParsedCalendar:
    """Read an uploaded .ics file, or raise IcsError saying, in French, what is wrong with it."""
    max_bytes = settings.CARNET["AGENDA_ICS_MAX_BYTES"]
    max_events = settings.CARNET["AGENDA_ICS_MAX_EVENTS"]
    if not data:
        raise IcsError("Le fichier est vide.")
    if len(data) > max_bytes:
        raise IcsError(f"Le fichier est trop volumineux : {size_label(max_bytes)} au plus.")
    text = _decode(data)
    if not text.lstrip()[:15].upper().startswith("BEGIN:VCALENDAR"):
        raise IcsError(NOT_ICS)
    too_many = (
        f"Le fichier contient trop d'événements : {count_label(max_events)} au plus par "
        "import. Exportez une période plus courte, puis importez-la."
    )
    if len(BEGIN_EVENT.findall(text)) > max_events:  # before the cost of parsing them
        raise IcsError(too_many)
    if len(LOGICAL_LINE.findall(text)) > LINES_PER_EVENT * max_events:
        raise IcsError(
            "Ce fichier est trop long pour être importé. Exportez une période plus courte, puis "
            "importez-la."
        )
    try:
        calendar = _SafeCalendar.from_ical(text)
    except Exception as exc:  # icalendar raises many kinds on hostile input
        raise IcsError(BROKEN) from exc
    if getattr(calendar, "name", "") != "VCALENDAR":
        raise IcsError(NOT_ICS)
    events = [c for c in calendar.subcomponents if getattr(c, "name", "") == "VEVENT"]
    if len(events) > max_events:
        raise IcsError(too_many)
    if not events:
        raise IcsError("Ce fichier ne contient aucun événement à importer.")
    source_max = models.Appointment._meta.get_field("source_name").max_length
    name = _text(calendar, "X-WR-CALNAME", source_max, one_line=True) or _text(
        calendar, "NAME", source_max, one_line=True
    )
    product = _product(_text(calendar, "PRODID", 500, one_line=True))
    try:
        parsed = [_event(event, number) for number, event in enumerate(events, start=1)]
    except IcsError:
        raise
    except Exception as exc:  # a value icalendar accepted but that does not hold together
        raise IcsError(BROKEN) from exc
    return ParsedCalendar(name=name, product=product[:source_max], events=parsed)
