"""Import of the insurer's care history ("historique des soins"): validate every row, insert the
new reimbursements, leave the known ones alone.

The discipline is the registry import's (registry/services.py): one transaction per file, every
invalid row skipped and listed with its line number in `<file>.errors.csv`, a file unreadable as
a whole refused with one reason and nothing written. A reimbursement is identified by its natural
key (person, date, category, label, professional): re-importing a file changes nothing.
"""

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from carnet.audit.services import Entry, events_record
from carnet.core import clock
from carnet.core.csvfiles import CsvReading, ImportFileError, csv_errors_write, csv_records
from carnet.core.validators import parse_nir
from carnet.enrollment.models import Space
from carnet.registry.models import InsuredPerson

from .models import CareEvent

__all__ = ["COLUMNS", "CareImportReport", "ImportFileError", "care_demo_events", "care_import"]

# The columns of the file, in any order (extra columns are ignored). Headers are read without
# case, accents or surrounding spaces, and a space or hyphen counts as "_": "Catégorie",
# "Libellé" and "Montant remboursé" are accepted.
COLUMNS = ["nir", "date", "categorie", "libelle", "professionnel", "montant_rembourse"]
OLDEST = date(1900, 1, 1)
_LABEL_MAX = CareEvent._meta.get_field("label").max_length
_PROFESSIONAL_MAX = CareEvent._meta.get_field("professional_name").max_length
_AMOUNT_FIELD = CareEvent._meta.get_field("amount_reimbursed")
_AMOUNT_MAX_INTEGER_DIGITS = _AMOUNT_FIELD.max_digits - _AMOUNT_FIELD.decimal_places
# Categories as the model spells them, found again whatever the case, the Unicode form (a
# decomposed "é" is the same text) and the spaces around; accents themselves are required.
_KINDS = {unicodedata.normalize("NFC", v).casefold(): v for v in CareEvent.Kind.values}
_KIND_LIST = ", ".join(CareEvent.Kind.values)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_FRENCH_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_AMOUNT = re.compile(r"([0-9]+)(?:[.,]([0-9]{1,2}))?")
_AMOUNT_TOO_PRECISE = re.compile(r"-?[0-9]+[.,][0-9]{3,}")
_GROUPING = re.compile(r"[ \u00a0\u202f]")  # thousands separators: "1 234,50"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Spaces that hold no reimbursement: the person refused the service or it was deleted.
# A closed space is archived and may reopen: its history keeps being fed.
_NOT_FED = frozenset({Space.State.OPPOSED, Space.State.PURGED})
_LOOKUP_SIZE = 5000


@dataclass
class CareImportReport:
    created: int = 0
    known: int = 0  # already imported (by an earlier file or earlier in this one)
    skipped: int = 0  # valid rows of persons whose space is opposed or purged
    errors: list[tuple[int, str]] = field(default_factory=list)
    errors_path: str = ""

    @property
    def valid(self) -> int:
        return self.created + self.known + self.skipped


# --- Validation of one row ------------------------------------------------------------------


def _date(value: str, today: date) -> date:
    match = _ISO_DATE.fullmatch(value)
    if match:
        year, month, day = match.groups()
    else:
        match = _FRENCH_DATE.fullmatch(value)
        if not match:
            raise ValidationError("date invalide (attendu AAAA-MM-JJ ou JJ/MM/AAAA)")
        day, month, year = match.groups()
    try:
        parsed = date(int(year), int(month), int(day))
    except ValueError as exc:
        raise ValidationError(f"date inexistante : {value}") from exc
    if parsed > today:
        raise ValidationError("date dans le futur")
    if parsed < OLDEST:
        raise ValidationError("date antérieure à 1900")
    return parsed


def _kind(value: str) -> str:
    kind = _KINDS.get(unicodedata.normalize("NFC", value.strip()).casefold())
    if kind is None:
        if not value.strip():
            raise ValidationError("catégorie obligatoire")
        raise ValidationError(f"catégorie inconnue (attendu l'une de : {_KIND_LIST})")
    return kind


def _text(value: str, label: str, limit: int, *, required: bool) -> str:
    text = unicodedata.normalize("NFC", value.strip())
    if required and not text:
        raise ValidationError(f"{label} obligatoire")
    if len(text) > limit:
        raise ValidationError(f"{label} de plus de {limit} caractères")
    if _CONTROL.search(text):
        raise ValidationError(f"{label} : caractère de contrôle interdit")
    return text


def _amount(value: str) -> Decimal:
    raw = _GROUPING.sub("", value.strip())
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        if not raw:
            raise ValidationError("montant remboursé obligatoire")
        if raw.startswith("-") and _AMOUNT.fullmatch(raw[1:]):
            raise ValidationError("montant remboursé négatif")
        if _AMOUNT_TOO_PRECISE.fullmatch(raw):
            raise ValidationError("montant remboursé : 2 décimales au plus")
        raise ValidationError("montant remboursé invalide (exemple : 12,50)")
    units, cents = match.groups()
    units = units.lstrip("0") or "0"
    if len(units) > _AMOUNT_MAX_INTEGER_DIGITS:
        raise ValidationError("montant remboursé trop élevé")
    return Decimal(f"{units}.{(cents or '').ljust(2, '0')}")


@dataclass(frozen=True)
class _Columns:
    nir: int
    date: int
    categorie: int
    libelle: int
    professionnel: int
    montant_rembourse: int

    @classmethod
    def of(cls, header: list[str]) -> "_Columns":
        return cls(**{name: header.index(name) for name in COLUMNS})


def _parse(values: list[str], at: _Columns, today: date) -> tuple:
    """Validate one record: (nir, date, kind, label, professional, amount) or ValidationError."""
    return (
        parse_nir(values[at.nir].strip()),
        _date(values[at.date].strip(), today),
        _kind(values[at.categorie]),
        _text(values[at.libelle], "libellé", _LABEL_MAX, required=True),
        _text(values[at.professionnel], "professionnel", _PROFESSIONAL_MAX, required=False),
        _amount(values[at.montant_rembourse]),
    )


# --- Reading the file -----------------------------------------------------------------------


def _header_name(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.strip().casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s\-]+", "_", plain)


# --- Writing --------------------------------------------------------------------------------

_WRITTEN = [
    "person",
    "date",
    "kind",
    "label",
    "professional_name",
    "amount_reimbursed",
    "hidden",
    "imported_at",
]
_KEY = ["person", "date", "kind", "label", "professional_name"]  # care_event_natural_key


def _insert_sql() -> str:
    """INSERT … ON CONFLICT (natural key) DO NOTHING, understood by SQLite and PostgreSQL.

    Raw SQL rather than bulk_create(ignore_conflicts=True) so that the row count says exactly
    how many reimbursements were new (both drivers sum it over executemany); names come from
    the model.
    """
    meta, quote = CareEvent._meta, connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _WRITTEN)
    key = ", ".join(quote(meta.get_field(name).column) for name in _KEY)
    placeholders = ", ".join(["%s"] * len(_WRITTEN))
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({key}) DO NOTHING"
    )


def _persons(nirs: list[str], cache: dict[str, tuple[int, str] | None]) -> None:
    """Fill `cache` with nir → (person id, space state or "") for the NIRs not yet looked up."""
    wanted = [nir for nir in dict.fromkeys(nirs) if nir not in cache]
    for start in range(0, len(wanted), _LOOKUP_SIZE):
        chunk = wanted[start : start + _LOOKUP_SIZE]
        for nir in chunk:
            cache[nir] = None
        # Lock the spaces until the file commits: a purge (which takes the same rows FOR
        # UPDATE) waits, so no care event lands in a space purged during the import.
        spaces = Space.objects.select_for_update(no_key=True).filter(person__nir__in=chunk)
        list(spaces.order_by("pk").values_list("pk", flat=True))
        rows = InsuredPerson.objects.filter(nir__in=chunk).values_list("nir", "id", "space__state")
        for nir, person_id, state in rows:
            cache[nir] = (person_id, state or "")


def _write(batch: list[tuple], report: CareImportReport, cache: dict, imported_at) -> None:
    """Resolve the NIRs of a batch of (line, parsed row), then insert the new reimbursements."""
    _persons([row[0] for _, row in batch], cache)
    values = []
    for line, (nir, day, kind, label, professional, amount) in batch:
        person = cache[nir]
        if person is None:
            report.errors.append((line, "NIR inconnu du registre des assurés"))
        elif person[1] in _NOT_FED:
            report.skipped += 1
        else:
            values.append((person[0], day, kind, label, professional, amount, False, imported_at))
    if values:
        with connection.cursor() as cursor:
            cursor.executemany(_insert_sql(), values)
            created = cursor.rowcount
        report.created += created
        report.known += len(values) - created


def _batches(
    path: Path, reading: CsvReading, errors: list[tuple[int, str]], batch_size: int
) -> Iterator[tuple[list[tuple], int]]:
    """Read and validate the file: ([(line, parsed row)…], lines read so far) by batches."""
    today = clock.today()
    batch: list[tuple] = []
    at = None  # where the columns are, known once the header is read
    records = csv_records(path, reading, COLUMNS, header_name=_header_name, show_expected=True)
    for line, values, error in records:
        if values is not None:
            at = at or _Columns.of(reading.header)
            try:
                batch.append((line, _parse(values, at, today)))
            except ValidationError as exc:
                error = " ".join(exc.messages)
        if error:
            errors.append((line, error))
        if len(batch) >= batch_size:
            yield batch, reading.lines
            batch = []
    yield batch, reading.lines


def care_import(
    path: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
    actor: str = "systeme:import_care",
) -> CareImportReport:
    """Import a care history CSV. Invalid rows are skipped and listed in `<file>.errors.csv`.

    One transaction for the file: a file found unreadable half-way (or a crash) leaves the
    history as it was. A row whose reimbursement is already known is left alone, so importing
    the same file twice writes nothing. Rows of persons whose space is opposed or purged
    are valid but not kept (`skipped`). `progress` receives the lines read since its last call.
    """
    path = Path(path)
    report = CareImportReport()
    reading = CsvReading()
    batches = _batches(path, reading, report.errors, settings.CARNET["IMPORT_BATCH_SIZE"])
    imported_at = connection.ops.adapt_datetimefield_value(clock.now())
    cache: dict[str, tuple[int, str] | None] = {}
    reported = 1
    with transaction.atomic():
        for batch, lines in batches:
            if batch:
                _write(batch, report, cache, imported_at)
            if progress:
                progress(lines - reported)
                reported = lines
        report.errors.sort(key=lambda error: error[0])  # unknown NIRs are found batch by batch
        report.errors_path = csv_errors_write(path, report.errors, reading.delimiter)
        events_record(
            [
                Entry(
                    actor=actor,
                    action="soins_importes",
                    object_type="fichier",
                    object_id=path.name[:64],
                    detail={
                        "crees": report.created,
                        "deja_connus": report.known,
                        "ignores": report.skipped,
                        "lignes_en_erreur": len(report.errors),
                    },
                )
            ]
        )
    return report


# --- Demo data ------------------------------------------------------------------------------

_K = CareEvent.Kind
_DEMO_EVENTS = [
    # (months ago, day of month, category, label, professional, amount reimbursed)
    (0, 3, _K.MALADIE, "Consultation de médecine générale", "Dr Claire DÉMO", "18.50"),
    (0, 3, _K.MEDICAMENTS, "Médicaments délivrés en pharmacie", "Pharmacie DÉMO", "12.40"),
    (2, 14, _K.BIOLOGIE, "Bilan sanguin", "Laboratoire DÉMO", "23.76"),
    (4, 9, _K.SOINS, "Détartrage", "Dr Paul DÉMO-DENTISTE", "19.38"),
    (7, 21, _K.RADIOLOGIE, "Radiographie du genou", "Centre d'imagerie DÉMO", "27.93"),
    (10, 12, _K.VACCIN, "Vaccin contre la grippe saisonnière", "Pharmacie DÉMO", "9.95"),
    (15, 5, _K.HOSPITALISATION, "Chirurgie ambulatoire", "Hôpital DÉMO", "1432.00"),
    (15, 19, _K.DISPOSITIF, "Attelle de genou", "Pharmacie DÉMO", "36.00"),
    (22, 27, _K.MALADIE, "Consultation de médecine générale", "Dr Claire DÉMO", "18.50"),
]  # fmt: skip


def _months_before(today: date, months: int, day: int) -> date:
    year, month = today.year, today.month - months
    while month <= 0:
        month, year = month + 12, year - 1
    return min(date(year, month, min(day, 28)), today)


def care_demo_events(person: InsuredPerson) -> int:
    """Synthetic reimbursements over the last 24 months for a demo person (seed_demo).

    Dated from today, so the page always has something to show; calling it again adds nothing
    already there. Returns the number of events created.
    """
    today = clock.today()
    now = clock.now()
    events = [
        CareEvent(
            person=person,
            date=_months_before(today, months, day),
            kind=kind,
            label=label,
            professional_name=professional,
            amount_reimbursed=Decimal(amount),
            imported_at=now,
        )
        for months, day, kind, label, professional, amount in _DEMO_EVENTS
    ]
    before = CareEvent.objects.filter(person=person).count()
    CareEvent.objects.bulk_create(events, ignore_conflicts=True)
    return CareEvent.objects.filter(person=person).count() - before
