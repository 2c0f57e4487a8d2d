"""Bulk import of the insurer's registry: validate every row, upsert the valid ones by NIR."""

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import connection, transaction

from carnet.audit.services import Entry, events_record
from carnet.core import clock
from carnet.core.csvfiles import CsvReading, ImportFileError, csv_errors_write, csv_records
from carnet.core.validators import parse_mobile, parse_nir, parse_vitale_serial

from .models import InsuredPerson

# ImportFileError is raised from carnet.core.csvfiles; callers catch it from here too.
__all__ = [
    "COLUMNS",
    "COMPARED",
    "OPTIONAL_COLUMNS",
    "ImportFileError",
    "ImportReport",
    "registry_import",
]
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
]
OPTIONAL_COLUMNS = ["guardian_nirs"]
# Fields compared to decide whether a known person changed (nir is the key).
COMPARED = [
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
_FIELDS = ["nir", *COMPARED]  # the order of the tuple `_parse` returns
_MAX_LENGTH = {
    name: InsuredPerson._meta.get_field(name).max_length
    for name in ("last_name", "first_name", "email", "scheme", "guardian_nirs")
}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The common shape of an address, checked with one regex; anything else (quoted local parts,
# internationalised domains…) goes to Django's full EmailValidator. The fast path accepts only
# what that validator accepts, so the answer is the same, much faster over a million rows.
_COMMON_EMAIL = re.compile(
    r"[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_email_validator = EmailValidator()


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    errors_path: str = ""

    @property
    def valid(self) -> int:
        return self.created + self.updated + self.unchanged


# --- Validation of one row ------------------------------------------------------------------


def _email_ok(value: str) -> bool:
    if len(value) > _MAX_LENGTH["email"]:
        return False
    if _COMMON_EMAIL.fullmatch(value):
        return True
    try:
        _email_validator(value)
    except ValidationError:
        return False
    return True


def _birth_date(value: str, nir: str, today: str) -> str:
    """The ISO date, checked: a real day, not after `today` (ISO), the NIR's year and month."""
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError("date de naissance invalide (attendu AAAA-MM-JJ)") from exc
    if value > today:  # ISO dates of 4-digit years compare as text
        raise ValidationError("date de naissance dans le futur")
    # The NIR carries the year of birth, and the month unless it was unknown (20 to 99).
    if value[2:4] != nir[1:3] or (nir[3] in "01" and value[5:7] != nir[3:5]):
        raise ValidationError("la date de naissance ne correspond pas au NIR")
    return value


def _guardian_nirs(value: str, nir: str) -> str:
    guardians: list[str] = []
    for raw in value.split("|"):
        if not raw.strip():
            continue
        try:
            guardian = parse_nir(raw)
        except ValidationError as exc:
            raise ValidationError("représentant légal : " + " ".join(exc.messages)) from exc
        if guardian == nir:
            raise ValidationError("une personne ne peut pas être son propre représentant légal")
        if guardian not in guardians:
            guardians.append(guardian)
    joined = "|".join(guardians)
    if len(joined) > _MAX_LENGTH["guardian_nirs"]:
        raise ValidationError("trop de représentants légaux")
    return joined


def _check_texts(last_name: str, first_name: str, scheme: str) -> None:
    for value, label, name, required in (
        (last_name, "nom", "last_name", True),
        (first_name, "prénom", "first_name", True),
        (scheme, "régime", "scheme", False),
    ):
        if required and not value:
            raise ValidationError(f"{label} obligatoire")
        if len(value) > _MAX_LENGTH[name]:
            raise ValidationError(f"{label} de plus de {_MAX_LENGTH[name]} caractères")
        if _CONTROL.search(value):
            raise ValidationError(f"{label} : caractère de contrôle interdit")


@dataclass(frozen=True)
class _Columns:
    """Where each field is in a record of this file."""

    nir: int
    last_name: int
    first_name: int
    birth_date: int
    sex: int
    vitale_serial: int
    vitale_photo: int
    email: int
    mobile: int
    scheme: int
    guardian_nirs: int | None

    @classmethod
    def of(cls, header: list[str]) -> "_Columns":
        return cls(
            **{name: header.index(name) for name in COLUMNS},
            guardian_nirs=header.index("guardian_nirs") if "guardian_nirs" in header else None,
        )


def _parse(values: list[str], at: _Columns, today: str) -> tuple:
    """Validate one record; returns the values of `_FIELDS` or raises ValidationError (French).

    Called once per row of files of millions of rows: the common case runs straight through
    and only a failing check spends time building its message.
    """
    nir = parse_nir(values[at.nir])
    last_name = values[at.last_name].strip()
    first_name = values[at.first_name].strip()
    scheme = values[at.scheme].strip()
    if (
        not last_name
        or not first_name
        or len(last_name) > _MAX_LENGTH["last_name"]
        or len(first_name) > _MAX_LENGTH["first_name"]
        or len(scheme) > _MAX_LENGTH["scheme"]
        or _CONTROL.search(last_name + first_name + scheme)
    ):
        _check_texts(last_name, first_name, scheme)
    birth_date = _birth_date(values[at.birth_date].strip(), nir, today)
    sex = values[at.sex].strip().upper()
    if sex not in ("M", "F"):
        raise ValidationError("sexe invalide (attendu M ou F)")
    if (sex == "M") != (nir[0] == "1"):
        raise ValidationError("le sexe ne correspond pas au NIR")
    photo = values[at.vitale_photo].strip()
    if photo not in ("0", "1"):
        raise ValidationError("vitale_photo invalide (attendu 0 ou 1)")
    serial = parse_vitale_serial(values[at.vitale_serial].strip(), with_photo=photo == "1", nir=nir)
    email = values[at.email].strip().lower()
    if email and not _email_ok(email):
        raise ValidationError("adresse e-mail invalide")
    mobile = values[at.mobile].strip()
    if mobile:
        mobile = parse_mobile(mobile)
    guardians = values[at.guardian_nirs].strip() if at.guardian_nirs is not None else ""
    if guardians:
        guardians = _guardian_nirs(guardians, nir)
    return (
        nir,
        last_name,
        first_name,
        birth_date,
        sex,
        serial,
        photo == "1",
        email,
        mobile,
        scheme,
        guardians,
    )


# --- Writing --------------------------------------------------------------------------------

_WRITTEN = ["public_id", *_FIELDS, "is_demo", "created_at", "updated_at"]
_LOOKUP_SIZE = 5000
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (4 << 76) | (0x8000 << 48)


def _uuid4_hex(count: int) -> list[str]:
    """`count` random version-4 UUIDs (as `uuid.uuid4().hex`), from one read of the OS source."""
    block = os.urandom(16 * count)
    from_bytes = int.from_bytes
    return [
        f"{(from_bytes(block[i : i + 16]) & _UUID4_CLEAR) | _UUID4_SET:032x}"
        for i in range(0, 16 * count, 16)
    ]


def _upsert_sql() -> str:
    """INSERT … ON CONFLICT (nir) DO UPDATE, understood by both SQLite and PostgreSQL.

    Raw SQL because the ORM's bulk_create builds a model instance and prepares every field of
    every row, which was most of the time of a million-row import; names come from the model.
    """
    meta, quote = InsuredPerson._meta, connection.ops.quote_name
    columns = [quote(meta.get_field(name).column) for name in _WRITTEN]
    updates = ", ".join(
        f"{column} = EXCLUDED.{column}"
        for column in (quote(meta.get_field(name).column) for name in [*COMPARED, "updated_at"])
    )
    table, key = quote(meta.db_table), quote(meta.get_field("nir").column)
    placeholders = ", ".join(["%s"] * len(columns))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def _known(nirs: list[str]) -> dict[str, tuple]:
    """The stored values of those of `nirs` already in the registry, as `_parse` returns them."""
    meta, quote = InsuredPerson._meta, connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _FIELDS)
    known = {}
    for start in range(0, len(nirs), _LOOKUP_SIZE):  # within SQLite's limit of parameters
        chunk = nirs[start : start + _LOOKUP_SIZE]
        sql = (
            f"SELECT {columns} FROM {quote(meta.db_table)} "  # noqa: S608 (names from the model)
            f"WHERE {quote(meta.get_field('nir').column)} IN ({', '.join(['%s'] * len(chunk))})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, chunk)
            rows = cursor.fetchall()
        for row in rows:
            row = list(row)
            if not isinstance(row[3], str):
                row[3] = row[3].isoformat()  # birth_date, kept as text in the batch
            row[6] = bool(row[6])  # vitale_photo
            known[row[0]] = tuple(row)
    return known


def _upsert(batch: list[tuple], report: ImportReport, sql: str, *, lookup: bool) -> None:
    """Write the new and changed persons of a batch: one read, one bulk write."""
    known = _known([person[0] for person in batch]) if lookup else {}
    now = connection.ops.adapt_datetimefield_value(clock.now())
    writes = []
    for person in batch:
        stored = known.get(person[0])
        if stored is None:
            report.created += 1
        elif stored == person:
            report.unchanged += 1
            continue
        else:
            report.updated += 1
        writes.append(person)
    if writes:
        with connection.cursor() as cursor:
            cursor.executemany(
                sql,
                [
                    (public_id, *person, False, now, now)
                    for public_id, person in zip(_uuid4_hex(len(writes)), writes, strict=True)
                ],
            )


def _batches(
    path: Path, reading: CsvReading, errors: list[tuple[int, str]], batch_size: int
) -> Iterator[tuple[list[tuple], int]]:
    """Read and validate the file: (valid persons, lines read so far) by batches.

    Invalid rows go to `errors`; so does a row repeating the NIR of an earlier row, wherever
    it is in the file (otherwise the two would take turns on every import).
    """
    today = clock.today().isoformat()
    batch: list[tuple] = []
    seen: set[str] = set()
    at = None  # where the columns are, known once the header is read
    for line, values, error in csv_records(path, reading, COLUMNS):
        if values is not None:
            at = at or _Columns.of(reading.header)
            try:
                person = _parse(values, at, today)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                if person[0] in seen:
                    error = "NIR en double dans le fichier (ligne ignorée)"
                else:
                    seen.add(person[0])
                    batch.append(person)
        if error:
            errors.append((line, error))
        if len(batch) >= batch_size:
            yield batch, reading.lines
            batch = []
    yield batch, reading.lines


def registry_import(
    path: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
    actor: str = "systeme:import_registry",
) -> ImportReport:
    """Import a registry CSV. Invalid rows are skipped and listed in `<file>.errors.csv`.

    All or nothing at the level of the file: one transaction, so a file found unreadable
    half-way (or a crash) leaves the registry as it was. (On SQLite that transaction holds the
    write lock for the whole import, about a minute per million rows.) Re-importing the same
    file writes nothing; `progress` receives the number of lines read since its last call.
    """
    path = Path(path)
    report = ImportReport()
    reading = CsvReading()
    batches = _batches(path, reading, report.errors, settings.CARNET["IMPORT_BATCH_SIZE"])
    sql = _upsert_sql()
    reported = 1
    with transaction.atomic():
        # Into an empty registry every valid row is new: no need to look each batch up.
        lookup = InsuredPerson.objects.exists()
        for batch, lines in batches:
            if batch:
                _upsert(batch, report, sql, lookup=lookup)
            if progress:
                progress(lines - reported)
                reported = lines
        report.errors_path = csv_errors_write(path, report.errors, reading.delimiter)
        events_record(
            [
                Entry(
                    actor=actor,
                    action="registre_importe",
                    object_type="fichier",
                    object_id=path.name[:64],
                    detail={
                        "crees": report.created,
                        "mis_a_jour": report.updated,
                        "inchanges": report.unchanged,
                        "lignes_en_erreur": len(report.errors),
                    },
                )
            ]
        )
    return report
