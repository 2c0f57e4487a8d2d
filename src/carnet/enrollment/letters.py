"""Printable PDFs: the postal batch of provisional codes, and the proof of opposition (fpdf2)."""

import secrets
from datetime import datetime

from django.conf import settings
from fpdf import FPDF
from fpdf.enums import MethodReturnValue

from carnet.core import clock


def _latin1(text: str) -> str:
    # fpdf2's core fonts are Latin-1: replace typographic signs it cannot encode.
    text = text.replace("’", "'").replace("œ", "oe").replace("Œ", "OE").replace("…", "...")
    return text.encode("latin-1", "replace").decode("latin-1")


class _Layout:
    """Paragraphs broken into lines once per document, then printed line by line.

    A batch of letters repeats the same paragraphs on every page, and fpdf2's line breaking
    (`multi_cell`) costs about ten times the printing of the lines: measuring it once per
    document makes a letter ~1 ms instead of ~10. Text is aligned left (ragged right), which
    is also what accessibility guidance recommends over justified text.
    """

    def __init__(self, pdf: FPDF):
        self.pdf = pdf
        self.lines: dict[tuple, list[str]] = {}

    def paragraph(self, text: str, height: float) -> None:
        pdf = self.pdf
        text = _latin1(text)
        key = (text, height, pdf.font_family, pdf.font_style, pdf.font_size_pt, pdf.x)
        lines = self.lines.get(key)
        if lines is None:
            if "\n" not in text and pdf.get_string_width(text) < pdf.epw - 2 * pdf.c_margin - 1:
                lines = [text]  # fits on one line (names, codes): nothing to break
            else:
                lines = pdf.multi_cell(
                    0, height, text, align="L", dry_run=True, output=MethodReturnValue.LINES
                )
            self.lines[key] = lines
        for line in lines:
            pdf.cell(0, height, line, new_x="LMARGIN", new_y="NEXT")


def _page(layout: _Layout, title: str, paragraphs: list[str]) -> None:
    pdf = layout.pdf
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    layout.paragraph(settings.SERVICE_NAME, 9)
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 13)
    layout.paragraph(title, 7)
    pdf.ln(3)
    pdf.set_font("Helvetica", "", 11)
    for paragraph in paragraphs:
        layout.paragraph(paragraph, 6)
        pdf.ln(3)


def write_code_letters(items: list[tuple]) -> str:
    """One page per person (person, code, expires_at), for the postal mail house."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    layout = _Layout(pdf)
    for person, code, expires_at in items:
        _page(
            layout,
            f"{person.first_name} {person.last_name}",
            [
                f"Référence : {person.public_id}",
                "Votre espace numérique de santé vous permet de conserver en un seul endroit "
                "sécurisé vos documents et informations de santé, d'échanger avec vos "
                "professionnels de santé et de décider qui peut y accéder.",
                f"Votre code provisoire confidentiel : {code}",
                f"Vous avez jusqu'au {clock.localdate_fr(expires_at)} pour choisir, sur "
                f"{settings.SERVICE_URL}/activer/ :",
                "- activer votre espace dès maintenant ;",
                "- ou vous opposer à sa création.",
                "Sans opposition de votre part à cette date, votre espace sera créé "
                "automatiquement. Vous pourrez à tout moment changer d'avis et fermer "
                "votre espace.",
                "Ne communiquez ce code à personne : aucun agent ne vous le demandera.",
            ],
        )
    directory = settings.LETTERS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    path = directory / f"codes-{stamp}-{secrets.token_hex(4)}.pdf"
    pdf.output(str(path))
    path.chmod(0o600)
    return str(path)


def attestation_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page attestation with the service's letter layout (e.g. a caregiver's delegation)."""
    pdf = FPDF(format="A4")
    _page(_Layout(pdf), title, lines)
    return bytes(pdf.output())


def opposition_proof(space) -> bytes:
    person = space.person
    opposed_at: datetime = space.opposed_at or space.closed_at or clock.now()
    pdf = FPDF(format="A4")
    _page(
        _Layout(pdf),
        "Attestation d'opposition à la création de l'espace numérique de santé",
        [
            f"Nom : {person.last_name}",
            f"Prénom : {person.first_name}",
            f"Date de naissance : {person.birth_date:%d/%m/%Y}",
            f"Référence : {space.public_id}",
            f"L'opposition a été enregistrée le {clock.localtime_fr(opposed_at)}.",
            "Aucun espace numérique de santé ne sera créé à votre nom. Vous pourrez à tout "
            "moment changer d'avis et activer votre espace en demandant un nouveau code "
            "provisoire.",
        ],
    )
    return bytes(pdf.output())
