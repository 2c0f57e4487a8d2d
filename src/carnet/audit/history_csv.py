"""The history as CSV lines: the download of « Historique d'activité » and the full export."""

import csv

from django.utils import timezone

CSV_HEADER = ["date", "heure", "qui", "action", "document", "canal"]
# A cell starting with one of these is a formula to a spreadsheet: prefix it with a quote.
FORMULA_STARTS = ("=", "+", "-", "@")


class _Echo:
    """csv.writer writes into this and gets the line back, to stream it."""

    def write(self, value):
        return value


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def csv_lines(rows):
    """The lines of the file (`audit.selectors.Row`s in), one at a time, BOM first."""
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff" + writer.writerow(CSV_HEADER)  # the BOM: French Excel reads UTF-8
    for row in rows:
        local = timezone.localtime(row.at)
        label = f"{row.label} — {row.detail}" if row.detail else row.label
        cells = [f"{local:%d/%m/%Y}", f"{local:%H:%M}", row.who, label, row.document, row.channel]
        yield writer.writerow([_cell(c) for c in cells])
