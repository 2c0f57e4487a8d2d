"""Reads of the agenda, always scoped to the person's own active space, and the directory search
of the appointment form (public directory data only).

Lists merge appointments and reminders by moment in Python over two ordered, sliced queries, so
a page costs the same few queries whatever its content.
"""

import calendar
import heapq
import itertools
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as Time

from django.conf import settings
from django.db.models import CharField, F, Func, Q
from django.http import Http404
from django.utils import timezone

from carnet.core import clock
from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user
from carnet.professionals.models import Professional

from .models import Appointment, Reminder

PAGE_SIZE = 30
# A list page asks each table for page × PAGE_SIZE + 1 rows: the page number is bounded.
MAX_PAGE = 50
# The years the agenda keeps and shows: a date out of this range is refused by the forms and
# services, a month out of it is a 404, never a 500 (a week before year 1 does not exist).
FIRST_YEAR, LAST_YEAR = 1900, 2200
DAY_NAMES = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
MONTH_NAMES = [
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
]  # fmt: skip


def page_size() -> int:
    return settings.CARNET.get("AGENDA_PAGE_SIZE", PAGE_SIZE)


def agenda_space(user) -> Space:
    """The space whose agenda `user` keeps: their own, active (anything else: 404)."""
    space = space_for_user(user)
    if space is None or space.state != Space.State.ACTIVE:
        raise Http404
    return space


def live_appointments(space: Space):
    return Appointment.objects.filter(space=space, deleted_at__isnull=True)


def live_reminders(space: Space):
    return Reminder.objects.filter(space=space, deleted_at__isnull=True)


def appointment_of_space(space: Space, public_id) -> Appointment:
    """A live appointment of the space; another space's id is a 404, like a missing one."""
    found = live_appointments(space).filter(public_id=public_id).select_related("space").first()
    if found is None:
        raise Http404
    return found


def reminder_of_space(space: Space, public_id) -> Reminder:
    found = live_reminders(space).filter(public_id=public_id).select_related("space").first()
    if found is None:
        raise Http404
    return found


# --- Items: appointments and reminders in one list -----------------------------------------


@dataclass(frozen=True)
class Item:
    """One line of the agenda: an appointment or a reminder, with its local day and time."""

    row: Appointment | Reminder
    day: date
    at: Time | None  # local time; None: a reminder for the whole day
    sort_key: tuple = field(compare=False, repr=False)

    @property
    def is_appointment(self) -> bool:
        return isinstance(self.row, Appointment)

    @property
    def label(self) -> str:
        if self.is_appointment:
            return self.row.title or "Rendez-vous"
        return self.row.title

    @property
    def ends_at(self) -> Time | None:
        if self.is_appointment and self.row.ends_at is not None:
            return timezone.localtime(self.row.ends_at).time()
        return None


def appointment_item(row: Appointment) -> Item:
    local = timezone.localtime(row.starts_at)
    # The absolute moment, not the local time: an autumn night's hour comes twice.
    return Item(row, local.date(), local.time(), (local.date(), True, row.starts_at, 0, row.pk))


def reminder_item(row: Reminder) -> Item:
    moment = timezone.make_aware(datetime.combine(row.date, row.time)) if row.time else None
    # A reminder without a time comes first in its day (as ordered by the database: NULLS FIRST).
    key = (row.date, row.time is not None, moment or datetime.min.replace(tzinfo=UTC), 1)
    return Item(row, row.date, row.time, (*key, row.pk))


def by_day(items: list[Item]) -> list[tuple[date, list[Item]]]:
    """The items grouped under their day, in the order given."""
    return [(day, list(group)) for day, group in itertools.groupby(items, key=lambda i: i.day)]


@dataclass(frozen=True)
class ItemsPage:
    items: list[Item]
    number: int
    has_previous: bool
    has_next: bool

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def page_number(raw) -> int:
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE)


def _now_parts() -> tuple[datetime, date, Time]:
    now = clock.now()
    local = timezone.localtime(now)
    return now, local.date(), local.time()


def _upcoming_filters(now, today, time_now) -> tuple[Q, Q]:
    """Still to come or under way: an appointment until its end (its start without one), a
    reminder until its time (all its day without one)."""
    appointments = Q(ends_at__gte=now) | Q(ends_at__isnull=True, starts_at__gte=now)
    reminders = (
        Q(date__gt=today) | Q(date=today, time__isnull=True) | Q(date=today, time__gte=time_now)
    )
    return appointments, reminders


def agenda_page(space: Space, *, past: bool = False, page=1) -> ItemsPage:
    """À venir (soonest first) or Passés (latest first), appointments and reminders mixed, in
    two queries whatever the page."""
    number = page_number(page)
    size = page_size()
    wanted = number * size + 1
    appointments_q, reminders_q = _upcoming_filters(*_now_parts())
    if past:
        appointments = live_appointments(space).exclude(appointments_q)
        reminders = live_reminders(space).exclude(reminders_q)
        appointments = appointments.order_by("-starts_at", "-id")
        reminders = reminders.order_by("-date", F("time").desc(nulls_last=True), "-id")
    else:
        appointments = live_appointments(space).filter(appointments_q)
        reminders = live_reminders(space).filter(reminders_q)
        appointments = appointments.order_by("starts_at", "id")
        reminders = reminders.order_by("date", F("time").asc(nulls_first=True), "id")
    merged = list(
        heapq.merge(
            [appointment_item(row) for row in appointments[:wanted]],
            [reminder_item(row) for row in reminders[:wanted]],
            key=lambda item: item.sort_key,
            reverse=past,
        )
    )
    start = (number - 1) * size
    return ItemsPage(
        items=merged[start : start + size],
        number=number,
        has_previous=number > 1,
        has_next=len(merged) > start + size and number < MAX_PAGE,
    )


# --- The month view ------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    in_month: bool
    today: bool
    items: list[Item]


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    weeks: list[list[Day]]
    count: int

    @property
    def name(self) -> str:
        return f"{MONTH_NAMES[self.month - 1]} {self.year}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def previous(self) -> "MonthRef | None":
        return MonthRef.of(*month_shift(self.year, self.month, -1))

    @property
    def next(self) -> "MonthRef | None":
        return MonthRef.of(*month_shift(self.year, self.month, 1))

    @property
    def days_with_items(self) -> list[Day]:
        return [d for week in self.weeks for d in week if d.in_month and d.items]


@dataclass(frozen=True)
class MonthRef:
    """A neighbouring month, as its URL wants it ("2027", "03") and as it is read."""

    year: str
    month: str
    name: str

    @classmethod
    def of(cls, year: int, month: int) -> "MonthRef | None":
        if not month_valid(year, month):
            return None
        return cls(f"{year:04d}", f"{month:02d}", f"{MONTH_NAMES[month - 1]} {year}")


def month_shift(year: int, month: int, by: int) -> tuple[int, int]:
    """(year, month) moved by `by` months: December + 1 is January of the next year."""
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def month_valid(year: int, month: int) -> bool:
    return FIRST_YEAR <= year <= LAST_YEAR and 1 <= month <= 12


def month_view(space: Space, year: int, month: int) -> Month:
    """The month's grid, Monday first, with each day's appointments and reminders (two
    queries); days of the neighbouring months fill the first and last weeks, empty."""
    if not month_valid(year, month):
        raise Http404
    first = date(year, month, 1)
    next_year, next_month = month_shift(year, month, 1)
    after = date(next_year, next_month, 1)
    start = timezone.make_aware(datetime.combine(first, Time(0)))
    end = timezone.make_aware(datetime.combine(after, Time(0)))
    items: dict[date, list[Item]] = {}
    appointments = live_appointments(space).filter(starts_at__gte=start, starts_at__lt=end)
    reminders = live_reminders(space).filter(date__gte=first, date__lt=after)
    merged = heapq.merge(
        [appointment_item(row) for row in appointments.order_by("starts_at", "id")],
        [
            reminder_item(row)
            for row in reminders.order_by("date", F("time").asc(nulls_first=True), "id")
        ],
        key=lambda item: item.sort_key,
    )
    count = 0
    for item in merged:
        items.setdefault(item.day, []).append(item)
        count += 1
    today = clock.today()
    grid = calendar.Calendar(firstweekday=calendar.MONDAY).monthdatescalendar(year, month)
    weeks = [
        [
            Day(d, d.month == month, d == today, items.get(d, []) if d.month == month else [])
            for d in week
        ]
        for week in grid
    ]
    return Month(year, month, weeks, count)


# --- The directory, for the appointment form -----------------------------------------------

SEARCH_MIN = 2
SEARCH_MAX = 100
SEARCH_RESULTS = 20
SEARCH_WORDS = 5
# Words that name no one: "Dr Martin" finds Martin.
SEARCH_IGNORED = {"dr", "docteur", "pr", "professeur"}
DIRECTORY_FIELDS = (
    "id", "public_id", "first_name", "last_name", "profession", "specialty", "postcode", "city",
)  # fmt: skip
# Accents set aside by PostgreSQL (without the unaccent extension): the letters of French
# names and places.
_ACCENTED = "ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖòóôõöÙÚÛÜùúûüÝýÿ"
_PLAIN = "AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOoooooUUUUuuuuYyy"
_LIGATURES = (("Œ", "oe"), ("œ", "oe"), ("Æ", "ae"), ("æ", "ae"))
_SEPARATORS = "-'’"  # "Jean-Pierre" is found by "jean pierre", "D'Arc" by "d arc"


class Folded(Func):
    """The text in lower case without accents, ligatures, hyphens or apostrophes, as `fold`
    does in Python: by TRANSLATE on PostgreSQL (no extension needed), by `fold` itself on
    SQLite (whose LOWER folds ASCII only, and whose parser refuses deep REPLACE nests)."""

    output_field = CharField()

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        params = [*params, _ACCENTED + _SEPARATORS, _PLAIN + " " * len(_SEPARATORS)]
        sql = f"TRANSLATE({sql}, %s, %s)"
        for old, new in _LIGATURES:
            sql = f"REPLACE({sql}, %s, %s)"
            params += [old, new]
        return f"LOWER({sql})", params

    def as_sqlite(self, compiler, connection, **extra_context):
        connection.ensure_connection()
        # Registered on the connection about to run the query (cheap, idempotent).
        connection.connection.create_function("carnet_fold", 1, _fold_value, deterministic=True)
        sql, params = compiler.compile(self.source_expressions[0])
        return f"carnet_fold({sql})", params


def _fold_value(value):
    return fold(value) if isinstance(value, str) else value


def fold(text: str) -> str:
    """Lower case, without accents, ligatures, hyphens or apostrophes, spaces collapsed."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    for old, new in _LIGATURES:
        text = text.replace(old, new)
    for sep in _SEPARATORS:
        text = text.replace(sep, " ")
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def search_words(query: str) -> list[str]:
    """The words searched for, or [] when the query is too short to search (< SEARCH_MIN)."""
    folded = fold(query[:SEARCH_MAX])
    if len(folded.replace(" ", "")) < SEARCH_MIN:
        return []
    words = [w for w in folded.split() if w not in SEARCH_IGNORED] or folded.split()
    return words[:SEARCH_WORDS]


def _professions_matching(word: str) -> list[str]:
    return [code for code, label in Professional.Profession.choices if word in fold(str(label))]


def directory_search(query: str) -> list[Professional]:
    """Directory entries whose name, profession (or specialty) or city (or postcode) hold every
    word of `query`, case and accents aside; at most SEARCH_RESULTS, by name; one query.
    Only public directory fields are read (never the RPPS, emails or the account)."""
    words = search_words(query)
    if not words:
        return []
    rows = Professional.objects.annotate(
        _first=Folded("first_name"),
        _last=Folded("last_name"),
        _specialty=Folded("specialty"),
        _city=Folded("city"),
    )
    for word in words:
        matches = (
            Q(_first__contains=word)
            | Q(_last__contains=word)
            | Q(_specialty__contains=word)
            | Q(_city__contains=word)
            | Q(postcode__startswith=word)
        )
        professions = _professions_matching(word)
        if professions:
            matches |= Q(profession__in=professions)
        rows = rows.filter(matches)
    return list(
        rows.order_by("last_name", "first_name", "id").only(*DIRECTORY_FIELDS)[:SEARCH_RESULTS]
    )


def directory_entry(public_id) -> Professional | None:
    """One directory entry by its public id (a choice in the appointment form), or None."""
    try:
        wanted = uuid.UUID(str(public_id))
    except ValueError:  # not a UUID: nothing to find
        return None
    return Professional.objects.only(*DIRECTORY_FIELDS).filter(public_id=wanted).first()


def directory_label(pro: Professional) -> str:
    """« Claire MARTIN — Médecin (Médecine générale), Paris »: public directory data only."""
    what = pro.get_profession_display()
    if pro.specialty:
        what = f"{what} ({pro.specialty})"
    where = f", {pro.city}" if pro.city else ""
    return f"{pro.full_name} — {what}{where}"
