"""Connected apps over time: a reminder every 90 days that names no app, and at a minor's 18th
birthday the apps their representatives connected lose access (the young adult's consent
replaces theirs)."""

from datetime import date, timedelta

from carnet.audit.models import Event
from carnet.catalogue.models import Connection
from carnet.catalogue.services import connections_remind_due
from carnet.core import clock
from carnet.family.majority import majority_sweep
from carnet.notifications.models import OutboxMessage
from tests.enrollment.helpers import space_of
from tests.family.test_majority import lea, on  # noqa: F401 (a fixture, Léa, 17, with Alice)

from .conftest import connect, fhir

SCOPE = "launch/patient patient/Patient.rs"


def test_every_90_days_a_reminder_names_no_app(alice_client, alice, app):
    connect(alice_client, app, SCOPE)
    assert connections_remind_due() == 0  # just connected
    clock.set_offset(timedelta(days=89))
    assert connections_remind_due() == 0
    clock.set_offset(timedelta(days=91))
    assert connections_remind_due() == 1
    [mail] = OutboxMessage.objects.filter(kind="services_connectes", to=alice.email)
    assert "Un service du catalogue est connecté" in mail.body
    assert app.name not in mail.body and app.name not in mail.subject
    space = space_of(alice.person)
    assert Event.objects.filter(space_id=space.public_id, action="service_rappel").exists()
    assert connections_remind_due() == 0  # once per period
    clock.set_offset(timedelta(days=182))
    assert connections_remind_due() == 1
    assert OutboxMessage.objects.filter(kind="services_connectes").count() == 2


def test_a_revoked_connection_is_not_reminded(alice_client, alice, app):
    connect(alice_client, app, SCOPE)
    Connection.objects.update(revoked_at=clock.now(), revoked_reason="usager")
    clock.set_offset(timedelta(days=91))
    assert connections_remind_due() == 0


def test_at_18_the_apps_a_parent_connected_lose_access(lea, alice, app):  # noqa: F811
    from django.test import Client

    parent = Client()
    parent.force_login(alice)
    space = space_of(lea.person)
    parent.post("/profils/choisir/", {"profil": str(space.public_id)})
    token = connect(parent, app, SCOPE)["access_token"]
    assert fhir(token, f"Patient/{space.public_id}").status_code == 200

    on(date(2030, 6, 14), 23, 50)
    majority_sweep()
    assert fhir(token, f"Patient/{space.public_id}").status_code == 200
    on(date(2030, 6, 15), 0, 5)
    assert majority_sweep() == 1
    connection = Connection.objects.get(space=space)
    assert connection.revoked_reason == "majorite"
    assert fhir(token, f"Patient/{space.public_id}").status_code == 401
    event = Event.objects.get(space_id=space.public_id, action="service_deconnecte")
    assert event.actor == "systeme:majorite"
