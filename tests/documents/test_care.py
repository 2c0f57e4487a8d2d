"""Care history: the import `carnet import_care`, the page "Historique des soins", hiding."""

import csv
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from carnet.audit.models import Event
from carnet.audit.services import chains_verify
from carnet.core import clock
from carnet.documents.care import COLUMNS, ImportFileError, care_demo_events, care_import
from carnet.documents.models import CareEvent
from carnet.enrollment import services as enrollment
from tests.enrollment.helpers import at, identify
from tests.factories import InsuredPersonFactory, make_nir

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 11, 15)


@pytest.fixture(autouse=True)
def _today():
    """Every test runs on 15 November 2026 (the window starts on 1 December 2024)."""
    at(datetime(2026, 11, 15, 10, 0, tzinfo=PARIS))


@pytest.fixture
def care_csv(tmp_path):
    return tmp_path / "soins.csv"


@pytest.fixture
def small_batches(settings):
    """Batches of 2 rows, so that every rule is also checked across batch boundaries."""
    settings.CARNET = {**settings.CARNET, "IMPORT_BATCH_SIZE": 2}


@pytest.fixture
def person():
    return InsuredPersonFactory()


def row(nir, **changes) -> dict[str, str]:
    values = {
        "nir": nir,
        "date": "2026-10-02",
        "categorie": "maladie",
        "libelle": "Consultation de médecine générale",
        "professionnel": "Dr Claire DUPONT",
        "montant_rembourse": "18,50",
    }
    values.update(changes)
    return values


def write(path, rows, *, delimiter=",", header=COLUMNS, encoding="utf-8"):
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        for values in rows:
            writer.writerow(
                [values[c] for c in COLUMNS] if isinstance(values, dict) else list(values)
            )
    return path


def events() -> list[tuple]:
    return list(
        CareEvent.objects.order_by("id").values_list(
            "person_id", "date", "kind", "label", "professional_name", "amount_reimbursed"
        )
    )


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_care", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- Import: valid files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "encoding"),
    [(",", "utf-8"), (";", "utf-8-sig"), (";", "utf-8"), (",", "utf-8-sig")],
)
def test_a_valid_file_is_imported_and_reimporting_it_changes_nothing(
    care_csv, person, small_batches, delimiter, encoding
):
    rows = [
        row(person.nir),
        row(person.nir, categorie="médicaments", libelle="Pharmacie", montant_rembourse="12.4"),
        row(person.nir, date="02/10/2026", categorie="  Biologie ", libelle="Bilan, lipides"),
        row(person.nir, categorie="SOINS MÉDICAUX ET DENTAIRES", professionnel=""),
        row(person.nir, categorie="vaccin", montant_rembourse="0"),
    ]
    write(care_csv, rows, delimiter=delimiter, encoding=encoding)
    report = care_import(care_csv)
    assert (report.created, report.known, report.skipped, report.errors) == (5, 0, 0, [])
    assert set(events()) == {
        (person.id, date(2026, 10, 2), "maladie", "Consultation de médecine générale",
         "Dr Claire DUPONT", Decimal("18.50")),
        (person.id, date(2026, 10, 2), "médicaments", "Pharmacie", "Dr Claire DUPONT",
         Decimal("12.40")),
        (person.id, date(2026, 10, 2), "biologie", "Bilan, lipides", "Dr Claire DUPONT",
         Decimal("18.50")),
        (person.id, date(2026, 10, 2), "soins médicaux et dentaires",
         "Consultation de médecine générale", "", Decimal("18.50")),
        (person.id, date(2026, 10, 2), "vaccin", "Consultation de médecine générale",
         "Dr Claire DUPONT", Decimal("0.00")),
    }  # fmt: skip
    assert all(not event.hidden for event in CareEvent.objects.all())
    before = list(CareEvent.objects.order_by("id").values())

    with clock.travel(timedelta(days=1)):
        again = care_import(care_csv)

    assert (again.created, again.known, again.errors) == (0, 5, [])
    assert list(CareEvent.objects.order_by("id").values()) == before  # imported_at kept too


def test_tolerated_spellings(care_csv, person):
    nir = person.nir
    spaced = " ".join([nir[:1], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]])
    header = ["Montant remboursé", " NIR ", "Date", "Catégorie", "Libellé", "Professionnel"]
    write(
        care_csv,
        [
            ["1 234,56", spaced, "31/12/2024", "Hospitalisation", " Séjour ", " Hôpital NORD "],
            ["7", nir, "2026-11-15", "Dispositif Médical", "Attelle", ""],
            ["99999999,99", nir, "1900-01-01", "radiologie", "Radio", ""],
            ["3,5", nir, "2025-06-01", "dispositif me\u0301dical", "Semelles", ""],  # NFD é
        ],
        header=header,
    )
    report = care_import(care_csv)
    assert (report.created, report.errors) == (4, [])
    stored = {e.label: e for e in CareEvent.objects.all()}
    assert stored["Séjour"].professional_name == "Hôpital NORD"
    assert stored["Séjour"].date == date(2024, 12, 31)
    assert stored["Séjour"].amount_reimbursed == Decimal("1234.56")
    assert stored["Attelle"].date == TODAY
    assert stored["Radio"].amount_reimbursed == Decimal("99999999.99")
    assert stored["Semelles"].kind == "dispositif médical"


def test_a_row_repeating_a_known_reimbursement_counts_as_known(care_csv, person, small_batches):
    write(care_csv, [row(person.nir), row(person.nir, montant_rembourse="20")])
    first = care_import(care_csv)
    assert (first.created, first.known) == (1, 1)  # the same key twice: the first row is kept
    assert CareEvent.objects.get().amount_reimbursed == Decimal("18.50")
    write(care_csv, [row(person.nir), row(person.nir, date="2026-10-03")])
    second = care_import(care_csv)
    assert (second.created, second.known) == (1, 1)
    assert CareEvent.objects.count() == 2


# --- Import: invalid rows ---------------------------------------------------------------------


def _bad_key(nir: str) -> str:
    return nir[:13] + f"{int(nir[13:]) % 97 + 1:02d}"


def test_each_invalid_row_is_reported_with_its_line_and_the_others_are_imported(
    care_csv, person, small_batches
):
    unknown = make_nir(1, date(1950, 1, 1), 999, dept="13")
    future = (TODAY + timedelta(days=1)).isoformat()
    bad = [
        ("clé", row(_bad_key(person.nir))),
        ("15 caractères", row(person.nir[:14])),
        ("NIR inconnu", row(unknown)),
        ("futur", row(person.nir, date=future)),
        ("antérieure à 1900", row(person.nir, date="1899-12-31")),
        ("AAAA-MM-JJ ou JJ/MM/AAAA", row(person.nir, date="2026/10/02")),
        ("AAAA-MM-JJ ou JJ/MM/AAAA", row(person.nir, date="")),
        ("inexistante", row(person.nir, date="2026-02-30")),
        ("inexistante", row(person.nir, date="31/04/2026")),
        ("catégorie inconnue", row(person.nir, categorie="dentaire")),
        ("catégorie inconnue", row(person.nir, categorie="medicaments")),
        ("catégorie obligatoire", row(person.nir, categorie=" ")),
        ("négatif", row(person.nir, montant_rembourse="-12,50")),
        ("2 décimales au plus", row(person.nir, montant_rembourse="12,505")),
        ("montant remboursé invalide", row(person.nir, montant_rembourse="12 €")),
        ("montant remboursé invalide", row(person.nir, montant_rembourse="1e3")),
        ("montant remboursé obligatoire", row(person.nir, montant_rembourse="")),
        ("trop élevé", row(person.nir, montant_rembourse="100000000")),
        ("libellé obligatoire", row(person.nir, libelle="  ")),
        ("libellé de plus de 200", row(person.nir, libelle="L" * 201)),
        ("caractère de contrôle", row(person.nir, libelle="Consultation\x00")),
        ("professionnel de plus de 150", row(person.nir, professionnel="P" * 151)),
        ("caractère de contrôle", row(person.nir, professionnel="Dr\x1bX")),
    ]
    good = [row(person.nir, libelle=f"Consultation {n}") for n in range(3)]
    rows = [good[0], *[values for _, values in bad], good[1], ["trop", "peu"], good[2]]
    write(care_csv, rows)

    report = care_import(care_csv)

    assert (report.created, report.known, report.skipped) == (3, 0, 0)
    assert sorted(e[3] for e in events()) == [f"Consultation {n}" for n in range(3)]
    expected = [(3 + i, word) for i, (word, _) in enumerate(bad)]
    expected.append((3 + len(bad) + 1, "2 colonnes au lieu de 6"))
    assert [line for line, _ in report.errors] == [line for line, _ in expected]
    for (line, reason), (_, word) in zip(report.errors, expected, strict=True):
        assert word.lower() in reason.lower(), (line, reason, word)
    errors_path = care_csv.with_name("soins.errors.csv")
    assert report.errors_path == str(errors_path)
    with errors_path.open(encoding="utf-8", newline="") as fh:
        listed = list(csv.reader(fh))
    assert listed[0] == ["ligne", "motif"]
    assert listed[1:] == [[str(line), reason] for line, reason in report.errors]


def test_a_clean_import_removes_the_previous_error_list(care_csv, person):
    write(care_csv, [row(person.nir, categorie="autre")])
    assert care_import(care_csv).errors_path
    write(care_csv, [row(person.nir)])
    assert care_import(care_csv).errors_path == ""
    assert not care_csv.with_name("soins.errors.csv").exists()


def test_rows_of_opposed_spaces_are_not_kept(care_csv, person, issue_code):
    issued = issue_code(first_name="Bernard")
    enrollment.space_oppose(identified=identify(issued.person, issued.code))
    write(care_csv, [row(person.nir), row(issued.person.nir)])
    report = care_import(care_csv)
    assert (report.created, report.skipped, report.errors) == (1, 1, [])
    assert not CareEvent.objects.filter(person=issued.person).exists()


def test_each_import_is_audited_with_counts_only(care_csv, person):
    write(care_csv, [row(person.nir), row(person.nir, date="demain")])
    care_import(care_csv)
    care_import(care_csv)
    first, second = Event.objects.filter(action="soins_importes").order_by("seq")
    assert first.object_id == "soins.csv"
    assert first.detail == {"crees": 1, "deja_connus": 0, "ignores": 0, "lignes_en_erreur": 1}
    assert second.detail == {"crees": 0, "deja_connus": 1, "ignores": 0, "lignes_en_erreur": 1}
    assert "Consultation" not in str(first.detail)
    assert chains_verify() == []


def test_progress_counts_every_line_after_the_header(care_csv, person, small_batches):
    write(care_csv, [row(person.nir, libelle=f"C{n}") for n in range(7)] + [["x"]])
    steps = []
    care_import(care_csv, progress=steps.append)
    assert sum(steps) == 8


# --- Import: files refused as a whole ---------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\n\n", "\ufeff".encode()])
def test_an_empty_file_is_refused(care_csv, content):
    care_csv.write_bytes(content)
    with pytest.raises(ImportFileError, match="vide"):
        care_import(care_csv)


def test_a_file_without_header_is_refused(care_csv, person):
    care_csv.write_text(",".join(row(person.nir).values()) + "\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="colonnes manquantes : nir, date, categorie"):
        care_import(care_csv)
    assert not CareEvent.objects.exists()


def test_a_file_not_utf8_half_way_imports_nothing(care_csv, person, small_batches):
    rows = [row(person.nir, libelle=f"Consultation {n}") for n in range(50)]
    rows[40]["professionnel"] = "Dr MÉNARD"
    write(care_csv, rows, encoding="latin-1")
    with pytest.raises(ImportFileError, match="ligne 42 : le fichier n'est pas encodé en UTF-8"):
        care_import(care_csv)
    assert not CareEvent.objects.exists()  # the batches before the bad line were rolled back
    assert not Event.objects.filter(action="soins_importes").exists()


# --- The command ------------------------------------------------------------------------------


def test_command_imports_and_reports_errors_with_line_numbers(care_csv, person):
    write(care_csv, [row(person.nir), row(person.nir, montant_rembourse="-1"), row("123")])
    out, err = run(str(care_csv))
    assert "1 créés, 0 déjà connus, 0 ignorés" in out
    assert "2 lignes en erreur (détail : " in out and "soins.errors.csv" in out
    assert "ligne 3 : montant remboursé négatif" in err
    assert "ligne 4 : Le numéro de sécurité sociale doit comporter 15 caractères." in err
    out, _ = run(str(care_csv))
    assert "0 créés, 1 déjà connus" in out


def test_command_shows_the_first_errors_and_counts_the_others(care_csv, person):
    write(care_csv, [row(person.nir, categorie=f"x{n}") for n in range(25)])
    _, err = run(str(care_csv))
    assert err.count("catégorie inconnue") == 20
    assert "… et 5 autres erreurs" in err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "le fichier est vide"),
        (b"nir;nom\n1;2\n", "colonnes manquantes : date, categorie"),
        (",".join(COLUMNS).encode() + b"\n" + "MÉNARD".encode("latin-1") + b"\n", "UTF-8"),
        # An unclosed quote swallows the rest of the file, up to the csv module's field limit.
        (",".join(COLUMNS).encode() + b'\n"' + b"a" * 200_000, "ligne 2 : CSV illisible"),
    ],
)
def test_command_refuses_an_unreadable_file_in_one_line(care_csv, person, content, reason):
    care_csv.write_bytes(content)
    with pytest.raises(CommandError) as exc:
        run(str(care_csv))
    message = str(exc.value)
    assert reason in message and "rien n'a été importé" in message
    assert "\n" not in message
    assert not CareEvent.objects.exists()


def test_command_fails_on_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="fichier introuvable"):
        run(str(tmp_path / "absent.csv"))


def test_command_help_documents_the_columns():
    from carnet.documents.management.commands.import_care import Command

    assert ",".join(COLUMNS) in Command.help
    for kind in CareEvent.Kind.values:
        assert kind in Command.help


# --- The page ---------------------------------------------------------------------------------


def _event(person, day: date, **fields) -> CareEvent:
    values = {
        "kind": CareEvent.Kind.MALADIE,
        "label": f"Consultation du {day.isoformat()}",
        "professional_name": "Dr Claire DUPONT",
        "amount_reimbursed": Decimal("12.50"),
        "imported_at": clock.now(),
    }
    values.update(fields)
    return CareEvent.objects.create(person=person, date=day, **values)


def _page(client) -> str:
    response = client.get("/documents/historique-des-soins/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_shows_the_last_24_months_by_month_newest_first(alice, alice_client, bob):
    me = alice.person
    _event(me, date(2026, 11, 3), kind=CareEvent.Kind.SOINS, label="Détartrage")
    _event(me, date(2026, 11, 12), kind=CareEvent.Kind.MEDICAMENTS, label="Pharmacie")
    _event(me, date(2026, 2, 20), kind=CareEvent.Kind.RADIOLOGIE, label="Radio du genou",
           amount_reimbursed=Decimal("1432"))  # fmt: skip
    _event(me, date(2024, 12, 1), label="Le plus ancien montré")
    _event(me, date(2024, 11, 30), label="Trop ancien")
    _event(bob.person, date(2026, 11, 10), label="Soin de Bob")

    html = _page(alice_client)

    months = re.findall(r"<h2 id=\"mois-\d+\">([^<]+)</h2>", html)
    assert months == ["Novembre 2026", "Février 2026", "Décembre 2024"]
    labels = re.findall(r"<h3>([^<]+?)(?: <span|</h3>)", html)
    assert labels == ["Pharmacie", "Détartrage", "Radio du genou", "Le plus ancien montré"]
    assert "Trop ancien" not in html and "Soin de Bob" not in html
    assert "Soins médicaux et dentaires" in html and "Médicaments" in html
    assert "Radiologie" in html
    assert "12,50&nbsp;€" in html
    assert "1\u00a0432,00&nbsp;€" in html  # thousands grouped by a no-break space
    assert "12 novembre 2026" in html
    assert "Masqué aux professionnels" not in html


def test_the_page_says_when_there_is_nothing(alice_client):
    assert "Aucun soin remboursé au cours des 24 derniers mois." in _page(alice_client)


def test_hiding_an_entry_sets_the_flag_shows_the_badge_and_is_audited(alice, alice_client):
    event = _event(alice.person, date(2026, 10, 2))
    url = f"/documents/historique-des-soins/{event.pk}/masquer/"

    response = alice_client.post(url, {"valeur": "1"})

    assert response.status_code == 302
    assert response["Location"] == "/documents/historique-des-soins/"
    event.refresh_from_db()
    assert event.hidden
    html = _page(alice_client)
    assert "Masqué aux professionnels" in html
    assert "Ne plus masquer" in html
    audit = Event.objects.get(action="soin_masque")
    assert audit.space_id == alice.person.space.public_id
    assert (audit.object_type, audit.object_id) == ("soin", str(event.pk))
    assert "Consultation" not in str(audit.detail)

    alice_client.post(url, {"valeur": "1"})  # sent twice (double click): still hidden
    event.refresh_from_db()
    assert event.hidden
    alice_client.post(url, {"valeur": "0"})
    event.refresh_from_db()
    assert not event.hidden
    assert Event.objects.filter(action="soin_affiche").count() == 1
    assert chains_verify() == []


def test_another_persons_entry_cannot_be_hidden(alice_client, bob):
    event = _event(bob.person, date(2026, 10, 2))
    response = alice_client.post(
        f"/documents/historique-des-soins/{event.pk}/masquer/", {"valeur": "1"}
    )
    assert response.status_code == 404
    event.refresh_from_db()
    assert not event.hidden
    assert not Event.objects.filter(action__in=["soin_masque", "soin_affiche"]).exists()


def test_hiding_is_post_only(alice, alice_client):
    event = _event(alice.person, date(2026, 10, 2))
    response = alice_client.get(f"/documents/historique-des-soins/{event.pk}/masquer/")
    assert response.status_code == 405
    event.refresh_from_db()
    assert not event.hidden


def test_the_page_needs_a_login(client):
    response = client.get("/documents/historique-des-soins/")
    assert response.status_code in (302, 404)
    assert "Historique des soins" not in response.content.decode()


# --- Demo data --------------------------------------------------------------------------------


def test_demo_events_fill_the_page_and_are_not_doubled(alice, alice_client):
    created = care_demo_events(alice.person)
    assert 6 <= created <= 10
    assert care_demo_events(alice.person) == 0
    stored = list(CareEvent.objects.filter(person=alice.person))
    assert all(TODAY - timedelta(days=730) < e.date <= TODAY for e in stored)
    assert len({e.kind for e in stored}) == len(CareEvent.Kind.values)
    html = _page(alice_client)
    assert html.count("<h3>") == created
