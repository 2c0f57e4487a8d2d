"""Use cases of the prevention calendar: read it, follow an item, choose the reminders, and the
daily sweep of reminders (`prevention_notices_send`; `prevention_notices_daily` runs it once a
day from `carnet tick`).

The calendar itself is computed (`prevention.calendar_for`) from the person's birth date and
sex, their recorded vaccinations and their statuses: a page costs a constant number of queries.

The sweep reads only the persons who can have an item opening today, tomorrow, or within
PREVENTION_NOTICE_GRACE before (a late sweep): `prevention.birth_date_ranges` turns the rules
into birth dates, about 1.5 % of everyone on most days (everyone of 65 and more on the eve of
the flu campaign). It walks them in primary key order, a batch at a time, with one query per
batch for each of vaccinations, statuses, notices sent, opt-outs and preferences. Each
reminder is claimed by inserting its `PreventionNotice` (unique per space and item) with
`ON CONFLICT DO NOTHING RETURNING`, in the transaction of its outbox message: only what this
sweep inserted is sent, so two sweeps at once, or one run again, send each reminder exactly
once. The message says that a reminder waits, never which (invariant 7).
"""

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from carnet.core import clock
from carnet.enrollment.models import Space

from . import prevention
from .models import AgendaSettings, PreventionNotice, PreventionStatus
from .services import AgendaError, _audit, _writable

STATUSES = (prevention.PLANIFIE, prevention.REALISE, prevention.NON_REALISE)
# "À planifier" is no row: choosing it again removes what the person had said.
SETTABLE = (prevention.A_PLANIFIER, *STATUSES)
PLANNED_MAX = timedelta(days=5 * 366)  # how far ahead a planned date may be
NOTICE_TEMPLATE = "rappel_prevention"
NOTICE_KIND = "rappel_prevention"
NOTICE_SMS = "Carnet : un rappel de prévention vous attend dans votre agenda santé."
CLAIM_CHUNK = 300  # notices per INSERT statement (3 parameters each)
NOTICE_HOUR = 8  # Paris time: `prevention_notices_daily` sends nothing earlier in the day


class PreventionError(AgendaError):
    """A refusal in French, with the form field it is about (None: the whole form)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass
class PreventionCalendar:
    items: list[prevention.Item]
    opt_out: list[str]  # kinds without reminders
    birth_date: date
    version: str  # of the rules file

    @property
    def version_date(self) -> date:
        return date.fromisoformat(self.version)

    @property
    def groups(self):
        return prevention.groups(self.items)


# --- Reads ----------------------------------------------------------------------------------


def prevention_space(user) -> Space:
    """The space whose calendar `user` may read and follow: their own, active (else 404, the
    same for a missing space and another one's)."""
    from django.http import Http404

    from carnet.enrollment.selectors import space_for_user

    space = space_for_user(user)
    if space is None or space.state != Space.State.ACTIVE:
        raise Http404
    return space


def _vaccinations(space) -> list[tuple[str, date]]:
    from carnet.profile.models import Vaccination

    return list(
        Vaccination.objects.filter(
            space=space, deleted_at__isnull=True, vaccine__in=prevention.RULES.vaccine_codes
        ).values_list("vaccine", "date")
    )


def _statuses(space) -> dict[str, tuple]:
    rows = PreventionStatus.objects.filter(space=space).values_list(
        "item_key", "status", "planned_on", "done_on"
    )
    return {key: (status, planned, done) for key, status, planned, done in rows}


def _opt_out(value) -> list[str]:
    """The stored opt-outs, only known kinds (the column is free JSON)."""
    if not isinstance(value, list):
        return []
    return [kind for kind in prevention.KINDS if kind in value]


def prevention_calendar(space) -> PreventionCalendar:
    """The space's calendar today, in five queries whatever it holds (person, vaccinations,
    statuses, notices, settings; the person is free when `space_for_user` joined it)."""
    person = space.person
    notices = dict(PreventionNotice.objects.filter(space=space).values_list("item_key", "sent_at"))
    settings_row = AgendaSettings.objects.filter(space=space).values_list(
        "prevention_opt_out", flat=True
    )
    items = prevention.calendar_for(
        person.birth_date,
        person.sex,
        clock.today(),
        _vaccinations(space),
        _statuses(space),
        notices,
    )
    return PreventionCalendar(
        items=items,
        opt_out=_opt_out(settings_row.first()),
        birth_date=person.birth_date,
        version=prevention.RULES.version,
    )


@dataclass
class ChildCalendar:
    first_name: str
    birth_date: date
    items: list[prevention.Item]  # to do now, then upcoming

    @property
    def now(self) -> list[prevention.Item]:
        return [item for item in self.items if item.group == "a_faire"]

    @property
    def upcoming(self) -> list[prevention.Item]:
        return [item for item in self.items if item.group == "a_venir"]


def children_calendars(user) -> list[ChildCalendar]:
    """The recommendations for the minors whose legal representative the insurer's registry
    names this person to be (`guardian_nirs`): computed from the child's birth date and sex only,
    never from the child's own space (reading it is for the linked profiles, through consent).
    One query, whatever the family."""
    from carnet.registry.models import InsuredPerson

    person = getattr(user, "person", None)
    if person is None or not person.nir:
        return []
    today = clock.today()
    try:  # born after this day: under 18 today
        adult_born = today.replace(year=today.year - 18)
    except ValueError:  # 29 February
        adult_born = today.replace(year=today.year - 18, day=28)
    children = (
        InsuredPerson.objects.filter(guardian_nirs__contains=person.nir, birth_date__gt=adult_born)
        .only("first_name", "birth_date", "sex", "guardian_nirs")
        .order_by("birth_date", "id")
    )
    calendars = []
    for child in children:
        if person.nir not in child.guardian_nirs.split("|"):  # a whole NIR, not a part of one
            continue
        items = prevention.calendar_for(child.birth_date, child.sex, today)
        shown = [item for item in items if item.group in ("a_faire", "a_venir")]
        calendars.append(ChildCalendar(child.first_name, child.birth_date, shown))
    return calendars


def prevention_item(space, item_key: str) -> prevention.Item | None:
    """One item of the space's calendar (shown today or not); None if it is not theirs."""
    person = space.person
    return prevention.item_for(
        item_key,
        person.birth_date,
        person.sex,
        clock.today(),
        _vaccinations(space),
        _statuses(space),
    )


# --- Following an item ----------------------------------------------------------------------


def _check_dates(status, planned_on, done_on, birth_date, today) -> None:
    if status == prevention.REALISE:
        if done_on is None:
            raise PreventionError("Indiquez la date de réalisation.", "done_on")
        if done_on > today:
            raise PreventionError("La date ne peut pas être dans le futur.", "done_on")
        if done_on < birth_date:
            raise PreventionError("La date ne peut pas être antérieure à la naissance.", "done_on")
    if status == prevention.PLANIFIE and planned_on is not None:
        if planned_on < today:
            raise PreventionError("La date prévue ne peut pas être passée.", "planned_on")
        if planned_on > today + PLANNED_MAX:
            raise PreventionError(
                "Indiquez une date prévue dans les cinq prochaines années.", "planned_on"
            )


def prevention_status_set(
    *,
    user,
    space,
    item_key: str,
    status: str,
    planned_on: date | None = None,
    done_on: date | None = None,
    add_to_profile: bool = False,
    client: str = "",
) -> prevention.Item:
    """ "Planifié" (with an optional date), "Réalisé" (with its date; for a vaccination, and
    if asked, added to the profile's vaccinations), "Non réalisé", or back to "À planifier".
    Returns the item as it now stands."""
    from carnet.profile.models import Vaccination
    from carnet.profile.services import entry_create

    _writable(space)
    if status not in SETTABLE:
        raise PreventionError("Choisissez où vous en êtes.", "status")
    person = space.person
    today = clock.today()
    item = prevention.item_for(item_key, person.birth_date, person.sex, today)
    if item is None:
        raise PreventionError("Cette recommandation ne figure pas dans votre calendrier.")
    _check_dates(status, planned_on, done_on, person.birth_date, today)
    if add_to_profile and not (item.kind == "vaccination" and status == prevention.REALISE):
        raise PreventionError(
            "Seule une vaccination réalisée peut être ajoutée à vos vaccinations.",
            "add_to_profile",
        )
    with transaction.atomic():
        if status == prevention.A_PLANIFIER:
            PreventionStatus.objects.filter(space=space, item_key=item_key).delete()
        else:
            PreventionStatus.objects.update_or_create(
                space=space,
                item_key=item_key,
                defaults={
                    "status": status,
                    "planned_on": planned_on if status == prevention.PLANIFIE else None,
                    "done_on": done_on if status == prevention.REALISE else None,
                    "updated_at": clock.now(),
                },
            )
        detail = {"element": item_key, "statut": status}
        if add_to_profile:
            already = Vaccination.objects.filter(
                space=space, deleted_at__isnull=True, vaccine=item.vaccine, date=done_on
            ).exists()
            if not already:
                entry_create(
                    actor=user,
                    space=space,
                    model=Vaccination,
                    values={"vaccine": item.vaccine, "date": done_on},
                )
            detail["ajout_vaccination"] = not already
        _audit(user.actor, space, "prevention_statut", client=client, **detail)
    return prevention_item(space, item_key)


def prevention_opt_out_set(*, user, space, kinds, client: str = "") -> list[str]:
    """ "Je ne souhaite plus recevoir ces rappels", per kind: the kinds given are the ones
    without reminders from now on (an empty list: every reminder again)."""
    _writable(space)
    wanted = set(kinds)
    if not wanted <= set(prevention.KINDS):
        raise PreventionError("Choisissez des rappels de la liste.", "kinds")
    chosen = [kind for kind in prevention.KINDS if kind in wanted]
    with transaction.atomic():
        row, _ = AgendaSettings.objects.select_for_update().get_or_create(space=space)
        row.prevention_opt_out, row.updated_at = chosen, clock.now()
        row.save(update_fields=["prevention_opt_out", "updated_at"])
        _audit(user.actor, space, "prevention_rappels", client=client, sans_rappel=chosen)
    return chosen


# --- The sweep ------------------------------------------------------------------------------

# A birth-date range longer than this is one BETWEEN in SQL, a shorter one a list of days: an
# IN list is a single lookup per row (SQLite builds an index of it), where a chain of OR'ed
# BETWEENs is evaluated term by term, several times slower on a million rows.
LISTED_DAYS_MAX = 62


def _birth_dates(first: date, last: date) -> Q | None:
    """Who may have an item opening between `first` and `last`, as a filter on birth dates."""
    listed: list[date] = []
    query = None
    for low, high in prevention.birth_date_ranges(first, last):
        if low is not None and (high - low).days < LISTED_DAYS_MAX:
            listed.extend(low + timedelta(days=n) for n in range((high - low).days + 1))
            continue
        part = Q(birth_date__lte=high) if low is None else Q(birth_date__range=(low, high))
        query = part if query is None else query | part
    if listed:
        query = Q(birth_date__in=listed) if query is None else query | Q(birth_date__in=listed)
    return query


def prevention_notices_send(*, batch_size: int = 2000) -> int:
    """Remind every person with an active space and an active account of the items whose
    period opens today or tomorrow (or opened within PREVENTION_NOTICE_GRACE and is still
    open), still "à planifier", of a kind they did not opt out of, by the channels they chose
    for "prevention". Exactly once per item, however often it runs. Returns the number of items
    reminded (one message per person, whatever their number)."""
    from carnet.registry.models import InsuredPerson

    today = clock.today()
    grace = settings.CARNET["PREVENTION_NOTICE_GRACE"]
    births = _birth_dates(today - grace, today + timedelta(days=1))
    if births is None:
        return 0
    persons = (
        InsuredPerson.objects.filter(births, space__state=Space.State.ACTIVE)
        .filter(account__is_active=True)
        .order_by("id")
        .values_list("id", "birth_date", "sex", "space__id", "account__id")
    )
    reminded, after = 0, 0
    while True:
        batch = list(persons.filter(id__gt=after)[:batch_size])
        if not batch:
            return reminded
        after = batch[-1][0]
        reminded += _remind(batch, today, grace)


def prevention_notices_daily() -> int:
    """For `carnet tick`, which runs every minute: the sweep once a day, from
    NOTICE_HOUR (Paris) — reminders are not sent at night. The day's run is remembered in the
    cache; a cache lost or shared by several workers only means one more run, which sends
    nothing twice. A space activated later that day is reminded the next morning (the grace
    covers it). A cache that cannot be reached (Redis down) fails the sweep, which the next
    tick tries again, rather than let it scan every profile at every tick."""
    from django.core.cache import cache
    from django.utils import timezone

    now = timezone.localtime(clock.now())
    if now.hour < NOTICE_HOUR:
        return 0
    done = f"carnet:prevention:sweep:{now.date().isoformat()}"
    if cache.get(done):
        return 0
    reminded = prevention_notices_send()
    cache.set(done, True, timeout=2 * 86400)
    return reminded


def _by_space(rows) -> dict:
    found = defaultdict(list)
    for space_id, *rest in rows:
        found[space_id].append(rest)
    return found


def _remind(batch, today: date, grace: timedelta) -> int:
    """One batch of (person id, birth date, sex, space id, account id): due items, claimed and
    sent in one short transaction."""
    from carnet.profile.models import Vaccination

    # Without anything recorded first: who may have something due (sex, kinds, ages).
    candidates = [row for row in batch if prevention.due_items(row[1], row[2], today, grace=grace)]
    if not candidates:
        return 0
    space_ids = [row[3] for row in candidates]
    doses = _by_space(
        Vaccination.objects.filter(
            space_id__in=space_ids,
            deleted_at__isnull=True,
            vaccine__in=prevention.RULES.vaccine_codes,
        ).values_list("space_id", "vaccine", "date")
    )
    statuses = _by_space(
        PreventionStatus.objects.filter(space_id__in=space_ids).values_list(
            "space_id", "item_key", "status", "planned_on", "done_on"
        )
    )
    notified = _by_space(
        PreventionNotice.objects.filter(space_id__in=space_ids).values_list("space_id", "item_key")
    )
    opt_out = dict(
        AgendaSettings.objects.filter(space_id__in=space_ids).values_list(
            "space_id", "prevention_opt_out"
        )
    )
    wanted: list[tuple[int, str]] = []
    owners: dict[int, int] = {}
    for _person, birth, sex, space_id, account_id in candidates:
        due = prevention.due_items(
            birth,
            sex,
            today,
            [tuple(d) for d in doses.get(space_id, ())],
            {key: tuple(rest) for key, *rest in statuses.get(space_id, ())},
            grace=grace,
            excluded_kinds=_opt_out(opt_out.get(space_id)),
            notified={key for (key,) in notified.get(space_id, ())},
        )
        wanted.extend((space_id, item.key) for item in due)
        owners[space_id] = account_id
    if not wanted:
        return 0
    with transaction.atomic():
        claimed = _claim(sorted(wanted), clock.now())
        _send({owners[space_id] for space_id, _ in claimed})
    return len(claimed)


def _claim(pairs: list[tuple[int, str]], now) -> set[tuple[int, str]]:
    """Insert the notices, skipping those that exist (sent before, or by a sweep running at
    the same time): the (space id, item key) actually inserted, hence to send."""
    table = connection.ops.quote_name(PreventionNotice._meta.db_table)
    sent_at = connection.ops.adapt_datetimefield_value(now)
    claimed: set[tuple[int, str]] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(pairs), CLAIM_CHUNK):
            chunk = pairs[start : start + CLAIM_CHUNK]
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            # The table name is ours; every value is a parameter. Portable SQL (PostgreSQL,
            # SQLite ≥ 3.35): bulk_create(ignore_conflicts=True) cannot say what it inserted.
            cursor.execute(
                f"INSERT INTO {table} (space_id, item_key, sent_at) VALUES {values} "  # noqa: S608
                "ON CONFLICT (space_id, item_key) DO NOTHING RETURNING space_id, item_key",
                [value for space_id, key in chunk for value in (space_id, key, sent_at)],
            )
            claimed.update((space_id, key) for space_id, key in cursor.fetchall())
    return claimed


def _send(account_ids: set[int]) -> None:
    """One message per person, whatever the number of items: that a reminder waits. The
    channels are those of `accounts.services.notify_preferred` (topic "prevention"), chosen
    here for a whole batch at once: one query for the preferences, one text rendered, one
    insert into the outbox (a test holds both to the same choices)."""
    from carnet.accounts.models import NotificationPreference, User
    from carnet.notifications.services import messages_queue, render_email, sms

    owners = list(User.objects.filter(pk__in=account_ids, is_active=True).order_by("pk"))
    if not owners:
        return
    chosen = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=account_ids)}
    email = render_email(NOTICE_TEMPLATE, {"url": settings.SERVICE_URL}, to="", kind=NOTICE_KIND)
    drafts = []
    for owner in owners:
        for channel in _channels(owner, chosen.get(owner.pk) or NotificationPreference()):
            if channel == "email":
                drafts.append(replace(email, to=owner.email))
            else:
                drafts.append(sms(NOTICE_SMS, to=owner.mobile, kind=NOTICE_KIND))
    messages_queue(drafts)


def _channels(owner, preferences) -> list[str]:
    """`notify_preferred`'s choice for "prevention": the chosen channels that are verified; if
    none of them is, the verified email, else the verified mobile; nothing when the person
    turned both off."""
    by_email, by_sms = preferences.prevention_email, preferences.prevention_sms
    if not (by_email or by_sms):
        return []
    email_ok = bool(owner.email and owner.email_verified)
    sms_ok = bool(owner.mobile and owner.mobile_verified)
    chosen = [c for c, wanted, ok in (("email", by_email, email_ok), ("sms", by_sms, sms_ok))
              if wanted and ok]  # fmt: skip
    if chosen:
        return chosen
    if email_ok:
        return ["email"]
    return ["sms"] if sms_ok else []
