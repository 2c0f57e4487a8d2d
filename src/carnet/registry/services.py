"""Bulk import of the insurer's registry: validate every row, upsert the valid ones by NIR."""

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from carnet.core.validators import parse_mobile, parse_nir, parse_vitale_serial

from .models import InsuredPerson

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
MAX_NAME = 100
MAX_EMAIL = 254


class ImportFileError(Exception):
    """The file as a whole cannot be read (missing columns, not UTF-8…)."""


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


def _message(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _email_ok(value: str) -> bool:
    # A cheap structural check (the insurer's data is already checked upstream); Django's
    # EmailValidator is ten times slower and the import runs over millions of rows.
    local, at, domain = value.partition("@")
    return bool(
        at
        and local
        and "." in domain
        and " " not in value
        and len(value) <= MAX_EMAIL
        and not domain.startswith(".")
        and not domain.endswith(".")
    )


def parse_row(row: dict[str, str]) -> dict:
    """Validate one row; returns the model fields or raises ValidationError (French)."""
    nir = parse_nir(row["nir"])
    last_name, first_name = row["last_name"].strip(), row["first_name"].strip()
    if not last_name or not first_name:
        raise ValidationError("nom et prénom obligatoires")
    if len(last_name) > MAX_NAME or len(first_name) > MAX_NAME:
        raise ValidationError(f"nom ou prénom de plus de {MAX_NAME} caractères")
    try:
        birth_date = date.fromisoformat(row["birth_date"].strip())
    except ValueError as exc:
        raise ValidationError("date de naissance invalide (attendu AAAA-MM-JJ)") from exc
    if birth_date > timezone.localdate():
        raise ValidationError("date de naissance dans le futur")
    sex = row["sex"].strip().upper()
    if sex not in ("M", "F"):
        raise ValidationError("sexe invalide (attendu M ou F)")
    if (sex == "M") != (nir[0] == "1"):
        raise ValidationError("le sexe ne correspond pas au NIR")
    photo = row["vitale_photo"].strip()
    if photo not in ("0", "1"):
        raise ValidationError("vitale_photo invalide (attendu 0 ou 1)")
    serial = parse_vitale_serial(row["vitale_serial"], with_photo=photo == "1", nir=nir)
    email = row["email"].strip().lower()
    if email and not _email_ok(email):
        raise ValidationError("adresse e-mail invalide")
    mobile = row["mobile"].strip()
    mobile = parse_mobile(mobile) if mobile else ""
    guardians = [g for g in (row.get("guardian_nirs") or "").split("|") if g.strip()]
    guardian_nirs = "|".join(parse_nir(g) for g in guardians)
    if nir in guardian_nirs:
        raise ValidationError("une personne ne peut pas être son propre représentant légal")
    return {
        "nir": nir,
        "last_name": last_name,
        "first_name": first_name,
        "birth_date": birth_date,
        "sex": sex,
        "vitale_serial": serial,
        "vitale_photo": photo == "1",
        "email": email,
        "mobile": mobile,
        "scheme": row["scheme"].strip()[:40],
        "guardian_nirs": guardian_nirs,
    }


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFileError(f"impossible de lire {path.name} : {exc.strerror}") from exc
    with handle:
        try:
            header_line = handle.readline()
        except UnicodeDecodeError as exc:
            raise ImportFileError("le fichier n'est pas encodé en UTF-8") from exc
        delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
        header = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=delimiter))]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ImportFileError("colonnes manquantes : " + ", ".join(missing))
        reader = csv.reader(handle, delimiter=delimiter)
        line = 1
        try:
            for values in reader:
                line = reader.line_num
                if not values or values == [""]:
                    continue
                if len(values) != len(header):
                    yield line, {"__error__": f"{len(values)} colonnes au lieu de {len(header)}"}
                    continue
                yield line, dict(zip(header, values, strict=True))
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"ligne {line + 1} : caractères non UTF-8") from exc


def _upsert(batch: dict[str, dict], report: ImportReport) -> None:
    existing = {
        p["nir"]: p
        for p in InsuredPerson.objects.filter(nir__in=list(batch)).values("nir", *COMPARED)
    }
    to_write = []
    for nir, values in batch.items():
        known = existing.get(nir)
        if known is None:
            report.created += 1
        elif all(known[f] == values[f] for f in COMPARED):
            report.unchanged += 1
            continue
        else:
            report.updated += 1
        to_write.append(InsuredPerson(**values))
    if to_write:
        InsuredPerson.objects.bulk_create(
            to_write,
            update_conflicts=True,
            unique_fields=["nir"],
            update_fields=[*COMPARED, "updated_at"],
        )


def registry_import(
    path: str | Path, *, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Import a registry CSV. Invalid rows are skipped and listed in `<file>.errors.csv`."""
    path = Path(path)
    report = ImportReport()
    batch_size = settings.CARNET["IMPORT_BATCH_SIZE"]
    batch: dict[str, dict] = {}
    seen_lines = 0
    for line, row in _rows(path):
        seen_lines += 1
        if "__error__" in row:
            report.errors.append((line, row["__error__"]))
        else:
            try:
                values = parse_row(row)
            except ValidationError as exc:
                report.errors.append((line, _message(exc)))
            else:
                if values["nir"] in batch:
                    report.errors.append((line, "NIR en double dans le fichier (ligne ignorée)"))
                else:
                    batch[values["nir"]] = values
        if len(batch) >= batch_size:
            with transaction.atomic():
                _upsert(batch, report)
            batch = {}
        if progress and seen_lines % 1000 == 0:
            progress(1000)
    if batch:
        with transaction.atomic():
            _upsert(batch, report)
    if progress:
        progress(seen_lines % 1000)
    if report.errors:
        errors_path = (
            path.with_name(path.name + ".errors.csv")
            if not str(path).endswith(".csv")
            else path.with_suffix(".errors.csv")
        )
        with errors_path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["ligne", "motif"])
            writer.writerows(report.errors)
        report.errors_path = str(errors_path)
    return report
