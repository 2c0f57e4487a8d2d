"""Registry import: the service `registry_import` and the command `carnet import_registry`."""

import csv
import os
import subprocess
import sys
import uuid
from datetime import date, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from carnet.audit.models import Event
from carnet.audit.services import chains_verify
from carnet.core import clock
from carnet.registry.models import InsuredPerson
from carnet.registry.services import COLUMNS, OPTIONAL_COLUMNS, ImportFileError, registry_import
from tests.factories import make_nir

pytestmark = pytest.mark.django_db

HEADER = [*COLUMNS, *OPTIONAL_COLUMNS]
BIRTH = date(1980, 5, 17)


def nir(order: int, sex: int = 2, birth: date = BIRTH, dept: str = "75") -> str:
    return make_nir(sex, birth, order, dept=dept)


def person(order: int, **changes) -> dict[str, str]:
    """A valid row; `changes` replace some of its fields."""
    row = {
        "nir": nir(order),
        "last_name": f"MARTIN{order}",
        "first_name": "Alice",
        "birth_date": BIRTH.isoformat(),
        "sex": "F",
        "vitale_serial": f"{90000000000 + order:011d}",
        "vitale_photo": "1",
        "email": f"alice{order}@exemple.fr",
        "mobile": f"06 12 34 {order // 100 % 100:02d} {order % 100:02d}",
        "scheme": "Régime général",
        "guardian_nirs": "",
    }
    row.update(changes)
    return row


def write(path, rows, *, delimiter=",", header=HEADER, encoding="utf-8"):
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row[c] for c in header] if isinstance(row, dict) else row)
    return path


def error_rows(path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def snapshot() -> list[dict]:
    return list(InsuredPerson.objects.order_by("nir").values())


@pytest.fixture
def registry_csv(tmp_path):
    return tmp_path / "registre.csv"


@pytest.fixture
def small_batches(settings):
    """Batches of 2 rows, so that every rule is also checked across batch boundaries."""
    settings.CARNET = {**settings.CARNET, "IMPORT_BATCH_SIZE": 2}


# Each kind of invalid row, with a word its reason must contain. Row n uses order 100 + n.
BAD_ROWS = [
    ("clé", person(101, nir=nir(101)[:13] + f"{(int(nir(101)[13:]) % 97) + 1:02d}")),
    ("15 caractères", person(102, nir=nir(102)[:14])),
    ("format", person(103, nir="3" + nir(103)[1:])),
    ("nom", person(104, last_name="  ")),
    ("prénom", person(105, first_name="")),
    ("AAAA-MM-JJ", person(106, birth_date="17/05/1980")),
    ("AAAA-MM-JJ", person(107, birth_date="19800517")),
    ("AAAA-MM-JJ", person(108, birth_date="1980-02-30")),
    ("ne correspond pas au NIR", person(109, birth_date="1981-05-17")),
    ("ne correspond pas au NIR", person(110, birth_date="1980-06-17")),
    ("sexe invalide", person(111, sex="X")),
    ("sexe ne correspond pas", person(112, sex="M")),
    ("vitale_photo", person(113, vitale_photo="oui")),
    ("11 chiffres", person(114, vitale_serial="1234567890")),
    ("de 8 à 13 chiffres", person(115, vitale_photo="0", vitale_serial="1234567")),
    ("date", person(116, vitale_photo="0", vitale_serial="17051980")),
    ("sécurité sociale", person(117, vitale_serial=nir(117)[2:13])),
    ("que des chiffres", person(118, vitale_serial="12345A78901")),
    ("e-mail", person(119, email="alice@exemple@exemple.fr")),
    ("e-mail", person(120, email="alice exemple.fr")),
    ("mobile", person(121, mobile="01 23 45 67 89")),
    ("mobile", person(122, mobile="06 12")),
    ("représentant légal", person(123, guardian_nirs=nir(900, sex=1)[:14])),
    ("propre représentant", person(124, guardian_nirs=nir(124))),
    ("caractère de contrôle", person(125, last_name="MARTIN\x00")),
    ("caractère de contrôle", person(126, first_name="Ali\x1bce")),
    ("40 caractères", person(127, scheme="R" * 41)),
    ("100 caractères", person(128, last_name="M" * 101)),
]


def test_good_rows_are_imported_and_each_bad_row_is_reported_with_its_line(
    registry_csv, small_batches
):
    future = clock.today() + timedelta(days=400)
    bad = [*BAD_ROWS, ("futur", person(129, nir=make_nir(2, future, 129), birth_date=str(future)))]
    unknown_month = f"280{99}75112006"  # born abroad, month unknown: any month of 1980 will do
    good = [
        person(1, nir=" ".join([nir(1)[:1], nir(1)[1:3], nir(1)[3:5], nir(1)[5:]])),
        person(2, email="Bob.Durand@Exemple.FR", mobile="+33 (0)7 81 23 45 67"),
        person(3, vitale_photo="0", vitale_serial="12345678", email="", mobile=""),
        person(4, nir=nir(4, dept="2A"), guardian_nirs=f"{nir(901, sex=1)}|{nir(902)}"),
        person(5, mobile="06 90 12 34 56", scheme=""),  # Guadeloupe
        person(
            6, nir=f"{unknown_month}{97 - int(unknown_month) % 97:02d}", birth_date="1980-11-30"
        ),
        person(8, email="o'brien+carnet@exémple.fr"),  # beyond the common shape: Django decides
    ]
    rows = good[:3] + [row for _, row in bad] + good[3:]
    rows.append(["too", "few", "columns"])
    rows.append(person(7, nir=good[1]["nir"]))  # the same person twice in one file
    write(registry_csv, rows)

    report = registry_import(registry_csv)

    assert (report.created, report.updated, report.unchanged) == (7, 0, 0)
    persons = {p.nir: p for p in InsuredPerson.objects.all()}
    assert set(persons) == {
        nir(1),
        nir(2),
        nir(3),
        nir(4, dept="2A"),
        nir(5),
        good[5]["nir"],
        nir(8),
    }
    assert persons[nir(2)].email == "bob.durand@exemple.fr"
    assert persons[nir(2)].mobile == "+33781234567"
    assert persons[nir(2)].last_name == "MARTIN2"  # the first of the two rows is kept
    assert persons[nir(3)].vitale_photo is False
    assert persons[nir(3)].email == persons[nir(3)].mobile == ""
    assert persons[nir(4, dept="2A")].guardian_nirs == f"{nir(901, sex=1)}|{nir(902)}"
    assert persons[nir(5)].mobile == "+590690123456"
    assert persons[nir(8)].email == "o'brien+carnet@exémple.fr"
    assert all(uuid.UUID(p.public_id.hex).version == 4 for p in persons.values())

    first_bad = 5  # header, then three good rows
    expected = [(first_bad + i, word) for i, (word, _) in enumerate(bad)]
    expected.append((first_bad + len(bad) + 4, "colonnes"))
    expected.append((first_bad + len(bad) + 5, "NIR en double"))
    assert [line for line, _ in report.errors] == [line for line, _ in expected]
    for (line, reason), (_, word) in zip(report.errors, expected, strict=True):
        assert word.lower() in reason.lower(), (line, reason, word)
    assert report.errors_path == str(registry_csv.with_name("registre.errors.csv"))
    listed = error_rows(registry_csv.with_name("registre.errors.csv"))
    assert listed[0] == ["ligne", "motif"]
    assert listed[1:] == [[str(line), reason] for line, reason in report.errors]


def test_reimporting_the_same_file_changes_nothing(registry_csv, small_batches):
    write(registry_csv, [person(n) for n in range(1, 6)] + [person(99, nir="bad")])
    first = registry_import(registry_csv)
    before = snapshot()
    with clock.travel(timedelta(days=1)):
        second = registry_import(registry_csv)
    assert (first.created, first.updated, first.unchanged) == (5, 0, 0)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 5)
    assert second.errors == first.errors == [(7, second.errors[0][1])]
    assert snapshot() == before  # not even updated_at moved


def test_each_import_is_audited_with_counts_only(registry_csv):
    write(registry_csv, [person(1), person(2, sex="X")])
    registry_import(registry_csv)
    event = Event.objects.get(action="registre_importe")
    assert event.chain == "service"
    assert event.object_id == "registre.csv"
    assert event.detail == {"crees": 1, "mis_a_jour": 0, "inchanges": 0, "lignes_en_erreur": 1}
    assert chains_verify() == []


def test_a_changed_contact_is_updated_and_nothing_else(registry_csv, small_batches):
    write(registry_csv, [person(n) for n in range(1, 5)])
    registry_import(registry_csv)
    before = {p["nir"]: p for p in snapshot()}
    write(
        registry_csv,
        [
            person(1),
            person(2, email="nouvelle.adresse@exemple.fr"),
            person(3, mobile="07 81 00 00 03", scheme="MSA"),
            person(4),
            person(5),
        ],
    )
    with clock.travel(timedelta(days=1)):
        report = registry_import(registry_csv)
    assert (report.created, report.updated, report.unchanged) == (1, 2, 2)
    after = {p["nir"]: p for p in snapshot()}
    assert after[nir(2)]["email"] == "nouvelle.adresse@exemple.fr"
    assert (after[nir(3)]["mobile"], after[nir(3)]["scheme"]) == ("+33781000003", "MSA")
    for key in (nir(2), nir(3)):
        assert after[key]["updated_at"] > before[key]["updated_at"]
        for kept in ("id", "public_id", "created_at", "last_name", "vitale_serial"):
            assert after[key][kept] == before[key][kept]
    assert after[nir(1)] == before[nir(1)]
    assert after[nir(4)] == before[nir(4)]


def test_a_person_repeated_across_batches_is_reported_not_flip_flopped(registry_csv, small_batches):
    rows = [person(1), person(2), person(3), person(4), person(5, nir=nir(1), last_name="AUTRE")]
    write(registry_csv, rows)
    first = registry_import(registry_csv)
    second = registry_import(registry_csv)
    assert first.errors == second.errors == [(6, "NIR en double dans le fichier (ligne ignorée)")]
    assert (second.created, second.updated, second.unchanged) == (0, 0, 4)
    assert InsuredPerson.objects.get(nir=nir(1)).last_name == "MARTIN1"


def test_semicolon_files_with_a_bom_and_a_missing_optional_column(registry_csv):
    header = HEADER[:-1]
    write(registry_csv, [person(1), person(2)], delimiter=";", header=header, encoding="utf-8-sig")
    report = registry_import(registry_csv)
    assert (report.created, report.errors) == (2, [])
    assert InsuredPerson.objects.get(nir=nir(2)).scheme == "Régime général"


def test_semicolon_and_commas_inside_quoted_fields(registry_csv):
    write(registry_csv, [person(1, last_name="DE LA FONTAINE, DIT « JEAN »")], delimiter=";")
    assert registry_import(registry_csv).created == 1
    assert InsuredPerson.objects.get().last_name == "DE LA FONTAINE, DIT « JEAN »"


def test_line_numbers_count_physical_lines_and_blank_lines(registry_csv):
    text = ",".join(HEADER) + "\n"
    text += ",".join(person(1).values()) + "\n"
    text += "\n"  # line 3: blank, skipped
    row = person(2)
    row["scheme"] = '"Régime\ngénéral"'  # lines 4 and 5: one record
    text += ",".join(row.values()) + "\n"
    text += ",".join(person(3, sex="X").values()) + "\n"  # line 6
    registry_csv.write_text(text, encoding="utf-8")
    report = registry_import(registry_csv)
    assert [line for line, _ in report.errors] == [4, 6]
    assert "contrôle" in report.errors[0][1]
    assert report.created == 1


def test_a_clean_import_removes_the_previous_error_list(registry_csv):
    write(registry_csv, [person(1, sex="X")])
    assert registry_import(registry_csv).errors_path
    errors_path = registry_csv.with_name("registre.errors.csv")
    assert errors_path.exists()
    write(registry_csv, [person(1)])
    report = registry_import(registry_csv)
    assert report.errors_path == ""
    assert not errors_path.exists()


def test_progress_counts_every_line_after_the_header(registry_csv, small_batches):
    write(registry_csv, [person(n) for n in range(1, 8)] + [["bad"]])
    steps = []
    registry_import(registry_csv, progress=steps.append)
    assert sum(steps) == 8


def test_missing_columns_stop_the_import(registry_csv):
    header = [c for c in HEADER if c not in ("vitale_serial", "mobile")]
    write(registry_csv, [{c: v for c, v in person(1).items() if c in header}], header=header)
    with pytest.raises(ImportFileError, match="colonnes manquantes : vitale_serial, mobile"):
        registry_import(registry_csv)
    assert not InsuredPerson.objects.exists()


@pytest.mark.parametrize("content", [b"", b"\n\n"])
def test_an_empty_file_stops_the_import(registry_csv, content):
    registry_csv.write_bytes(content)
    with pytest.raises(ImportFileError, match="vide"):
        registry_import(registry_csv)


def test_a_file_that_is_not_utf8_imports_nothing_at_all(registry_csv, small_batches):
    rows = [person(n, scheme="RG") for n in range(1, 2000)]
    rows[1500]["last_name"] = "MÉNARD"
    write(registry_csv, rows, encoding="latin-1")
    with pytest.raises(ImportFileError, match="ligne 1502 : le fichier n'est pas encodé en UTF-8"):
        registry_import(registry_csv)
    assert not InsuredPerson.objects.exists()  # batches before the bad line were rolled back


def test_a_latin1_header_is_refused(registry_csv):
    registry_csv.write_bytes(",".join(HEADER).replace("nir", "nïr").encode("latin-1") + b"\n")
    with pytest.raises(ImportFileError, match="UTF-8"):
        registry_import(registry_csv)


# --- The command ----------------------------------------------------------------------------


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_registry", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_imports_and_reports_errors_with_line_numbers(registry_csv):
    write(registry_csv, [person(1), person(2, sex="M"), person(3)])
    out, err = run(str(registry_csv))
    assert "2 créés, 0 mis à jour, 0 inchangés, 1 lignes en erreur" in out
    assert "registre.errors.csv" in out
    assert "ligne 3 : le sexe ne correspond pas au NIR" in err
    out, _ = run(str(registry_csv))
    assert "0 créés, 0 mis à jour, 2 inchangés" in out


def test_command_shows_the_first_errors_and_counts_the_others(registry_csv):
    write(registry_csv, [person(n, sex="X") for n in range(1, 26)])
    _, err = run(str(registry_csv))
    assert err.count("sexe invalide") == 20
    assert "… et 5 autres erreurs" in err


def test_command_fails_on_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="fichier introuvable"):
        run(str(tmp_path / "absent.csv"))


def test_command_fails_on_missing_columns(registry_csv):
    write(registry_csv, [["x"]], header=["nir", "nom"])
    with pytest.raises(CommandError) as exc:
        run(str(registry_csv))
    message = str(exc.value)
    assert "colonnes manquantes" in message and "\n" not in message
    assert not InsuredPerson.objects.exists()


def test_command_fails_on_a_file_that_is_not_utf8(registry_csv):
    write(registry_csv, [person(1, first_name="Hélène")], encoding="cp1252")
    with pytest.raises(CommandError, match="ligne 2 : le fichier n'est pas encodé en UTF-8"):
        run(str(registry_csv))
    assert not InsuredPerson.objects.exists()


def test_the_real_command_exits_non_zero_with_a_one_line_reason(tmp_path, registry_csv):
    """`.venv/bin/carnet import_registry` on a temporary SQLite database, as an operator runs it."""
    carnet = Path(sys.executable).with_name("carnet")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CARNET_"))}
    env.update(DJANGO_SETTINGS_MODULE="carnet.settings", CARNET_VAR_DIR=str(tmp_path / "var"))

    def carnet_run(*args):
        return subprocess.run(  # noqa: S603 (our own command, fixed arguments)
            [str(carnet), *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    assert carnet_run("migrate", "-v", "0").returncode == 0
    write(registry_csv, [person(1), person(2, sex="X")])
    result = carnet_run("import_registry", str(registry_csv))
    assert result.returncode == 0
    assert "1 créés" in result.stdout and "ligne 3 : sexe invalide" in result.stderr

    refused = tmp_path / "refuse.csv"
    for content, reason in [
        (b"nir;nom\n1;2\n", "colonnes manquantes"),
        (",".join(HEADER).encode() + b"\n" + "MÉNARD".encode("latin-1") + b"\n", "UTF-8"),
    ]:
        refused.write_bytes(content)
        result = carnet_run("import_registry", str(refused))
        assert result.returncode != 0
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert reason in result.stderr
