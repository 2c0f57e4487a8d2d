"""Benchmark: the daily prevention sweep (`prevention_notices_send`, run by `carnet tick`) over N
persons, against a bare scan of the same persons measured in the same run; extrapolated to
1,000,000 persons.

    .venv/bin/python bench/prevention.py [--persons N] [--day 2027-03-10] [--calendars C]

Sets up a fresh SQLite database in a temporary directory and bulk-inserts (raw executemany, as
bench/import_registry.py) N synthetic persons born uniformly over the last 95 years, half women,
each with an active space and an active account with a verified email, and recorded
vaccinations for one in ten. Then, with the clock on `--day` (a day outside the flu campaign):

- "sweep": `prevention_notices_send()` as `carnet tick` runs it the first time that day (it
  claims and queues the reminders opening that day or the next, or within the grace);
- "sweep_again": the same sweep run again that day (everything claimed: it sends nothing);
- "bare_scan": the persons' (id, birth date, sex) read in primary key order, 2,000 at a time,
  as the sweep reads them, with nothing done with them;
- "flu_campaign_day": the sweep on the eve of the flu campaign (14 October), when everyone of
  65 and more is reminded: the year's worst day.

Also the pure calendar (`calendar_for`) and the sweep's per-person check (`due_items`) timed
over C synthetic persons (medians, in microseconds). The sweep reads only the persons whose
birth date can open an item in the window (`prevention.birth_date_ranges`, about 1.5 % of them
on an ordinary day), but it joins their spaces and accounts and queues the messages: the ratio
to the bare scan of everyone is the price of the whole daily job. Persons per second are N
divided by the time of the sweep; each time is extrapolated linearly to 1,000,000 persons.
Prints one JSON line on stdout; progress goes to stderr.
"""

import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from _common import argument_parser, log, result_print, throwaway_carnet

SEED = 20261126
BATCH = 10_000  # rows per executemany
SCAN_BATCH = 2_000
MILLION = 1_000_000
VACCINES = ["grippe", "dtp", "dtcap", "hexavalent", "pneumo", "ror", "hpv"]

PERSON_COLUMNS = (
    "public_id", "nir", "last_name", "first_name", "birth_date", "sex", "vitale_serial",
    "vitale_photo", "email", "mobile", "scheme", "guardian_nirs", "is_demo", "created_at",
    "updated_at",
)  # fmt: skip
SPACE_COLUMNS = ("public_id", "person_id", "state", "created_at", "activated_at",
                 "activated_automatically")  # fmt: skip
USER_COLUMNS = (
    "password", "is_superuser", "public_id", "identifier", "kind", "person_id", "email",
    "email_verified", "mobile", "mobile_verified", "is_active", "is_staff", "date_joined",
)  # fmt: skip
VACCINATION_COLUMNS = ("public_id", "space_id", "created_at", "updated_at", "vaccine",
                       "other_name", "date", "kind", "vaccinator", "lot", "comment")  # fmt: skip


def _check_columns() -> None:
    """The column lists above are every required column of the models: a model change that
    adds one fails here, not as a constraint error halfway through the inserts."""
    from carnet.accounts.models import User
    from carnet.enrollment.models import Space
    from carnet.profile.models import Vaccination
    from carnet.registry.models import InsuredPerson

    for model, columns in ((InsuredPerson, PERSON_COLUMNS), (Space, SPACE_COLUMNS),
                           (User, USER_COLUMNS), (Vaccination, VACCINATION_COLUMNS)):  # fmt: skip
        required = {
            f.column for f in model._meta.concrete_fields if not f.primary_key and not f.null
        }
        missing = required - set(columns)
        assert not missing, f"{model.__name__}: add {sorted(missing)} to the benchmark"


def _insert(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for start in range(0, len(rows), BATCH):
        cursor.executemany(sql, rows[start : start + BATCH])


def populate(persons: int, today: date) -> dict:
    """N persons, their active spaces and accounts, vaccinations for one in ten: raw inserts
    in one transaction on Django's own connection (ids are 1..N in each table)."""
    from django.db import connection, transaction

    rng = random.Random(SEED)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    span = 95 * 365
    people, spaces, users, vaccinations = [], [], [], []
    for n in range(1, persons + 1):
        birth = today - timedelta(days=rng.randrange(span))
        sex = "F" if n % 2 else "M"
        people.append((
            uuid.UUID(int=rng.getrandbits(128)).hex, f"{n:015d}", f"BANC{n}", "Camille",
            birth.isoformat(), sex, f"{n:011d}", 1, f"assure{n}@exemple.fr", "", "", "", 0,
            now, now,
        ))  # fmt: skip
        spaces.append((uuid.UUID(int=rng.getrandbits(128)).hex, n, "active", now, now, 0))
        users.append((
            "!", 0, uuid.UUID(int=rng.getrandbits(128)).hex, f"banc.prevention.{n}", "usager",
            n, f"assure{n}@exemple.fr", 1, "", 0, 1, 0, now,
        ))  # fmt: skip
        if n % 10 == 0:
            for _ in range(rng.randint(1, 3)):
                when = birth + timedelta(days=rng.randrange(max(1, (today - birth).days)))
                vaccinations.append((
                    uuid.UUID(int=rng.getrandbits(128)).hex, n, now, now, rng.choice(VACCINES),
                    "", when.isoformat(), "inconnu", "", "", "",
                ))  # fmt: skip
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        _insert(cursor, "registry_insuredperson", PERSON_COLUMNS, people)
        _insert(cursor, "enrollment_space", SPACE_COLUMNS, spaces)
        _insert(cursor, "accounts_user", USER_COLUMNS, users)
        _insert(cursor, "profile_vaccination", VACCINATION_COLUMNS, vaccinations)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"  inserted in {time.perf_counter() - started:.1f} s")
    return {"persons": persons, "vaccinations": len(vaccinations)}


def at_day(day: date) -> None:
    """The clock on `day`, 09:00 in Paris."""
    from django.utils import timezone

    from carnet.core import clock

    moment = datetime(day.year, day.month, day.day, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    clock.set_offset(moment - timezone.now())


def bare_scan() -> int:
    """Every person's (id, birth date, sex), in primary key order, a batch at a time."""
    from carnet.registry.models import InsuredPerson

    rows = InsuredPerson.objects.order_by("id").values_list("id", "birth_date", "sex")
    seen, after = 0, 0
    while True:
        batch = list(rows.filter(id__gt=after)[:SCAN_BATCH])
        if not batch:
            return seen
        seen += len(batch)
        after = batch[-1][0]


def persons_read(day: date) -> int:
    """How many persons the sweep reads that day (those in its birth-date ranges)."""
    from django.conf import settings

    from carnet.agenda.prevention_services import _birth_dates
    from carnet.registry.models import InsuredPerson

    grace = settings.CARNET["PREVENTION_NOTICE_GRACE"]
    return InsuredPerson.objects.filter(_birth_dates(day - grace, day + timedelta(days=1))).count()


def timed_sweep(label: str) -> dict:
    from carnet.agenda.prevention_services import prevention_notices_send
    from carnet.notifications.models import OutboxMessage

    queued = OutboxMessage.objects.count()
    started = time.perf_counter()
    reminded = prevention_notices_send()
    seconds = time.perf_counter() - started
    messages = OutboxMessage.objects.count() - queued
    log(f"  {label}: {reminded} items reminded, {messages} messages, {seconds:.2f} s")
    return {"seconds": round(seconds, 3), "items_reminded": reminded, "messages": messages}


def pure_timings(count: int, today: date) -> dict:
    from carnet.agenda.prevention import calendar_for, due_items

    rng = random.Random(SEED + 1)
    people = [
        (today - timedelta(days=rng.randrange(95 * 365)), rng.choice("FM")) for _ in range(count)
    ]
    grace = timedelta(days=7)
    medians = {}
    for name, function in (
        ("calendar_for_us", lambda b, s: calendar_for(b, s, today)),
        ("due_items_us", lambda b, s: due_items(b, s, today, grace=grace)),
    ):
        times = []
        for birth, sex in people:
            started = time.perf_counter()
            function(birth, sex)
            times.append(time.perf_counter() - started)
        medians[name] = round(statistics.median(times) * 1e6, 1)
    return medians


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2027, 3, 10))
    parser.add_argument("--calendars", type=int, default=10_000)
    args = parser.parse_args()
    if args.persons < 100_000:
        log("note: the extrapolation to 1,000,000 is meant from N ≥ 100,000")

    began = time.perf_counter()
    with throwaway_carnet("prevention", keep=args.keep, CARNET_LOG_LEVEL="WARNING"):
        _check_columns()
        log(f"inserting {args.persons} persons, spaces and accounts…")
        filled = populate(args.persons, args.day)

        at_day(args.day)
        read = persons_read(args.day)
        log(f"sweep on {args.day} ({read} persons in the birth-date ranges)…")
        bare_scan()  # warm the page cache, as the sweep would find it
        scan_started = time.perf_counter()
        scanned = bare_scan()
        scan_seconds = time.perf_counter() - scan_started
        log(f"  bare scan: {scanned} persons, {scan_seconds:.2f} s")
        sweep = timed_sweep("sweep")
        again = timed_sweep("sweep_again")

        flu_day = date(args.day.year if args.day < date(args.day.year, 10, 14) else
                       args.day.year + 1, 10, 14)  # fmt: skip
        at_day(flu_day)
        flu_read = persons_read(flu_day)
        flu = timed_sweep(f"flu_campaign_day {flu_day} ({flu_read} persons read)")
        at_day(args.day)
        log(f"timing the pure functions over {args.calendars} persons…")
        pure = pure_timings(args.calendars, args.day)

        scale = MILLION / args.persons
        result = {
            "persons": args.persons,
            "day": args.day.isoformat(),
            "filled": filled,
            "sweep": {
                **sweep,
                "persons_read": read,
                "persons_per_s": round(args.persons / sweep["seconds"]),
                "extrapolated_1m_seconds": round(sweep["seconds"] * scale, 1),
            },
            "sweep_again": {
                **again,
                "persons_per_s": round(args.persons / again["seconds"]),
                "extrapolated_1m_seconds": round(again["seconds"] * scale, 1),
            },
            "bare_scan": {
                "seconds": round(scan_seconds, 3),
                "persons_per_s": round(scanned / scan_seconds),
                "extrapolated_1m_seconds": round(scan_seconds * scale, 1),
            },
            "ratio_sweep_to_bare_scan": round(sweep["seconds"] / scan_seconds, 2),
            "flu_campaign_day": {
                **flu,
                "day": flu_day.isoformat(),
                "persons_read": flu_read,
                "persons_per_s": round(args.persons / flu["seconds"]),
                "extrapolated_1m_seconds": round(flu["seconds"] * scale, 1),
            },
            "pure": pure,
            "seconds_total": round(time.perf_counter() - began, 1),
        }
        result_print(result)


if __name__ == "__main__":
    main()
