"""`carnet access_matrix`: the operator reads and edits the profession × category matrix."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from carnet.audit.models import Event
from carnet.consent.matrix import matrix_cells
from carnet.consent.models import CategoryAccess

pytestmark = pytest.mark.django_db


def test_the_matrix_is_loaded_from_its_file():
    expected = {(p, c): allowed for p, c, allowed in matrix_cells()}
    stored = {(m.profession, m.category): m.allowed for m in CategoryAccess.objects.all()}
    assert stored == expected
    assert stored[("medecin", "DIR_ANT")] and not stored[("pharmacien", "CPT_REND")]


def test_an_operator_opens_a_cell_and_it_is_audited():
    out = StringIO()
    call_command(
        "access_matrix", "ouvrir", "pharmacien", "CPT_REND", operateur="a.martin", stdout=out
    )
    assert "pharmacien × CPT_REND : ouvert" in out.getvalue()
    cell = CategoryAccess.objects.get(profession="pharmacien", category="CPT_REND")
    assert cell.allowed and cell.updated_by == "operateur:a.martin"
    event = Event.objects.get(action="matrice_acces_modifiee")
    assert event.detail == {"profession": "pharmacien", "categorie": "CPT_REND", "ouvert": True}


def test_unknown_cells_and_missing_operator_are_refused():
    with pytest.raises(CommandError, match="case inconnue"):
        call_command("access_matrix", "fermer", "astronaute", "CPT_REND", operateur="a.martin")
    with pytest.raises(CommandError, match="--operateur"):
        call_command("access_matrix", "fermer", "medecin", "CPT_REND")
    assert CategoryAccess.objects.get(profession="medecin", category="CPT_REND").allowed


def test_showing_lists_every_profession():
    out = StringIO()
    call_command("access_matrix", stdout=out)
    assert "pharmacien :" in out.getvalue() and "medecin :" in out.getvalue()
