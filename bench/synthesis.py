"""Benchmark: the PDF synthesis of a full profile, against a bare fpdf2 document.

    .venv/bin/python bench/synthesis.py [--entries N] [--measurements M] [--runs R]

Sets up a fresh SQLite database in a temporary directory, activates one synthetic person's
space through the enrollment services, fills every section of the profile (N entries in each
multi-entry section, one in each single section, M measurements spread over the types), then
times `synthesis_pdf` R times, and in the same run a baseline: an fpdf2 document with the same
vendored fonts and the same number of plain text lines, and no database reads.

Prints one JSON line on stdout; progress goes to stderr.
"""

from datetime import date, timedelta
from decimal import Decimal

from _common import argument_parser, log, result_print, synthetic_space, throwaway_carnet, timed

COMMENT = (
    "Suivi régulier chez le médecin traitant ; contrôle à prévoir à l'automne, "
    "après la cure thermale. Température 38,5 °C, dosage 5 µg, reste à charge 12 € — "
    "cœur et poumons normaux, très légère gêne à l'effort signalée par le patient."
)


def entry_values(model, n: int) -> dict:
    from carnet.profile import models as m

    year = 2000 + n % 25
    if model is m.Condition:
        return dict(name=f"Hypertension artérielle n° {n}", start_year=year, start_month=3,
                    ongoing=n % 2 == 0, comment=COMMENT)  # fmt: skip
    if model is m.Treatment:
        return dict(name=f"Périndopril {n} mg", start_year=year, ongoing=True,
                    dosage="1 comprimé le matin, pendant le repas", comment=COMMENT)  # fmt: skip
    if model is m.Hospitalisation:
        return dict(reason=f"Appendicectomie n° {n}", entry_year=year, entry_month=6,
                    entry_day=12, stay_length=3, establishment="Hôpital Saint-Éloi, Montpellier",
                    comment=COMMENT)  # fmt: skip
    if model is m.FamilyHistory:
        return dict(disease=f"Diabète de type 2 n° {n}", relation="soeur", comment=COMMENT)
    if model is m.Allergy:
        return dict(allergen=f"Pénicilline n° {n}", reaction="Œdème, urticaire",
                    severity="moderee", comment=COMMENT)  # fmt: skip
    if model is m.Vaccination:
        return dict(vaccine="dtp", date=date(year, 1, 15), kind="rappel",
                    vaccinator="Dr Lefèbvre", lot=f"LOT-{n:04d}", comment=COMMENT)  # fmt: skip
    if model is m.Disability:
        return dict(kind="moteur", name=f"Séquelle de fracture n° {n}", rate=20,
                    aids="Canne, semelles orthopédiques", comment=COMMENT)  # fmt: skip
    if model is m.BloodGroup:
        return dict(group="A", rhesus="+")
    if model is m.Lifestyle:
        return dict(tobacco="ancien", alcohol="occasionnel", activity="moderee",
                    sleep="normal", diet="omnivore")  # fmt: skip
    if model is m.Circle:
        return dict(emergency_name="Éric Durand", emergency_relation="frère",
                    emergency_phone="0612345678", trusted_name="Zoé Müller",
                    trusted_relation="amie", trusted_phone="0698765432",
                    organ_donation="pour")  # fmt: skip
    raise AssertionError(model)


MEASURES = {
    "poids": (Decimal("68.4"), None),
    "taille": (Decimal("168"), None),
    "tour_taille": (Decimal("82"), None),
    "temperature": (Decimal("37.2"), None),
    "tension": (Decimal("128"), Decimal("82")),
    "frequence_cardiaque": (Decimal("72"), None),
    "glycemie": (Decimal("0.95"), None),
    "hba1c": (Decimal("5.6"), None),
    "douleur": (Decimal("2"), None),
    "pas": (Decimal("8500"), None),
}


def fill(user, space, entries: int, measurements: int) -> int:
    from carnet.core import clock
    from carnet.profile.models import Measurement
    from carnet.profile.sections import SECTIONS
    from carnet.profile.services import entry_create

    count = 0
    for section in SECTIONS.values():
        if section.model is Measurement:
            continue
        for n in range(1 if section.single else entries):
            entry_create(
                actor=user, space=space, model=section.model, values=entry_values(section.model, n)
            )
            count += 1
    kinds = list(MEASURES)
    start = clock.now() - timedelta(days=measurements)
    for n in range(measurements):
        kind = kinds[n % len(kinds)]
        value, value2 = MEASURES[kind]
        entry_create(
            actor=user,
            space=space,
            model=Measurement,
            values=dict(
                kind=kind,
                value=value,
                value2=value2,
                taken_at=start + timedelta(days=n),
                comment="à jeun",
            ),
        )
    return count


def baseline(lines: int) -> bytes:
    """The same fonts and number of lines, plain cells, no database, no layout."""
    from fpdf import FPDF

    from carnet.profile.pdf import FONTS_DIR

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=23)
    pdf.add_font("DejaVu", "", str(FONTS_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS_DIR / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    for n in range(lines):
        pdf.set_font("DejaVu", "B" if n % 5 == 0 else "", 10)
        pdf.cell(0, 5.2, f"Ligne {n} : température 37,2 °C, 5 µg, 12 €, cœur", new_x="LMARGIN",
                 new_y="NEXT")  # fmt: skip
    return bytes(pdf.output())


def count_lines(pdf_bytes: bytes) -> tuple[int, int]:
    """(pages, lines of text) of a PDF, read back with pypdf (outside the timing)."""
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf_bytes))
    lines = sum(len((page.extract_text() or "").splitlines()) for page in reader.pages)
    return len(reader.pages), lines


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--entries", type=int, default=20, help="per multi-entry section")
    parser.add_argument("--measurements", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    with throwaway_carnet("synthesis", keep=args.keep, CARNET_LOG_LEVEL="WARNING"):
        from carnet.profile.pdf import synthesis_pdf

        log("activating a space and filling the profile…")
        user, space = synthetic_space("banc.synthese", "banc d'essai de la synthèse 2026")
        entries = fill(user, space, args.entries, args.measurements)

        synthesis_pdf(space)  # first run: imports, font file cache (reported apart)
        log(f"timing synthesis_pdf ({args.runs} runs)…")
        seconds, document = timed(lambda: synthesis_pdf(space), args.runs)
        pages, lines = count_lines(document)
        log(f"timing the baseline ({lines} lines, {args.runs} runs)…")
        baseline(lines)
        baseline_seconds, _ = timed(lambda: baseline(lines), args.runs)
        result_print(
            {
                "entries": entries,
                "measurements": args.measurements,
                "pages": pages,
                "lines": lines,
                "seconds": round(seconds, 3),
                "baseline_seconds": round(baseline_seconds, 3),
                "ratio": round(seconds / baseline_seconds, 2),
            }
        )


if __name__ == "__main__":
    main()
