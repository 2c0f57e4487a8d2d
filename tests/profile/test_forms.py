"""Every validation rule of the profile forms, through the HTTP forms: an error next to the
field (aria-invalid, the message under the label) and nothing written; then edit and delete.

The clock stands at Sunday 15 June 2025, 10:00 in Paris; Alice was born on 17 May 1980.
"""

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from carnet.profile import models
from carnet.profile.sections import SECTIONS
from tests.enrollment.helpers import at
from tests.pages import field_error, is_invalid

NOW = datetime(2025, 6, 15, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))

VALID = {
    "maladies": {"name": "Asthme", "start_0": "", "start_1": "3", "start_2": "2015"},
    "traitements": {"name": "Ventoline", "start_2": "2015", "dosage": "2 bouffées"},
    "hospitalisations": {"reason": "Appendicite", "entry_2": "2001", "stay_unit": "jours"},
    "antecedents-familiaux": {"disease": "Diabète", "relation": "mere"},
    "allergies": {"allergen": "Pollen", "severity": "legere"},
    "vaccinations": {"vaccine": "grippe", "date": "14/03/2024", "kind": "rappel"},
    "mesures": {"kind": "poids", "value": "72,5", "taken_at": "14/06/2025 08:30"},
    "handicaps": {"kind": "moteur", "name": "Paraplégie"},
    "groupe-sanguin": {"group": "A", "rhesus": "+"},
    "habitudes-de-vie": {"tobacco": "jamais", "alcohol": "occasionnel"},
    "entourage": {"emergency_name": "Paul Martin", "emergency_phone": "06 12 34 56 78"},
}


@pytest.fixture(autouse=True)
def _june(_reset_clock):
    at(NOW)


def url(slug: str) -> str:
    if SECTIONS[slug].single:
        return f"/profil-medical/{slug}/modifier/"
    return f"/profil-medical/{slug}/ajouter/"


def rows(slug: str) -> int:
    return SECTIONS[slug].model.objects.count()


def post(client, slug, **overrides):
    return client.post(url(slug), {**VALID[slug], **overrides})


# --- Refused: the error is next to the field, and nothing is written -----------------------

REFUSED = [
    # names and comments
    ("maladies", {"name": "x" * 51}, "name", "au plus 50 caractères (actuellement 51)"),
    ("maladies", {"name": ""}, "name", "Ce champ est obligatoire."),
    ("maladies", {"name": "<b>Asthme</b>"}, "name", "Les caractères < et >"),
    ("maladies", {"name": "Asthme\x07"}, "name", "caractères non autorisés"),
    ("maladies", {"comment": "x" * 3001}, "comment", "au plus 3000 caractères"),
    ("traitements", {"name": "x" * 51}, "name", "au plus 50 caractères"),
    ("traitements", {"dosage": "x" * 1001}, "dosage", "au plus 1000 caractères"),
    ("hospitalisations", {"reason": "x" * 51}, "reason", "au plus 50 caractères"),
    ("hospitalisations", {"establishment": "<i>CHU</i>"}, "establishment", "< et >"),
    ("antecedents-familiaux", {"disease": "x" * 51}, "disease", "au plus 50 caractères"),
    ("allergies", {"allergen": "<b>Pollen</b>"}, "allergen", "< et >"),
    ("allergies", {"comment": "x" * 3001}, "comment", "au plus 3000 caractères"),
    ("handicaps", {"name": "x" * 51}, "name", "au plus 50 caractères"),
    ("entourage", {"emergency_name": "<b>Paul</b>"}, "emergency_name", "< et >"),
    # partial dates: year range, future, birth, impossible dates, missing pieces
    ("maladies", {"start_2": "1899"}, "start", "L'année doit être comprise entre 1900 et 2025."),
    ("maladies", {"start_1": "", "start_2": "2026"}, "start", "entre 1900 et 2025"),
    ("maladies", {"start_1": "7", "start_2": "2025"}, "start", "ne peut pas être dans le futur"),
    (
        "maladies",
        {"start_0": "16", "start_1": "6", "start_2": "2025"},
        "start",
        "ne peut pas être dans le futur",
    ),
    ("maladies", {"start_1": "4", "start_2": "1980"}, "start", "antérieure à votre naissance"),
    (
        "maladies",
        {"start_0": "16", "start_1": "5", "start_2": "1980"},
        "start",
        "antérieure à votre naissance",
    ),
    ("maladies", {"start_1": "13"}, "start", "Le mois doit être compris entre 1 et 12."),
    ("maladies", {"start_1": "0"}, "start", "Le mois doit être compris entre 1 et 12."),
    ("maladies", {"start_0": "31", "start_1": "2"}, "start", "Cette date n'existe pas."),
    ("maladies", {"start_0": "29", "start_1": "2", "start_2": "2023"}, "start", "n'existe"),
    ("maladies", {"start_0": "12", "start_1": ""}, "start", "Précisez le mois"),
    ("maladies", {"start_1": "3", "start_2": ""}, "start", "L'année est obligatoire."),
    ("maladies", {"start_1": "", "start_2": ""}, "start", "Saisissez au moins l'année."),
    ("maladies", {"start_2": "deux"}, "start", "nombre"),
    ("maladies", {"start_2": "2015", "end_2": "2014"}, "end", "postérieure à la date de début"),
    (
        "maladies",
        {"start_1": "3", "start_2": "2015", "end_1": "2", "end_2": "2015"},
        "end",
        "postérieure à la date de début",
    ),
    ("maladies", {"end_2": "2026"}, "end", "entre 1900 et 2025"),
    ("traitements", {"start_2": "2015", "end_2": "2010"}, "end", "postérieure"),
    ("traitements", {"start_2": "1899"}, "start", "entre 1900 et 2025"),
    ("hospitalisations", {"entry_1": "8", "entry_2": "2025"}, "entry", "futur"),
    ("hospitalisations", {"entry_2": "1979"}, "entry", "antérieure à votre naissance"),
    # hospitalisation stay
    ("hospitalisations", {"stay_length": "1000"}, "stay_length", "3 chiffres au maximum"),
    ("hospitalisations", {"stay_length": "0"}, "stay_length", "au moins 1"),
    ("hospitalisations", {"stay_length": "deux"}, "stay_length", "nombre entier"),
    # choices
    ("antecedents-familiaux", {"relation": ""}, "relation", "Choisissez le lien familial."),
    ("antecedents-familiaux", {"relation": "voisin"}, "relation", "choix valide"),
    ("handicaps", {"kind": ""}, "kind", "Choisissez le type de handicap."),
    ("handicaps", {"rate": "101"}, "rate", "Le taux est compris entre 0 et 100."),
    ("groupe-sanguin", {"group": ""}, "group", "obligatoire"),
    # vaccinations
    ("vaccinations", {"date": "16/06/2025"}, "date", "ne peut pas être dans le futur"),
    ("vaccinations", {"date": "16/05/1980"}, "date", "antérieure à votre naissance"),
    ("vaccinations", {"date": "31/02/2024"}, "date", "Saisissez une date valide"),
    ("vaccinations", {"date": ""}, "date", "Saisissez la date de vaccination."),
    ("vaccinations", {"vaccine": ""}, "vaccine", "Choisissez un vaccin."),
    ("vaccinations", {"vaccine": "autre", "other_name": ""}, "other_name", "Indiquez le nom"),
    # measurements
    ("mesures", {"value": "0,2"}, "value", "La valeur doit être comprise entre 0,3 et 400 kg."),
    ("mesures", {"value": "401"}, "value", "La valeur doit être comprise entre 0,3 et 400 kg."),
    ("mesures", {"value": "soixante"}, "value", "Saisissez un nombre"),
    ("mesures", {"value": "NaN"}, "value", "Saisissez un nombre"),
    ("mesures", {"value": ""}, "value", "Saisissez la valeur."),
    ("mesures", {"kind": ""}, "kind", "Choisissez le type de mesure."),
    ("mesures", {"kind": "imc"}, "kind", "choix valide"),  # computed, never typed
    ("mesures", {"kind": "taille", "value": "19"}, "value", "entre 20 et 260 cm"),
    ("mesures", {"kind": "temperature", "value": "46"}, "value", "entre 30 et 45 °C"),
    (
        "mesures",
        {"kind": "glycemie", "value": "60", "glucose_unit": "mmol/L"},
        "value",
        "entre 0,1 et 10 g/L",
    ),
    (
        "mesures",
        {"kind": "tension", "value": "120", "value2": "130"},
        "value2",
        "La diastolique doit être inférieure à la systolique.",
    ),
    ("mesures", {"kind": "tension", "value": "120", "value2": "120"}, "value2", "inférieure"),
    (
        "mesures",
        {"kind": "tension", "value": "40", "value2": "30"},
        "value",
        "La systolique doit être comprise entre 50 et 300.",
    ),
    ("mesures", {"kind": "tension", "value": "301", "value2": "80"}, "value", "entre 50 et 300"),
    (
        "mesures",
        {"kind": "tension", "value": "120", "value2": "19"},
        "value2",
        "La diastolique doit être comprise entre 20 et 200.",
    ),
    ("mesures", {"kind": "tension", "value": "120"}, "value2", "Saisissez la tension diastolique"),
    ("mesures", {"taken_at": "16/06/2025 08:00"}, "taken_at", "ne peut pas être dans le futur"),
    ("mesures", {"taken_at": "15/06/2025 10:30"}, "taken_at", "ne peut pas être dans le futur"),
    ("mesures", {"taken_at": "hier"}, "taken_at", "JJ/MM/AAAA HH:MM"),
    ("mesures", {"comment": "x" * 151}, "comment", "au plus 150 caractères"),
    ("mesures", {"comment": "<b>après le repas</b>"}, "comment", "< et >"),
    # entourage
    ("entourage", {"emergency_phone": "appelez-moi"}, "emergency_phone", "numéro de téléphone"),
    ("entourage", {"trusted_phone": "06 12"}, "trusted_phone", "numéro de téléphone"),
    ("entourage", {"trusted_phone": "<b>0612345678</b>"}, "trusted_phone", "numéro"),
    ("entourage", {"trusted_phone": "-- .. -- .."}, "trusted_phone", "numéro"),
]


@pytest.mark.parametrize(
    ("slug", "data", "field", "message"),
    REFUSED,
    ids=[f"{slug}-{field}-{i}" for i, (slug, _, field, _) in enumerate(REFUSED)],
)
def test_refused_next_to_the_field_and_nothing_written(alice_client, slug, data, field, message):
    before = rows(slug)
    response = post(alice_client, slug, **data)
    assert response.status_code == 200
    html = response.content.decode()
    error = field_error(html, field)
    assert error is not None, f"no error shown next to {field}"
    assert message in error
    assert is_invalid(html, field)
    assert 'class="error-summary" role="alert"' in html
    assert "<title>Erreur" in html
    assert rows(slug) == before


# --- Accepted: saved as typed (or normalised), the limits included -------------------------

ACCEPTED = [
    ("maladies", {"name": "x" * 50}, {"name": "x" * 50}),
    ("maladies", {"name": "  Asthme  "}, {"name": "Asthme"}),
    ("maladies", {"comment": "x" * 3000}, {"comment": "x" * 3000}),
    ("maladies", {"start_1": "", "start_2": "2025"}, {"start_year": 2025, "start_month": None}),
    ("maladies", {"start_1": "6", "start_2": "2025"}, {"start_month": 6}),
    (
        "maladies",
        {"start_0": "15", "start_1": "6", "start_2": "2025"},
        {"start_year": 2025, "start_month": 6, "start_day": 15},
    ),
    ("maladies", {"start_1": "", "start_2": "1980"}, {"start_year": 1980}),  # born that year
    ("maladies", {"start_1": "5", "start_2": "1980"}, {"start_month": 5}),  # born that month
    ("maladies", {"start_0": "29", "start_1": "2", "start_2": "2024"}, {"start_day": 29}),
    (
        "maladies",
        {"start_1": "3", "start_2": "2015", "end_1": "", "end_2": "2015"},
        {"end_year": 2015, "end_month": None},
    ),
    (
        "maladies",
        {"ongoing": "on", "end_2": "2010"},  # ongoing: the end typed is not kept
        {"ongoing": True, "end_year": None},
    ),
    ("traitements", {"dosage": "x" * 1000}, {"dosage": "x" * 1000}),
    ("hospitalisations", {"stay_length": "999"}, {"stay_length": 999}),
    ("hospitalisations", {"stay_length": "1", "stay_unit": "mois"}, {"stay_unit": "mois"}),
    (
        "antecedents-familiaux",
        {"relation": "arriere-grand-mere"},
        {"relation": "arriere-grand-mere"},
    ),
    ("vaccinations", {"date": "15/06/2025"}, {"date": NOW.date()}),
    ("vaccinations", {"date": "17/05/1980"}, {"date": NOW.date().replace(1980, 5, 17)}),
    (
        "vaccinations",
        {"vaccine": "autre", "other_name": "Encéphalite japonaise"},
        {"vaccine": "autre", "other_name": "Encéphalite japonaise"},
    ),
    ("mesures", {"value": "0,3"}, {"value": Decimal("0.3")}),
    ("mesures", {"value": "400"}, {"value": Decimal("400")}),
    ("mesures", {"value": "72.5"}, {"value": Decimal("72.5"), "value2": None}),
    (
        "mesures",
        {"kind": "tension", "value": "120", "value2": "80"},
        {"kind": "tension", "value": Decimal("120"), "value2": Decimal("80")},
    ),
    (
        "mesures",
        {"kind": "glycemie", "value": "5,5", "glucose_unit": "mmol/L"},
        {"kind": "glycemie", "value": Decimal("0.99")},
    ),
    (
        "mesures",
        {"kind": "glycemie", "value": "0,95", "glucose_unit": "g/L"},
        {"value": Decimal("0.95")},
    ),
    ("mesures", {"comment": "x" * 150}, {"comment": "x" * 150}),
    ("mesures", {"taken_at": "15/06/2025 09:59"}, {"taken_at": NOW.replace(hour=9, minute=59)}),
    ("mesures", {"taken_at": ""}, {"taken_at": NOW}),  # empty: now
    ("handicaps", {"rate": "100"}, {"rate": 100}),
    (
        "entourage",
        {"emergency_phone": "+33 6.12.34.56.78", "trusted_phone": "01-23-45-67-89"},
        {"emergency_phone": "+33 6.12.34.56.78", "trusted_phone": "01-23-45-67-89"},
    ),
    ("groupe-sanguin", {"group": "AB", "rhesus": "-"}, {"group": "AB", "rhesus": "-"}),
]


@pytest.mark.parametrize(
    ("slug", "data", "stored"),
    ACCEPTED,
    ids=[f"{slug}-{i}" for i, (slug, _, _) in enumerate(ACCEPTED)],
)
def test_accepted_and_saved(alice_client, slug, data, stored):
    before = rows(slug)
    response = post(alice_client, slug, **data)
    assert response.status_code == 302, field_errors_of(response)
    assert rows(slug) == before + 1
    obj = SECTIONS[slug].model.objects.get()
    for name, value in stored.items():
        if name == "taken_at":
            assert abs((obj.taken_at - value).total_seconds()) < 60
        else:
            assert getattr(obj, name) == value, name
    assert obj.deleted_at is None


def field_errors_of(response) -> str:
    form = response.context["form"] if response.context else None
    return str(form.errors.as_data()) if form is not None else ""


def test_free_text_with_html_is_kept_as_typed_and_escaped_on_output(alice_client):
    comment = 'Crises <b>fortes</b> & "nocturnes"\n<script>alert(1)</script>'
    assert post(alice_client, "maladies", comment=comment).status_code == 302
    assert models.Condition.objects.get().comment == comment
    html = alice_client.get("/profil-medical/maladies/").content.decode()
    assert "<b>fortes</b>" not in html and "<script>alert(1)</script>" not in html
    assert "Crises &lt;b&gt;fortes&lt;/b&gt; &amp; &quot;nocturnes&quot;<br>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_name_is_escaped_on_output_too(alice_client):
    assert post(alice_client, "allergies", allergen="Pollen & acariens").status_code == 302
    html = alice_client.get("/profil-medical/allergies/").content.decode()
    assert "Pollen &amp; acariens" in html


def test_the_form_shows_every_error_at_once_and_keeps_what_was_typed(alice_client):
    response = post(alice_client, "maladies", name="x" * 51, start_1="13", comment="gardé")
    html = response.content.decode()
    assert field_error(html, "name") and field_error(html, "start")
    assert "2 erreurs empêchent de continuer" in html
    assert 'href="#id_name"' in html and 'href="#id_start_0"' in html
    assert 'value="13"' in html and ">\ngardé</textarea>" in html
    assert not models.Condition.objects.exists()


def test_labels_say_optional_once(alice_client):
    html = alice_client.get(url("traitements")).content.decode()
    assert "(facultatif) (facultatif)" not in html
    assert "Commentaire (facultatif)" in html and "Posologie (facultatif)" in html
    assert "<legend>Date de fin (facultatif)</legend>" in html


# --- Edit -----------------------------------------------------------------------------------


def _add(client, slug, **data):
    response = post(client, slug, **data)
    assert response.status_code == 302, field_errors_of(response)
    return SECTIONS[slug].model.objects.order_by("-id").first()


def test_edit_shows_the_entry_and_saves_the_change(alice_client):
    obj = _add(alice_client, "maladies")
    page = alice_client.get(f"/profil-medical/maladies/{obj.public_id}/modifier/")
    html = page.content.decode()
    assert 'value="Asthme"' in html and 'name="start_1" value="3"' in html
    assert 'name="start_2" value="2015"' in html
    data = {**VALID["maladies"], "name": "Asthme allergique", "start_0": "4", "ongoing": "on"}
    response = alice_client.post(f"/profil-medical/maladies/{obj.public_id}/modifier/", data)
    assert response.status_code == 302
    assert response.url == "/profil-medical/maladies/"
    obj.refresh_from_db()
    assert (obj.name, obj.start_day, obj.ongoing) == ("Asthme allergique", 4, True)
    assert models.Condition.objects.count() == 1


@pytest.mark.parametrize("slug", [s for s, section in SECTIONS.items() if not section.single])
def test_an_unchanged_entry_can_be_saved_again(alice_client, slug):
    """The edit page shows each value in a format its form accepts back."""
    obj = _add(alice_client, slug)
    edit = f"/profil-medical/{slug}/{obj.public_id}/modifier/"
    form = alice_client.get(edit).context["form"]
    data = {}
    for bound in form:
        value = bound.value()
        widget = bound.field.widget
        if hasattr(widget, "widgets"):
            for i, part in enumerate(widget.decompress(value)):
                data[f"{bound.html_name}_{i}"] = "" if part is None else str(part)
        elif value in (None, False):
            continue
        elif value is True:
            data[bound.html_name] = "on"
        else:
            data[bound.html_name] = widget.format_value(value) or ""
    response = alice_client.post(edit, data)
    assert response.status_code == 302, field_errors_of(response)


def test_edit_refused_changes_nothing(alice_client):
    obj = _add(alice_client, "mesures")
    data = {**VALID["mesures"], "value": "401"}
    response = alice_client.post(f"/profil-medical/mesures/{obj.public_id}/modifier/", data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "entre 0,3 et 400 kg" in field_error(html, "value")
    assert is_invalid(html, "value")
    obj.refresh_from_db()
    assert obj.value == Decimal("72.5")


def test_single_section_is_created_then_updated(alice_client):
    assert alice_client.get("/profil-medical/groupe-sanguin/").url == (
        "/profil-medical/groupe-sanguin/modifier/"
    )
    assert alice_client.get("/profil-medical/groupe-sanguin/ajouter/").url == (
        "/profil-medical/groupe-sanguin/modifier/"
    )
    assert post(alice_client, "groupe-sanguin").status_code == 302
    response = post(alice_client, "groupe-sanguin", group="O", rhesus="-")
    assert response.status_code == 302 and response.url == "/profil-medical/"
    assert [(b.group, b.rhesus) for b in models.BloodGroup.objects.all()] == [("O", "-")]
    html = alice_client.get("/profil-medical/groupe-sanguin/modifier/").content.decode()
    [checked] = re.findall(r'<input type="radio" name="group"[^>]*\bchecked\b[^>]*>', html)
    assert 'value="O"' in checked


# --- Delete: a confirmation page, then a soft delete ----------------------------------------


@pytest.mark.parametrize("slug", [s for s, section in SECTIONS.items() if not section.single])
def test_delete_asks_then_hides_the_entry_and_keeps_the_row(alice_client, slug):
    obj = _add(alice_client, slug)
    listing = f"/profil-medical/{slug}/"
    delete = f"/profil-medical/{slug}/{obj.public_id}/supprimer/"
    assert delete in alice_client.get(listing).content.decode()

    page = alice_client.get(delete)
    assert page.status_code == 200
    assert "Supprimer cette information ?" in page.content.decode()
    obj.refresh_from_db()
    assert obj.deleted_at is None  # asking is not deleting

    response = alice_client.post(delete)
    assert response.status_code == 302 and response.url == listing
    obj.refresh_from_db()
    assert obj.deleted_at is not None  # soft: the row is still there
    assert SECTIONS[slug].model.objects.count() == 1
    html = alice_client.get(listing).content.decode()
    assert str(obj.public_id) not in html
    assert "Rien n'est encore renseigné." in html
    assert alice_client.get(delete).status_code == 404
    assert alice_client.get(f"/profil-medical/{slug}/{obj.public_id}/modifier/").status_code == 404
    index = alice_client.get("/profil-medical/")
    assert dict((s.slug, n) for s, n in index.context["overview"])[slug] == 0


def test_a_deleted_single_entry_can_be_filled_again(alice_client):
    obj = _add(alice_client, "entourage")
    assert (
        alice_client.post(f"/profil-medical/entourage/{obj.public_id}/supprimer/").status_code
        == 302
    )
    assert post(alice_client, "entourage", emergency_name="Léa").status_code == 302
    assert models.Circle.objects.count() == 2
    assert models.Circle.objects.get(deleted_at__isnull=True).emergency_name == "Léa"


def test_the_measurement_list_shows_the_bmi(alice_client):
    _add(alice_client, "mesures", value="70")
    _add(alice_client, "mesures", kind="taille", value="175")
    html = alice_client.get("/profil-medical/mesures/").content.decode()
    assert "<strong>22,9</strong> kg/m²" in html or "<strong>22.9</strong> kg/m²" in html
