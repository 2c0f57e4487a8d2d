"""Benchmark: registry import and provisional-code issuance, each against a raw baseline.

    .venv/bin/python bench/import_registry.py [--rows N] [--code-persons M] [--profile FILE]

Sets up fresh SQLite databases in a temporary directory, writes N synthetic (valid, never real)
registry rows to a CSV file, then measures in the same run:

- `registry_import` of that file, against the same rows inserted with `executemany` straight
  into `registry_insuredperson` of a second fresh database;
- `codes_send` for M of the imported persons (emails to the outbox, PDF letters for those
  without email), against `executemany` of M rows into the provisional-code table.

Prints one JSON line on stdout; progress goes to stderr.
"""

import cProfile
import csv
import random
import shutil
import sqlite3
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from _common import argument_parser, log, result_print, throwaway_carnet

LAST_NAMES = [
    "MARTIN",
    "BERNARD",
    "DUBOIS",
    "THOMAS",
    "ROBERT",
    "RICHARD",
    "PETIT",
    "DURAND",
    "LEROY",
    "MOREAU",
    "SIMON",
    "LAURENT",
    "LEFÈBVRE",
    "MICHEL",
    "GARCIA",
    "DAVID",
    "BERTRAND",
    "ROUX",
    "VINCENT",
    "FOURNIER",
    "N'DIAYE",
    "DE LA FONTAINE",
    "MÜLLER",
    "LE GALL",
]
FIRST_NAMES = {
    "1": ["Jean", "Pierre", "Michel", "André", "Louis", "Hugo", "Noé", "Karim", "Jean-Loïc"],
    "2": ["Marie", "Nathalie", "Isabelle", "Léa", "Chloé", "Inès", "Fatou", "Anne-Sophie"],
}
DEPARTMENTS = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B", "971", "974"]
SCHEMES = ["Régime général", "Régime général", "Régime général", "MSA", "Indépendants", ""]
# Metropolitan mobile prefixes libphonenumber accepts, and a few overseas ones (national form).
MOBILE_PREFIXES = ["06", "06", "07"]
OVERSEAS = ["0690", "0696", "0694", "0692"]
COLUMNS = [
    "nir",
    "last_name",
    "first_name",
    "birth_date",
    "sex",
    "vitale_serial",
    "vitale_photo",
    "email",
    "mobile",
    "scheme",
    "guardian_nirs",
]


def nir_key(first13: str) -> int:
    return 97 - int(first13.replace("2A", "19").replace("2B", "18")) % 97


def _is_date(digits: str) -> bool:
    try:
        date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    except ValueError:
        return False
    return True


def _mobile(rnd: random.Random) -> str:
    kind = rnd.random()
    if kind < 0.02:
        digits = rnd.choice(OVERSEAS) + f"{rnd.randrange(10**6):06d}"
        if digits.startswith("0694"):
            digits = "06942" + digits[5:]  # 0694 3x9… is unallocated
    else:
        prefix = rnd.choice(MOBILE_PREFIXES)
        second = rnd.choice("0124578") if prefix == "06" else rnd.choice("3456789")
        digits = prefix + second + f"{rnd.randrange(10**7):07d}"
    if kind < 0.5:
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    if kind < 0.8:
        return digits
    return "+33" + digits[1:] if digits[:4] not in OVERSEAS else digits


def generate(path: Path, rows: int, seed: int = 20261126) -> None:
    """Write `rows` synthetic, valid registry rows (unique NIRs with their keys)."""
    rnd = random.Random(seed)
    today = date.today()  # noqa: DTZ011 (synthetic data, any day will do)
    start = date(1925, 1, 1)
    span = (today - start).days
    adults: list[str] = []
    seen: set[str] = set()
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        written = 0
        while written < rows:
            sex = rnd.choice("12")
            birth = start + timedelta(days=rnd.randrange(span))
            dept = rnd.choice(DEPARTMENTS)
            place = f"{dept}{rnd.randrange(1, 1000):03d}"[:5]  # overseas: 3-digit département
            month = f"{birth:%m}" if rnd.random() > 0.01 else f"{rnd.randrange(20, 100):02d}"
            first13 = f"{sex}{birth:%y}{month}{place}{rnd.randrange(1, 1000):03d}"
            if len(first13) != 13 or first13 in seen:
                continue
            seen.add(first13)
            nir = f"{first13}{nir_key(first13):02d}"
            photo = rnd.random() < 0.7
            while True:
                length = 11 if photo else rnd.randint(8, 13)
                serial = f"{rnd.randrange(10**length):0{length}d}"
                if serial not in nir and not (length == 8 and _is_date(serial)):
                    break
            last_name = rnd.choice(LAST_NAMES)
            first_name = rnd.choice(FIRST_NAMES[sex])
            email = ""
            if rnd.random() < 0.85:
                email = f"{first_name}.{last_name}{written}@exemple.fr".replace(" ", "-")
                email = email.replace("'", "").encode("ascii", "ignore").decode()
            mobile = _mobile(rnd) if rnd.random() < 0.7 else ""
            guardians = ""
            if (today - birth).days < 18 * 365 and adults:
                guardians = "|".join(rnd.sample(adults, k=min(2, len(adults))))
            elif len(adults) < 1000:
                adults.append(nir)
            else:
                adults[rnd.randrange(1000)] = nir
            shown_nir = nir if rnd.random() > 0.05 else f"{nir[0]} {nir[1:3]} {nir[3:5]} {nir[5:]}"
            writer.writerow(
                [
                    shown_nir,
                    last_name,
                    first_name,
                    birth.isoformat(),
                    "M" if sex == "1" else "F",
                    serial,
                    "1" if photo else "0",
                    email,
                    mobile,
                    rnd.choice(SCHEMES),
                    guardians,
                ]
            )
            written += 1


def sqlite_connect(path: Path) -> sqlite3.Connection:
    """A raw connection configured like Django's (see carnet.settings)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def timed_executemany(db: Path, table: str, columns: list[str], rows: list[tuple]) -> float:
    conn = sqlite_connect(db)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(sql, rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def measure(function, *args, profile: str | None, name: str, **kwargs):
    """(result, seconds) of one call, profiled into DIR/<name>.prof when asked."""
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = function(*args, **kwargs)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    if profiler:
        Path(profile).mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(Path(profile) / f"{name}.prof")
    return result, seconds


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--code-persons", type=int, default=100_000)
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="write cProfile stats of both measures (import.prof, send_codes.prof) in DIR",
    )
    args = parser.parse_args()

    with throwaway_carnet("registry", keep=args.keep) as tmp:
        from django.conf import settings
        from django.db import connection

        from carnet.enrollment.services import codes_send
        from carnet.registry.models import InsuredPerson
        from carnet.registry.services import registry_import

        database = Path(settings.DATABASES["default"]["NAME"])
        connection.close()  # the last connection checkpoints the WAL: the file is complete
        # Fresh databases with the same schema for the baselines (run twice, best kept: the
        # machine may be shared, and a noisy baseline would flatter the ratio).
        baseline_dbs = [tmp / f"baseline-{n}.sqlite3" for n in (1, 2)]
        for baseline_db in baseline_dbs:
            shutil.copyfile(database, baseline_db)

        csv_path = tmp / "registre.csv"
        log(f"generating {args.rows} rows in {csv_path}")
        generate(csv_path, args.rows)

        log("registry_import…")
        report, seconds = measure(registry_import, csv_path, profile=args.profile, name="import")
        if report.errors or report.created != args.rows:
            sys.exit(f"import incomplete: {report.created} created, errors {report.errors[:5]}")

        log("baseline: executemany into registry_insuredperson…")
        fields = [f for f in InsuredPerson._meta.concrete_fields if not f.primary_key]
        columns = [f.column for f in fields]
        connection.close()
        source = sqlite3.connect(database)  # raw values, exactly as stored by the import
        person_rows = source.execute(
            f"SELECT {', '.join(columns)} FROM registry_insuredperson ORDER BY id"
        ).fetchall()
        source.close()
        baseline_seconds = min(
            timed_executemany(db, "registry_insuredperson", columns, person_rows)
            for db in baseline_dbs
        )
        del person_rows

        persons = min(args.code_persons, args.rows)
        log(f"codes_send for {persons} persons…")
        sent, code_seconds = measure(
            codes_send, limit=persons, profile=args.profile, name="send_codes"
        )
        connection.close()

        log("baseline: executemany into enrollment_provisionalcode…")
        now = "2026-11-26 08:00:00"
        expires = "2027-01-07 08:00:00"
        code_rows = [
            (person_id, f"{person_id:064x}", "email", now, expires, None, None, 0)
            for person_id in range(1, persons + 1)
        ]
        code_columns = [
            "person_id",
            "code_hash",
            "channel",
            "sent_at",
            "expires_at",
            "used_at",
            "revoked_at",
            "failed_attempts",
        ]
        code_baseline = min(
            timed_executemany(db, "enrollment_provisionalcode", code_columns, code_rows)
            for db in baseline_dbs
        )
        result = {
            "rows": args.rows,
            "seconds": round(seconds, 2),
            "baseline_seconds": round(baseline_seconds, 2),
            "ratio": round(seconds / baseline_seconds, 2),
            "send_codes": {
                "persons": persons,
                "seconds": round(code_seconds, 2),
                "baseline_seconds": round(code_baseline, 2),
                "ratio": round(code_seconds / code_baseline, 2),
                "emails": sent.emails,
                "letters": sent.letters,
            },
        }
        result_print(result)


if __name__ == "__main__":
    main()
