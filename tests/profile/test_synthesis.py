"""Issue 4: the PDF synthesis of the profile, downloaded through the view and read back."""

import io
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from carnet.core import clock
from carnet.enrollment.selectors import space_for_user
from carnet.profile import models, services
from carnet.profile.pdf import mask_nir, synthesis_filename, synthesis_pdf
from tests.enrollment.helpers import activate, at

URL = "/profil-medical/synthese.pdf"
PARIS = ZoneInfo("Europe/Paris")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "synthesis"
FILENAME = re.compile(
    r'attachment; filename="(Profilmedical_[A-Za-z0-9-]+_[A-Za-z0-9-]+_\d{8}_\d{4}\.pdf)"'
)


@pytest.fixture
def patient(issue_code):
    issued = issue_code(first_name="Hélène", last_name="LEFÈBVRE-D'ARC", email="h@exemple.fr")
    user = activate(issued, identifier="helene.lefebvre")
    return user, space_for_user(user), issued.person


@pytest.fixture
def other_patient(issue_code):
    issued = issue_code(first_name="Bob", last_name="DURAND", email="bob@exemple.fr")
    user = activate(issued, identifier="bob.durand")
    return user, space_for_user(user), issued.person


def add(user, space, model, **values):
    return services.entry_create(actor=user, space=space, model=model, values=values)


def text_of(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() or "" for page in reader.pages)


def fill(user, space):
    add(
        user,
        space,
        models.Condition,
        name="Hypertension artérielle",
        start_year=2015,
        start_month=3,
        ongoing=True,
        comment="Contrôlée ; cœur à surveiller, {nb} pages ?",
    )
    add(
        user,
        space,
        models.Treatment,
        name="Périndopril",
        start_year=2016,
        ongoing=True,
        dosage="5 µg le matin",
        comment="Reste à charge 12 €",
    )
    add(
        user,
        space,
        models.Allergy,
        allergen="Pénicilline",
        reaction="Œdème",
        severity="severe",
        comment="Fièvre à 39,5 °C, très forte réaction",
    )
    add(
        user,
        space,
        models.Vaccination,
        vaccine="dtp",
        date=date(2020, 1, 15),
        kind="rappel",
        vaccinator="Dr Brûlé",
    )
    add(user, space, models.BloodGroup, group="A", rhesus="+")
    gone = add(user, space, models.Condition, name="Entorse effacée", start_year=2010)
    services.entry_delete(actor=user, space=space, obj=gone)
    for kind, value, day in [("poids", "70", 1), ("poids", "72.5", 3), ("taille", "170", 2)]:
        add(
            user,
            space,
            models.Measurement,
            kind=kind,
            value=Decimal(value),
            taken_at=datetime(2026, 3, day, 9, 30, tzinfo=PARIS),
        )
    add(
        user,
        space,
        models.Measurement,
        kind="temperature",
        value=Decimal("38.2"),
        taken_at=datetime(2026, 3, 4, 20, 0, tzinfo=PARIS),
    )


def test_download_contains_every_non_empty_section(client, patient):
    user, space, person = patient
    fill(user, space)
    at(datetime(2026, 11, 26, 9, 5, tzinfo=PARIS))
    client.force_login(user)

    response = client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    match = FILENAME.fullmatch(response["Content-Disposition"])
    assert match, response["Content-Disposition"]
    assert match.group(1) == "Profilmedical_Helene_LEFEBVRE-D-ARC_20261126_0905.pdf"
    reader, text = text_of(response.content)
    # identity, masked NIR, generation time in Paris
    assert "Synthèse de mon profil médical" in text
    assert "Hélène" in text and "LEFÈBVRE-D'ARC" in text and "17/05/1980" in text
    assert person.nir not in text.replace(" ", "")
    assert mask_nir(person.nir) in text and person.nir[-4:] in text
    assert "26 novembre 2026 à 09 h 05" in text
    # the non-empty sections, with the user's accents and signs
    for title in [
        "Maladies et sujets de santé",
        "Traitements",
        "Allergies",
        "Vaccinations",
        "Groupe sanguin",
        "Mesures (dernières valeurs)",
    ]:
        assert title in text, title
    for typed in [
        "Hypertension artérielle",
        "cœur",
        "5 µg",
        "12 €",
        "39,5 °C",
        "Œdème",
        "sévère",
        "Dr Brûlé",
        "Rhésus positif (+)",
        "mars 2015",
    ]:
        assert typed in text, typed
    # the user's "{nb}" stays as typed (never a page-count alias)
    assert "{nb} pages ?" in text
    # empty sections and soft-deleted entries are absent
    for title in [
        "Hospitalisations",
        "Antécédents familiaux",
        "Handicaps",
        "Habitudes de vie",
        "Entourage",
    ]:
        assert title not in text, title
    assert "Entorse effacée" not in text
    # latest measurement of each type, and the BMI from the latest weight and height
    assert "72,5 kg" in text and "70 kg" not in text
    assert "170 cm" in text and "38,2 °C" in text
    assert "Indice de masse corporelle" in text and "25,1 kg/m²" in text
    # footer on every page
    pages = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        assert f"Page {number} / {pages}" in page.extract_text()


def test_long_profile_spans_pages_with_numbered_footers(patient):
    user, space, _ = patient
    for n in range(40):
        add(
            user,
            space,
            models.Condition,
            name=f"Sujet n° {n}",
            start_year=2000 + n % 20,
            comment="Une longue remarque, répétée. " * 12,
        )
    reader, text = text_of(synthesis_pdf(space))
    pages = len(reader.pages)
    assert pages > 2
    for number, page in enumerate(reader.pages, start=1):
        assert f"Page {number} / {pages}" in page.extract_text()
    assert all(f"Sujet n° {n}" in text for n in range(40))


def test_empty_profile_still_gives_identity(patient):
    _, space, person = patient
    _, text = text_of(synthesis_pdf(space))
    assert person.first_name in text
    assert "aucune information" in text
    assert "Page 1 / 1" in text


def test_another_user_gets_only_their_own(client, patient, other_patient):
    user, space, _ = patient
    fill(user, space)
    bob, _, bob_person = other_patient
    client.force_login(bob)
    response = client.get(URL)
    assert response.status_code == 200
    _, text = text_of(response.content)
    assert "Bob" in text and "DURAND" in text
    assert "Hélène" not in text and "Hypertension" not in text
    assert "_Bob_DURAND_" in response["Content-Disposition"]


def test_anonymous_is_redirected_to_login(client, patient):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/")


def test_filename_is_ascii_safe(patient):
    _, space, _ = patient
    person = space.person
    person.first_name, person.last_name = "Zoé Anne", "N'DIAYE / Müller"
    at(datetime(2027, 1, 2, 23, 59, tzinfo=PARIS))
    assert synthesis_filename(space) == "Profilmedical_Zoe-Anne_N-DIAYE-Muller_20270102_2359.pdf"
    assert clock.now().tzinfo is not None


def test_mask_nir():
    assert mask_nir("280057511200123") == "*********** 0123"


def test_page_one_renders(patient):
    """Page 1 as a PNG in artifacts/synthesis/ for a look at the layout."""
    pdfium = pytest.importorskip("pypdfium2")
    user, space, _ = patient
    fill(user, space)
    for n in range(8):
        add(
            user,
            space,
            models.Treatment,
            name=f"Traitement n° {n}",
            start_year=2018,
            dosage="1 comprimé matin et soir",
            comment="Bien toléré, à revoir en décembre.",
        )
    add(
        user,
        space,
        models.Circle,
        emergency_name="Éric Lefèbvre",
        emergency_relation="frère",
        emergency_phone="0612345678",
        organ_donation="pour",
    )
    document = pdfium.PdfDocument(synthesis_pdf(space))
    image = document[0].render(scale=2).to_pil()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    image.save(ARTIFACTS / "page1.png")
    assert image.size[0] > 1000
    # not a blank page: some dark pixels (text) on it
    assert image.convert("L").getextrema()[0] < 80


SAVE_URL = "/profil-medical/synthese/enregistrer/"


def test_saving_the_synthesis_makes_a_medical_synthesis_document(client, patient):
    from carnet.documents.models import Category, Document

    user, space, _ = patient
    services.entry_create(
        actor=user, space=space, model=models.Allergy, values={"allergen": "Pénicilline"}
    )
    client.force_login(user)
    assert client.get(SAVE_URL).status_code == 405  # a change needs a POST
    at(datetime(2026, 11, 26, 9, 30, tzinfo=PARIS))
    response = client.post(SAVE_URL)
    doc = Document.objects.get(space=space)
    assert response.status_code == 302
    assert response["Location"] == f"/documents/{doc.public_id}/"
    assert doc.category == Category.SYNTH_PML
    assert doc.title == "Synthèse médicale du 26/11/2026"
    assert doc.document_date == date(2026, 11, 26)
    served = client.get(f"/documents/{doc.public_id}/fichier/")
    pdf = PdfReader(io.BytesIO(b"".join(served.streaming_content)))
    assert "Pénicilline" in "".join(page.extract_text() for page in pdf.pages)


def test_saving_needs_an_active_space_of_ones_own(client, patient, other_patient):
    from carnet.documents.models import Document

    user, _, _ = other_patient
    client.force_login(user)
    client.post(SAVE_URL)
    assert Document.objects.filter(space=patient[1]).count() == 0
    assert Document.objects.filter(space=other_patient[1]).count() == 1


def test_advance_directives_are_one_document_a_new_one_replaces_the_previous(client, patient):
    from carnet.documents.models import Category, Document
    from tests.documents.conftest import form_data, pdf_bytes, upload

    user, space, _ = patient
    client.force_login(user)
    page = client.get("/profil-medical/entourage/modifier/").content.decode()
    assert "Ajouter mes directives anticipées" in page
    assert "/documents/ajouter/?categorie=DIR_ANT" in page
    form = client.get("/documents/ajouter/?categorie=DIR_ANT").content.decode()
    assert '<option value="DIR_ANT" selected>' in form
    for title in ("Directives 2025", "Directives 2026"):
        response = client.post(
            "/documents/ajouter/",
            form_data(upload(f"{title}.pdf", pdf_bytes(title)), category="DIR_ANT", title=title),
        )
        assert response.status_code == 302
    live = Document.objects.filter(space=space, category=Category.DIR_ANT, deleted_at=None)
    assert [d.title for d in live] == ["Directives 2026"]
    replaced = Document.objects.get(title="Directives 2025")
    assert replaced.deleted_at is not None  # restorable in "Documents supprimés"
    page = client.get("/profil-medical/entourage/modifier/").content.decode()
    assert "Directives 2026" in page and "Remplacer mes directives anticipées" in page


def test_a_synthesis_too_large_for_a_document_is_said_not_a_500(client, patient, settings):
    from carnet.documents.models import Document

    user, space, _ = patient
    settings.CARNET = {**settings.CARNET, "DOCUMENT_MAX_BYTES": 1000}
    client.force_login(user)
    response = client.post(SAVE_URL, follow=True)
    assert response.status_code == 200
    assert "La synthèse n&#x27;a pas pu être enregistrée" in response.content.decode()
    assert not Document.objects.filter(space=space).exists()
