"""The synthesis of the medical profile as a PDF (fpdf2, vendored DejaVu Sans fonts).

The text printed here is the user's own: it is never read as markup (no markdown, and the
page-count alias is switched on only while the footer is written, so that a "{nb}" typed in
a comment stays as typed). Paragraphs are broken into lines once with `multi_cell(dry_run)`
(needed anyway to keep an entry on one page) and the lines are then printed with `cell`.
"""

import unicodedata
from functools import cache
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from fpdf import FPDF
from fpdf.enums import MethodReturnValue

from carnet.core import clock

from . import measures, selectors
from .models import Measurement
from .sections import SECTIONS

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
FAMILY = "DejaVu"
PAGE_ALIAS = "{nb}"

TITLE = "Synthèse de mon profil médical"
MARGIN = 15  # mm, all sides
LABEL_WIDTH = 55  # mm, the label column of an entry
LINE = 5.2  # mm, height of a line of body text
INK = (33, 37, 41)
MUTED = (94, 100, 108)
ACCENT = (0, 83, 155)
RULE = (206, 212, 218)
SHADE = (238, 243, 249)


@cache
def _font_files() -> dict[str, Path]:
    files = {"": FONTS_DIR / "DejaVuSans.ttf", "B": FONTS_DIR / "DejaVuSans-Bold.ttf"}
    for path in files.values():
        if not path.is_file():  # fail at the first synthesis with a clear message
            raise FileNotFoundError(f"font missing from the package: {path}")
    return files


def mask_nir(nir: str) -> str:
    """Only the last 4 characters of the NIR are shown: "*********** 1234"."""
    nir = (nir or "").replace(" ", "")
    if len(nir) <= 4:
        return "*" * len(nir)
    return f"{'*' * (len(nir) - 4)} {nir[-4:]}"


def _filename_part(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    kept = "".join(c if c.isalnum() or c == "-" else "-" for c in folded.strip())
    parts = [p for p in kept.split("-") if p]
    return "-".join(parts) or "X"


def synthesis_filename(space) -> str:
    """Profilmedical_<Prénom>_<Nom>_<AAAAMMJJ>_<HHMM>.pdf, ASCII letters, digits and hyphens."""
    person = space.person
    local = timezone.localtime(clock.now())
    first, last = _filename_part(person.first_name), _filename_part(person.last_name)
    return f"Profilmedical_{first}_{last}_{local:%Y%m%d}_{local:%H%M}.pdf"


class _Document(FPDF):
    def __init__(self, running_title: str, generated: str):
        super().__init__(format="A4", unit="mm")
        self.running_title = running_title
        self.generated = generated
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 8)
        for style, path in _font_files().items():
            self.add_font(FAMILY, style, str(path))
        self.alias_nb_pages(None)  # see footer()
        self.set_title(TITLE)
        self.set_author(settings.SERVICE_NAME)
        self.set_creator(settings.SERVICE_NAME)
        self.set_lang("fr-FR")
        self.lines: dict[tuple, list[str]] = {}

    def header(self):
        if self.page_no() == 1:
            return
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 4, f"{TITLE} — {self.running_title}", new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y() + 1, self.w - MARGIN, self.get_y() + 1)
        self.ln(5)

    def footer(self):
        # The total page count is substituted only in text written while the alias is set:
        # here, never in the user's text.
        previous = self.str_alias_nb_pages
        self.alias_nb_pages(PAGE_ALIAS)
        self.set_y(-(MARGIN + 2))
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y() - 1, self.w - MARGIN, self.get_y() - 1)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED)
        self.cell(self.epw / 2, 5, f"{settings.SERVICE_NAME} — générée le {self.generated}")
        self.cell(0, 5, f"Page {self.page_no()} / {PAGE_ALIAS}", align="R")
        self.str_alias_nb_pages = previous

    # -- text helpers ------------------------------------------------------------------

    def wrap(self, text: str, width: float) -> list[str]:
        """`text` broken into lines of at most `width` mm, in the current font."""
        key = (text, width, self.font_style, self.font_size_pt)
        lines = self.lines.get(key)
        if lines is None:
            if "\n" not in text and self.get_string_width(text) <= width - 2 * self.c_margin:
                lines = [text]
            else:
                lines = self.multi_cell(
                    width, LINE, text, dry_run=True, output=MethodReturnValue.LINES
                )
            self.lines[key] = lines
        return lines

    def room_for(self, height: float) -> None:
        """Start a new page unless `height` mm still fit on this one."""
        if self.get_y() + height > self.page_break_trigger:
            self.add_page()

    def section_title(self, title: str, first_block_height: float) -> None:
        self.room_for(11 + first_block_height)  # never a title alone at the bottom of a page
        self.ln(3)
        self.set_font(FAMILY, "B", 12.5)
        self.set_text_color(*ACCENT)
        self.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.4)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.set_line_width(0.2)
        self.ln(1.5)

    def layout_rows(self, rows: list[tuple[str, str]]) -> list[tuple[list[str], list[str]]]:
        value_width = self.epw - LABEL_WIDTH
        laid = []
        for index, (label, text) in enumerate(rows):
            self.set_font(FAMILY, "", 9)
            label_lines = self.wrap(label, LABEL_WIDTH)
            self.set_font(FAMILY, "B" if index == 0 else "", 10)
            laid.append((label_lines, self.wrap(text, value_width)))
        return laid

    @staticmethod
    def height_of(laid) -> float:
        return sum(max(len(a), len(b)) for a, b in laid) * LINE + 2.5

    def entry(self, laid) -> None:
        """One entry: label column on the left (muted), value on the right; the first row
        (the entry's name) in bold. Kept on one page when it fits on one."""
        height = self.height_of(laid)
        if height <= self.page_break_trigger - self.t_margin - 12:
            self.room_for(height)
        for index, (label_lines, value_lines) in enumerate(laid):
            y = self.get_y()
            if y + LINE > self.page_break_trigger:  # a very long entry: go on next page
                self.add_page()
                y = self.get_y()
            self.set_font(FAMILY, "", 9)
            self.set_text_color(*MUTED)
            for n, line in enumerate(label_lines):
                self.set_xy(MARGIN, y + n * LINE)
                self.cell(LABEL_WIDTH, LINE, line)
            self.set_font(FAMILY, "B" if index == 0 else "", 10)
            self.set_text_color(*INK)
            for n, line in enumerate(value_lines):
                if n and y + (n + 1) * LINE > self.page_break_trigger:
                    self.add_page()
                    y = self.get_y() - n * LINE
                self.set_xy(MARGIN + LABEL_WIDTH, y + n * LINE)
                self.cell(self.epw - LABEL_WIDTH, LINE, line)
            self.set_xy(MARGIN, y + max(len(label_lines), len(value_lines)) * LINE)
        self.ln(1)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.ln(1.5)


def _identity(pdf: _Document, space, generated: str) -> None:
    person = space.person
    pdf.set_font(FAMILY, "B", 18)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 10, TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 5, f"Document généré le {generated} (heure de Paris)", new_x="LMARGIN")
    pdf.ln(8)
    rows = [
        ("Nom", person.last_name),
        ("Prénom", person.first_name),
        ("Date de naissance", f"{person.birth_date:%d/%m/%Y}"),
        ("N° de sécurité sociale", mask_nir(person.nir)),
    ]
    top = pdf.get_y()
    height = len(rows) * 6 + 4
    pdf.set_fill_color(*SHADE)
    pdf.rect(MARGIN, top, pdf.epw, height, style="F")
    pdf.set_y(top + 2)
    for label, value in rows:
        pdf.set_x(MARGIN + 3)
        pdf.set_font(FAMILY, "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(LABEL_WIDTH - 3, 6, label)
        pdf.set_font(FAMILY, "B", 10.5)
        pdf.set_text_color(*INK)
        pdf.cell(0, 6, pdf.wrap(value, pdf.epw - LABEL_WIDTH)[0], new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(top + height + 2)


def _measurement_rows(space) -> list[list[tuple[str, str]]]:
    """One block per measurement type (latest value and its date), then the computed BMI."""
    blocks = []
    series = selectors.measurement_series(space)
    for key, kind in measures.TYPES.items():
        values = series.get(key)
        if not values:
            continue
        latest = values[-1]  # oldest first
        [(label, text)] = latest.summary()
        taken = timezone.localtime(latest.taken_at)
        blocks.append([(kind.label, text.strip()), ("Mesuré le", f"{taken:%d/%m/%Y à %H:%M}")])
    for key in sorted(set(series) - set(measures.TYPES)):  # a type no longer in the table
        latest = series[key][-1]
        [(label, text)] = latest.summary()
        taken = timezone.localtime(latest.taken_at)
        blocks.append([(label, text.strip()), ("Mesuré le", f"{taken:%d/%m/%Y à %H:%M}")])
    bmi = selectors.latest_bmi(space)
    if bmi is not None:
        value, at = bmi
        imc = measures.TYPES["imc"]
        text = f"{value:f}".replace(".", ",")
        blocks.append(
            [
                (imc.label, f"{text} {imc.unit}"),
                ("Calculé le", f"{timezone.localtime(at):%d/%m/%Y} (poids et taille)"),
            ]
        )
    return blocks


def synthesis_pdf(space) -> bytes:
    """The synthesis of `space`'s profile: identity, every non-empty section, the latest
    measurements and the BMI; "Page N / M" at the bottom of every page."""
    person = space.person
    generated = clock.localtime_fr(clock.now())
    pdf = _Document(f"{person.first_name} {person.last_name}", generated)
    pdf.add_page()
    _identity(pdf, space, generated)

    written = 0
    for section in SECTIONS.values():
        if section.model is Measurement:
            blocks = _measurement_rows(space)
            title = "Mesures (dernières valeurs)"
        else:
            blocks = [e.summary() for e in selectors.entries(space, section.model)]
            title = section.title
        blocks = [b for b in blocks if b]
        if not blocks:
            continue
        laid = [pdf.layout_rows(rows) for rows in blocks]
        pdf.section_title(title, pdf.height_of(laid[0]))
        for block in laid:
            pdf.entry(block)
        written += 1

    if not written:
        pdf.ln(4)
        pdf.set_font(FAMILY, "", 10)
        pdf.set_text_color(*INK)
        pdf.cell(0, LINE, "Votre profil médical ne contient encore aucune information.")

    pdf.alias_nb_pages(PAGE_ALIAS)  # for the substitution at output (footer() sets it too)
    return bytes(pdf.output())
