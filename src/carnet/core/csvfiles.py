"""The CSV files operators import (registry, care history): reading and the list of bad rows.

Each import validates its own rows; what a file is (UTF-8 with or without BOM, "," or ";"
detected from the header, a header naming the columns in any order, rows numbered by physical
line) and how its invalid rows are reported (`FILE.errors.csv`) is the same for all, so that
operators meet one set of rules and messages.
"""

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


class ImportFileError(Exception):
    """The file as a whole cannot be read (missing columns, not UTF-8…): nothing is imported."""


@dataclass
class CsvReading:
    """What the reader learnt of the file so far (the importer reads it as rows come)."""

    delimiter: str = ","
    header: list[str] = field(default_factory=list)  # names as `header_name` made them
    lines: int = 1  # physical lines read, header included


def _bad_line(path: Path) -> int:
    """The first line that is not UTF-8 (the text layer decodes ahead, so find it exactly)."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


def _lower(value: str) -> str:
    return value.strip().lower()


def csv_records(
    path: Path,
    reading: CsvReading,
    required: list[str],
    *,
    header_name: Callable[[str], str] = _lower,
    show_expected: bool = False,
) -> Iterator[tuple[int, list[str] | None, str]]:
    """Yield (line, values, error) for each record; `line` is where it starts (header = 1).

    The header must hold every name of `required` (once) after `header_name`; `show_expected`
    adds the expected header to the message on missing columns. A record of the wrong width
    comes with values None and the reason; blank lines are skipped. ImportFileError when the
    file cannot be read as a whole.
    """
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFileError(f"impossible de lire {path.name} : {exc.strerror}") from exc
    with handle:
        try:
            header_line = handle.readline()
            if not header_line.strip():
                raise ImportFileError("le fichier est vide (ligne d'en-tête attendue)")
            delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
            header = [header_name(h) for h in next(csv.reader([header_line], delimiter=delimiter))]
            missing = [c for c in required if c not in header]
            if missing:
                expected = f" (en-tête attendu : {','.join(required)})" if show_expected else ""
                raise ImportFileError("colonnes manquantes : " + ", ".join(missing) + expected)
            doubled = sorted({h for h in header if h and header.count(h) > 1})
            if doubled:
                raise ImportFileError("colonnes en double : " + ", ".join(doubled))
            reading.delimiter, reading.header = delimiter, header
            reader = csv.reader(handle, delimiter=delimiter)
            width = len(header)
            for values in reader:
                line, reading.lines = reading.lines + 1, reader.line_num + 1
                if len(values) == width:
                    yield line, values, ""
                elif values and values != [""]:  # blank lines are skipped
                    yield line, None, f"{len(values)} colonnes au lieu de {width}"
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"ligne {_bad_line(path)} : le fichier n'est pas encodé en UTF-8"
            ) from exc
        except csv.Error as exc:
            raise ImportFileError(f"ligne {reading.lines + 1} : CSV illisible ({exc})") from exc


def _errors_path(path: Path) -> Path:
    """`FILE.errors.csv` next to `FILE.csv` (or `FILE.ext.errors.csv` for another suffix)."""
    if path.suffix.lower() == ".csv":
        return path.with_name(path.stem + ".errors.csv")
    return path.with_name(path.name + ".errors.csv")


def csv_errors_write(path: Path, errors: list[tuple[int, str]], delimiter: str) -> str:
    """List `errors` (line, reason) in the errors file of `path`, in the file's own delimiter;
    returns its path, or "" when there are none (a previous run's list is then removed)."""
    errors_path = _errors_path(path)
    try:
        if not errors:
            errors_path.unlink(missing_ok=True)  # a previous run's list no longer applies
            return ""
        with errors_path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, delimiter=delimiter)
            writer.writerow(["ligne", "motif"])
            writer.writerows(errors)
    except OSError as exc:
        raise ImportFileError(f"impossible d'écrire {errors_path.name} : {exc.strerror}") from exc
    return str(errors_path)
