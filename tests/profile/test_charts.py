"""Issue 4: measurements are shown, not just listed (panels, server-rendered SVG charts)."""

import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from carnet.enrollment.selectors import space_for_user
from carnet.profile.charts import measurement_panels, number
from carnet.profile.models import Measurement
from carnet.profile.services import entry_create
from tests.enrollment.helpers import activate

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def owner(issue_code):
    return activate(issue_code(), identifier="chart.owner")


def measure(user, kind, value, when, value2=None, comment=""):
    values = {
        "kind": kind,
        "value": Decimal(value),
        "value2": Decimal(value2) if value2 is not None else None,
        "taken_at": when,
        "comment": comment,
    }
    return entry_create(actor=user, space=space_for_user(user), model=Measurement, values=values)


def at(y, m, d, hour=8, minute=30):
    return datetime(y, m, d, hour, minute, tzinfo=PARIS)


def only_panel(user, key):
    panels = {p.key: p for p in measurement_panels(space_for_user(user))}
    return panels[key]


def test_number_uses_a_decimal_comma():
    assert number(Decimal("72.50")) == "72,5"
    assert number(Decimal("70.00")) == "70"
    assert number(Decimal("12000")) == "12\u202f000"


def test_one_value_gives_the_table_but_no_chart(owner):
    measure(owner, "poids", "70", at(2025, 3, 3))
    panel = only_panel(owner, "poids")
    assert panel.chart is None
    assert panel.latest_value == "70\u00a0kg"
    assert panel.latest_date == "3 mars 2025 à 08:30"
    assert [r.values for r in panel.rows] == [["70"]]


def test_two_values_give_an_svg_with_title_desc_and_a_newest_first_table(owner):
    measure(owner, "poids", "70", at(2025, 3, 3))
    measure(owner, "poids", "72.5", at(2025, 5, 4))
    panel = only_panel(owner, "poids")
    svg = str(panel.chart)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'viewBox="0 0 ' in svg and 'width="100%"' in svg
    assert '<title id="graphique-poids-titre">Évolution du poids</title>' in svg
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg).group(1)
    assert "Évolution du poids, de 70\u00a0kg le 3 mars 2025 à 72,5\u00a0kg le 4 mai 2025" in desc
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 2
    assert "Poids (kg)" in svg and "Date de la mesure" in svg  # axis titles
    assert "3 mars 2025" in svg and "4 mai 2025" in svg  # x tick labels
    assert "72,5" in svg and "72.5 kg" not in svg
    assert [r.values for r in panel.rows] == [["72,5"], ["70"]]
    assert panel.latest_value == "72,5\u00a0kg"


def test_panels_follow_the_order_of_the_types_and_skip_empty_ones(owner):
    measure(owner, "temperature", "37.2", at(2025, 1, 1))
    measure(owner, "poids", "70", at(2025, 1, 2))
    keys = [p.key for p in measurement_panels(space_for_user(owner))]
    assert keys == ["poids", "temperature"]


def test_blood_pressure_shows_two_curves_and_a_legend(owner):
    measure(owner, "tension", "120", at(2025, 1, 10), value2="80")
    measure(owner, "tension", "135", at(2025, 2, 10), value2="85")
    measure(owner, "tension", "128", at(2025, 3, 10), value2="82")
    panel = only_panel(owner, "tension")
    svg = str(panel.chart)
    polylines = re.findall(r"<polyline[^>]*>", svg)
    assert len(polylines) == 2
    colours = {re.search(r'stroke="(#[0-9a-f]{6})"', p).group(1) for p in polylines}
    assert len(colours) == 2
    assert sum("stroke-dasharray" in p for p in polylines) == 1  # not colour alone
    assert ">Systolique</text>" in svg and ">Diastolique</text>" in svg  # legend
    assert "&lt;" not in svg  # nothing escaped twice
    assert "<rect" in svg and "<circle" in svg  # two marker shapes
    assert "de 120/80\u00a0mmHg le 10 janvier 2025 à 128/82\u00a0mmHg le 10 mars 2025" in svg
    assert panel.columns == ["Systolique (mmHg)", "Diastolique (mmHg)"]
    assert panel.rows[0].values == ["128", "82"]


def test_a_child_growth_is_plotted_against_age(owner):
    space = space_for_user(owner)
    space.person.birth_date = date(2024, 1, 15)
    space.person.save(update_fields=["birth_date"])
    measure(owner, "taille", "50", at(2024, 1, 16))
    measure(owner, "taille", "66", at(2024, 7, 20))
    measure(owner, "taille", "75", at(2025, 1, 20))
    measure(owner, "temperature", "37", at(2025, 1, 20))
    measure(owner, "temperature", "38", at(2025, 1, 22))
    taille = str(only_panel(owner, "taille").chart)
    assert "Âge (mois)" in taille and "Date de la mesure" not in taille
    assert "selon l’âge" in taille and "(12 mois)" in taille
    # Not a growth measure: still against the date.
    assert "Date de la mesure" in str(only_panel(owner, "temperature").chart)


def test_an_older_child_is_plotted_in_years_and_an_adult_against_the_date(owner):
    space = space_for_user(owner)
    space.person.birth_date = date(2015, 6, 1)
    space.person.save(update_fields=["birth_date"])
    measure(owner, "poids", "20", at(2021, 6, 1))
    measure(owner, "poids", "30", at(2024, 6, 1))
    assert "Âge (années)" in str(only_panel(owner, "poids").chart)
    space.person.birth_date = date(1980, 5, 17)
    space.person.save(update_fields=["birth_date"])
    assert "Âge" not in str(only_panel(owner, "poids").chart)


def test_user_text_is_escaped_in_the_chart_and_the_page(owner, client):
    evil = '<script>alert("x")</script>'
    measure(owner, "poids", "70", at(2025, 3, 3), comment=evil)
    measure(owner, "poids", "71", at(2025, 4, 3))
    svg = str(only_panel(owner, "poids").chart)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    client.force_login(owner)
    html = client.get("/profil-medical/mesures/").content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


def test_the_measurements_page_shows_the_panels(owner, client):
    measure(owner, "poids", "70", at(2025, 3, 3))
    measure(owner, "poids", "72.5", at(2025, 5, 4))
    measure(owner, "glycemie", "0.95", at(2025, 5, 4))
    client.force_login(owner)
    response = client.get("/profil-medical/mesures/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h2 id="mesure-poids">Poids</h2>' in html
    assert '<h2 id="mesure-glycemie">Glycémie</h2>' in html
    assert html.count("<svg") == 1  # glycaemia has a single value: table only
    assert "<figure" in html and "<figcaption>" in html
    assert 'tabindex="0" role="region" aria-label="Tableau des mesures : Poids"' in html
    assert '<th scope="col">Date</th>' in html and "<caption>" in html
    assert "72,5\u00a0kg" in html and "0,95\u00a0g/L" in html
    assert " style=" not in html.split("<main", 1)[1]  # CSP: no inline style
