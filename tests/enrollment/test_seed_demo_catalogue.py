"""The demo catalogue of `carnet seed_demo`: synthetic entries registered by demo.operateur
through the real service, « Carnet Démo — Suivi tension » under its fixed, documented client_id
(the one examples/smart_app.py uses), a suspended one kept out of the catalogue; and the seed
stays idempotent: run again, it changes nothing and adds no duplicate."""

from io import StringIO

import pytest
from django.core.management import call_command

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.catalogue.models import App
from carnet.catalogue.selectors import catalogue_apps
from carnet.enrollment.management.commands.seed_demo import (
    DEMO_APP_CLIENT_ID,
    DEMO_APP_REDIRECT_URI,
    DEMO_APPS,
)

pytestmark = pytest.mark.django_db

SCOPES = (
    "launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.crs "
    "patient/DocumentReference.rs"
)


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot() -> list[tuple]:
    return list(
        App.objects.order_by("client_id").values_list(
            "pk", "client_id", "name", "status", "allowed_scopes", "redirect_uris"
        )
    )


def test_the_demo_entries_are_registered_with_their_fixed_client_ids():
    out = seed()
    operator = User.objects.get(identifier="demo.operateur", kind=User.Kind.OPERATOR)
    apps = {app.client_id: app for app in App.objects.all()}
    assert set(apps) == {spec["client_id"] for spec in DEMO_APPS}
    assert all("(démonstration)" in app.description for app in apps.values())
    added = Event.objects.filter(action="catalogue_ajout", actor=operator.actor)
    assert set(added.values_list("object_id", flat=True)) == {
        str(app.public_id) for app in apps.values()
    }

    demo = apps[DEMO_APP_CLIENT_ID]
    assert demo.name == "Carnet Démo — Suivi tension"
    assert demo.client_type == App.CLIENT_PUBLIC
    assert demo.authorization_grant_type == App.GRANT_AUTHORIZATION_CODE
    assert demo.redirect_uris == DEMO_APP_REDIRECT_URI == "http://127.0.0.1:8765/retour"
    assert demo.allowed_scopes == SCOPES
    assert demo.status == App.Status.ONLINE
    assert "Appointment" in apps["demo-rendez-vous"].allowed_scopes
    assert apps["demo-rendez-vous"].category == App.Category.APPOINTMENTS
    assert apps["demo-prevention"].category == App.Category.PREVENTION

    # Offered to patients: the three online ones; the suspended one is not, nor does it serve.
    offered = set(catalogue_apps().values_list("client_id", flat=True))
    assert offered == {DEMO_APP_CLIENT_ID, "demo-rendez-vous", "demo-prevention"}
    assert apps["demo-bien-etre"].status == App.Status.SUSPENDED
    assert not apps["demo-bien-etre"].serves
    assert f"client_id {DEMO_APP_CLIENT_ID}" in out and "examples/smart_app.py" in out


def test_seed_demo_twice_adds_no_entry_and_changes_none():
    seed()
    before, events = snapshot(), Event.objects.count()
    again = seed()
    assert "déjà présentes : rien n'est modifié." in again
    assert snapshot() == before and Event.objects.count() == events
    assert f"client_id {DEMO_APP_CLIENT_ID}" in again


def test_a_demo_database_seeded_before_the_catalogue_gets_it_once():
    seed()
    App.objects.all().delete()
    operators = User.objects.filter(kind=User.Kind.OPERATOR).count()
    out = seed()
    assert "sauf les applications de démonstration du catalogue" in out
    assert App.objects.filter(client_id=DEMO_APP_CLIENT_ID).exists()
    assert App.objects.count() == len(DEMO_APPS)
    assert User.objects.filter(kind=User.Kind.OPERATOR).count() == operators
    before = snapshot()
    assert "rien n'est modifié." in seed()
    assert snapshot() == before


def test_the_demo_operator_is_created_if_it_is_missing():
    seed()
    App.objects.all().delete()
    User.objects.filter(identifier="demo.operateur").delete()
    seed()
    operator = User.objects.get(identifier="demo.operateur", kind=User.Kind.OPERATOR)
    assert Event.objects.filter(action="catalogue_ajout", actor=operator.actor).count() == len(
        DEMO_APPS
    )


def test_an_entry_an_operator_changed_is_left_as_it_is():
    seed()
    App.objects.filter(client_id=DEMO_APP_CLIENT_ID).update(status=App.Status.OFFLINE)
    seed()
    assert App.objects.get(client_id=DEMO_APP_CLIENT_ID).status == App.Status.OFFLINE
    assert App.objects.filter(client_id=DEMO_APP_CLIENT_ID).count() == 1
