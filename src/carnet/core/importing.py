"""The operator's side of a file import (`carnet import_registry`, `carnet import_care`).

Both commands show the same progress bar, list the same first errors and refuse a file with
the same one-line reason; only the service they call and their summary line differ.
"""

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar

from django.core.management.base import BaseCommand, CommandError

from .csvfiles import ImportFileError
from .progress import progress_bar

SHOWN_ERRORS = 20

Report = TypeVar("Report")  # the service's report: at least `errors`, [(line, reason)…]


def _data_lines(path: Path) -> int:
    """Physical lines after the header, for the progress bar's total."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return max(lines + (last != b"\n") - 1, 0)


def file_import(
    command: BaseCommand,
    file: str,
    run: Callable[..., Report],
    description: str,
) -> Report:
    """`run(path, progress=…)` on the operator's file, with a progress bar on stderr.

    A file refused as a whole becomes a CommandError of one line (nothing was imported); the
    first SHOWN_ERRORS invalid rows go to the command's stderr with their line numbers. The
    caller writes its own summary from the report returned.
    """
    path = Path(file)
    if not path.is_file():
        raise CommandError(f"fichier introuvable : {file}")
    try:
        total = _data_lines(path)
        with ExitStack() as stack:
            bar = None

            def advance(lines: int) -> None:
                # Opened at the first batch: a file refused at once fails in one line.
                nonlocal bar
                if bar is None:
                    bar = stack.enter_context(progress_bar(description, total=total))
                bar(lines)

            report = run(path, progress=advance)
    except ImportFileError as exc:
        raise CommandError(f"{path.name} : {exc} ; rien n'a été importé") from exc
    except OSError as exc:
        raise CommandError(f"impossible de lire {path.name} : {exc.strerror}") from exc
    for line, reason in report.errors[:SHOWN_ERRORS]:
        command.stderr.write(f"ligne {line} : {reason}")
    if len(report.errors) > SHOWN_ERRORS:
        command.stderr.write(f"… et {len(report.errors) - SHOWN_ERRORS} autres erreurs")
    return report
