"""Fixtures of the FHIR tests: Alice's space, a profile with every kind of entry (written
through the real services), the catalogue's operator and a child, for the API tests."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from carnet.enrollment.selectors import space_for_user
from carnet.profile import models, services
from tests.catalogue.conftest import operator  # noqa: F401 (a fixture)
from tests.family.conftest import child  # noqa: F401 (a fixture)

PARIS = ZoneInfo("Europe/Paris")


def add(user, space, model, **values):
    return services.entry_create(actor=user, space=space, model=model, values=values)


def measure(user, space, kind, value, value2=None, day=1):
    return add(
        user,
        space,
        models.Measurement,
        kind=kind,
        value=Decimal(value),
        value2=Decimal(value2) if value2 is not None else None,
        taken_at=datetime(2026, 3, day, 9, 30, tzinfo=PARIS),
    )


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def filled(alice, space):
    """A profile with every kind of entry, some deleted, some past."""
    rows = {
        "condition": add(alice, space, models.Condition, name="Diabète de type 2",
                         start_year=2015, start_month=3, ongoing=True),
        "past": add(alice, space, models.Condition, name="Appendicite", start_year=1999,
                    end_year=1999, end_month=6),
        "treatment": add(alice, space, models.Treatment, name="Metformine", start_year=2016,
                         ongoing=True, dosage="1 comprimé matin et soir"),
        "old_treatment": add(alice, space, models.Treatment, name="Amoxicilline",
                             start_year=2020, start_month=2, start_day=3, end_year=2020,
                             end_month=2, end_day=10),
        "hospitalisation": add(alice, space, models.Hospitalisation, reason="Appendicectomie",
                               entry_year=1999, entry_month=6, stay_length=3,
                               establishment="Hôpital Fictif"),
        "family": add(alice, space, models.FamilyHistory, disease="Diabète", relation="mere"),
        "allergy": add(alice, space, models.Allergy, allergen="Pénicilline", reaction="Œdème",
                       severity="severe"),
        "vaccination": add(alice, space, models.Vaccination, vaccine="dtp",
                           date=date(2020, 1, 15), kind="rappel", lot="AB12"),
        "blood": add(alice, space, models.BloodGroup, group="A", rhesus="+"),
        "lifestyle": add(alice, space, models.Lifestyle, tobacco="ancien", alcohol="occasionnel"),
        "old_weight": measure(alice, space, "poids", "70", day=1),
        "weight": measure(alice, space, "poids", "72.5", day=3),
        "pressure": measure(alice, space, "tension", "130", "85", day=2),
        "glucose": measure(alice, space, "glycemie", "1.05", day=2),
        "hba1c": measure(alice, space, "hba1c", "6.8", day=2),
    }  # fmt: skip
    gone = {
        "condition": add(alice, space, models.Condition, name="Entorse effacée", start_year=2010,
                         ongoing=True),
        "treatment": add(alice, space, models.Treatment, name="Effacé", start_year=2010,
                         ongoing=True),
        "allergy": add(alice, space, models.Allergy, allergen="Effacée"),
        "vaccination": add(alice, space, models.Vaccination, vaccine="ror",
                           date=date(2001, 1, 1)),
        "measure": measure(alice, space, "temperature", "38.2", day=4),
    }  # fmt: skip
    for row in gone.values():
        services.entry_delete(actor=alice, space=space, obj=row)
    return rows, gone
