"""`carnet import_professionals FICHIER`: validation by line, errors file, upsert by RPPS."""

import csv
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from carnet.audit.models import Event
from carnet.core import clock
from carnet.professionals.models import Professional

from .conftest import row, rpps, write_csv


def run(path) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_professionals", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def errors_of(path) -> list[list[str]]:
    with open(path.with_name(path.stem + ".errors.csv"), encoding="utf-8") as fh:
        return list(csv.reader(fh))[1:]


def _later():
    return clock.travel(timedelta(days=1))


@pytest.fixture
def csv_file(tmp_path):
    return tmp_path / "annuaire.csv"


def test_import_creates_the_directory_and_audits_the_counts(db, csv_file):
    write_csv(csv_file, [row(1), row(2, profession="Pharmacien", specialty="")])
    out, err = run(csv_file)
    assert "2 créés, 0 mis à jour, 0 inchangés, 0 lignes en erreur" in out
    assert err == ""
    claire = Professional.objects.get(rpps=rpps(1))
    assert claire.profession == Professional.Profession.MEDECIN
    assert claire.specialty == "Médecine générale"
    assert claire.email == "claire.fictif1@exemple.fr"
    assert claire.user is None
    assert Professional.objects.get(rpps=rpps(2)).profession == "pharmacien"
    event = Event.objects.get(action="professionnels_importes")
    assert event.actor == "operateur:import"
    assert event.detail == {"crees": 2, "mis_a_jour": 0, "inchanges": 0, "lignes_en_erreur": 0}
    assert not csv_file.with_name("annuaire.errors.csv").exists()


def test_reimporting_the_same_file_changes_nothing(db, csv_file):
    write_csv(csv_file, [row(1), row(2)])
    run(csv_file)
    before = list(Professional.objects.order_by("rpps").values())
    with _later():
        out, _ = run(csv_file)
    assert "0 créés, 0 mis à jour, 2 inchangés" in out
    assert list(Professional.objects.order_by("rpps").values()) == before


def test_a_changed_row_updates_the_directory(db, csv_file):
    write_csv(csv_file, [row(1), row(2)])
    run(csv_file)
    first = Professional.objects.get(rpps=rpps(1))
    write_csv(csv_file, [row(1, city="Lyon", postcode="69003"), row(2)])
    with _later():
        out, _ = run(csv_file)
    assert "0 créés, 1 mis à jour, 1 inchangés" in out
    again = Professional.objects.get(rpps=rpps(1))
    assert (again.city, again.postcode) == ("Lyon", "69003")
    assert again.pk == first.pk and again.public_id == first.public_id
    assert again.imported_at == first.imported_at
    assert again.updated_at > first.updated_at


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"rpps": rpps(9)[:10] + str((int(rpps(9)[10]) + 1) % 10)}, "clé du numéro RPPS"),
        ({"rpps": "1234"}, "11 chiffres"),
        ({"email": "pas-une-adresse"}, "adresse e-mail invalide"),
        ({"messaging_address": "x@"}, "adresse de messagerie invalide"),
        ({"profession": "astrologue"}, "profession inconnue"),
        ({"profession": ""}, "profession obligatoire"),
        ({"last_name": ""}, "nom obligatoire"),
        ({"finess": "12345"}, "FINESS invalide"),
        ({"postcode": "7501"}, "code postal invalide"),
        ({"profession_code": "10 20"}, "code profession invalide"),
        ({"city": "Paris\x07"}, "caractère de contrôle"),
    ],
)
def test_an_invalid_row_is_skipped_and_listed(db, csv_file, overrides, reason):
    write_csv(csv_file, [row(1), row(9, **overrides), row(3)])
    out, err = run(csv_file)
    assert "2 créés, 0 mis à jour, 0 inchangés, 1 lignes en erreur" in out
    assert "ligne 3 : " in err and reason in err
    [(line, message)] = errors_of(csv_file)
    assert line == "3" and reason in message
    assert not Professional.objects.filter(rpps=rpps(9)).exists()


def test_a_repeated_rpps_is_refused_with_the_first_line(db, csv_file):
    write_csv(csv_file, [row(1), row(2), row(1, city="Lyon")])
    out, _ = run(csv_file)
    assert "2 créés" in out
    [(line, message)] = errors_of(csv_file)
    assert line == "4" and "RPPS en double" in message and "ligne 2" in message
    assert Professional.objects.get(rpps=rpps(1)).city == "Paris"


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("MÉDECIN", "medecin"),
        ("Sage-femme", "sage_femme"),
        ("sage femme", "sage_femme"),
        ("masseur kinesitherapeute", "masseur_kinesitherapeute"),
        ("Chirurgien-dentiste", "chirurgien_dentiste"),
        ("biologiste", "biologiste"),
        ("Radiologue", "radiologue"),
        ("infirmier", "infirmier"),
    ],
)
def test_professions_by_label_or_code(db, csv_file, written, stored):
    write_csv(csv_file, [row(1, profession=written)])
    run(csv_file)
    assert Professional.objects.get().profession == stored


def test_corsican_finess_and_semicolons(db, csv_file):
    write_csv(csv_file, [row(1, finess="2a0000017"), row(2, finess="750000001")], delimiter=";")
    out, _ = run(csv_file)
    assert "2 créés" in out
    assert Professional.objects.get(rpps=rpps(1)).finess == "2A0000017"


def test_a_file_without_the_columns_is_refused_whole(db, csv_file):
    write_csv(csv_file, [row(1)], columns=["rpps", "last_name", "first_name"])
    with pytest.raises(CommandError, match="colonnes manquantes : profession_code"):
        run(csv_file)
    assert not Professional.objects.exists()


def test_a_file_unreadable_half_way_imports_nothing(db, csv_file):
    write_csv(csv_file, [row(1), row(2)])
    with open(csv_file, "ab") as fh:
        fh.write(b"\xff\xfe broken\n")
    with pytest.raises(CommandError, match="ligne 4 : le fichier n'est pas encodé en UTF-8"):
        run(csv_file)
    assert not Professional.objects.exists()
    assert not Event.objects.filter(action="professionnels_importes").exists()
