"""The subscription address and the import page, through HTTP: the address shown once with its
QR code, kept only hashed, the public feed (no login) and its headers, a new address or
"Désactiver" stopping the old one at once, and the .ics import page."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from carnet.agenda import services
from carnet.agenda.models import AgendaSettings, Appointment
from carnet.audit.models import Event
from carnet.enrollment.models import Space
from tests.enrollment.helpers import at, space_of
from tests.pages import field_error, is_invalid

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
PAGE = "/agenda/abonnement/"
CREATE = "/agenda/abonnement/creer/"
RENEW = "/agenda/abonnement/nouvelle-adresse/"
REVOKE = "/agenda/abonnement/desactiver/"
IMPORT = "/agenda/abonnement/importer/"
FEED_URL = re.compile(r"http://[^\"<\s]+/agenda/abonnement/([A-Za-z0-9_-]{43})\.ics")


@pytest.fixture(autouse=True)
def _now():
    at(NOW)


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Europe/Paris"))


def add(user, **fields) -> Appointment:
    values = {"starts_at": paris(2027, 3, 3, 10, 30), **fields}
    return services.appointment_add(
        user=user, space=space_of(user.person), data=services.AppointmentData(**values)
    )


def create(client, **data) -> tuple[str, str]:
    """POST "Créer mon adresse"; returns (the page, the token it shows)."""
    response = client.post(CREATE, data)
    assert response.status_code == 200
    page = response.content.decode()
    return page, FEED_URL.search(page).group(1)


def fetch(token: str, method="get"):
    return getattr(Client(), method)(f"/agenda/abonnement/{token}.ics")  # no session at all


def ics_upload(data: bytes, name="rendez-vous.ics"):
    return SimpleUploadedFile(name, data, content_type="text/calendar")


def all_database_text() -> str:
    """Every value of every table, as text: where a secret must not be."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 — our own table names
            chunks += [str(value) for row in cursor.fetchall() for value in row]
    return "\n".join(chunks)


# --- The subscription page --------------------------------------------------------------------


def test_the_page_explains_the_feed_and_offers_to_create_it(alice_client):
    page = alice_client.get(PAGE).content.decode()
    assert "Abonnement à votre agenda" in page
    assert "Cette adresse est secrète." in page
    assert f'action="{CREATE}"' in page
    assert "Créer mon adresse d&#x27;abonnement" in page or "Créer mon adresse d'abonnement" in page
    assert f'href="{PAGE}" aria-current="page"' in page  # the agenda's "Abonnement" tab


def test_the_address_is_shown_once_with_a_qr_code_and_a_copy_button(alice_client, alice):
    page, token = create(alice_client)

    assert f'value="http://127.0.0.1:8000/agenda/abonnement/{token}.ics"' in page
    assert f'href="webcal://127.0.0.1:8000/agenda/abonnement/{token}.ics"' in page
    assert re.search(
        r'<img src="data:image/svg\+xml[^"]+" width="\d+" height="\d+" alt="Code QR', page
    )
    assert re.search(r'<script src="[^"]*carnet/copy[^"]*\.js" defer></script>', page)
    assert "<script>" not in page and "style=" not in page  # strict CSP: nothing inline
    assert "elle ne sera plus affichée" in page
    assert alice_client.get(CREATE).status_code == 405  # a GET makes nothing

    later = alice_client.get(PAGE).content.decode()
    assert token not in later
    assert "Votre adresse d&#x27;abonnement est active depuis le 1 mars 2027" in later or (
        "Votre adresse d'abonnement est active depuis le 1 mars 2027" in later
    )
    assert RENEW in later and REVOKE in later


def test_the_token_is_stored_only_as_its_keyed_hash(alice_client, alice):
    _, token = create(alice_client)
    row = AgendaSettings.objects.get(space=space_of(alice.person))
    assert len(row.feed_token_hash) == 64 and token not in row.feed_token_hash
    assert token not in all_database_text()  # nor in the session, the audit trail, the outbox…
    [audit] = Event.objects.filter(action="agenda_abonnement_cree")
    assert audit.detail == {"renouvellement": False}


# --- The public feed ----------------------------------------------------------------------------


def test_the_feed_is_served_without_login_as_a_private_calendar(alice_client, alice):
    add(alice, title="Dentiste", place="12 rue des Lilas, Lyon")
    services.reminder_add(
        user=alice,
        space=space_of(alice.person),
        data=services.ReminderData(title="Ordonnance", date=date(2027, 3, 20)),
    )
    _, token = create(alice_client)

    response = fetch(token)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    assert not response.cookies  # no session for calendar apps
    calendar = icalendar.Calendar.from_ical(response.content)
    assert sorted(str(e["SUMMARY"]) for e in calendar.events) == ["Dentiste", "Ordonnance"]
    parsed = vobject.readOne(response.content.decode())
    assert sorted(e.summary.value for e in parsed.vevent_list) == ["Dentiste", "Ordonnance"]
    assert fetch(token, "head").status_code == 200
    assert fetch(token, "post").status_code == 405


def test_the_feed_costs_the_same_few_queries_whatever_its_length(
    alice_client, alice, django_assert_num_queries
):
    _, token = create(alice_client)
    for day in range(1, 30):
        add(alice, title=f"Séance {day}", starts_at=paris(2027, 4, day, 9, 0))
    # the address, the owner's account, the appointments, the reminders, the prevention items
    with django_assert_num_queries(5):
        assert fetch(token).status_code == 200


def test_unknown_addresses_all_get_the_same_404(alice_client, alice):
    _, token = create(alice_client)
    other = token[:-1] + ("A" if token[-1] != "A" else "B")
    answers = [fetch(t) for t in (other, "exemple", "a" * 128)]
    assert {r.status_code for r in answers} == {404}
    assert len({r.content for r in answers}) == 1
    assert all(r["Cache-Control"] == "private, no-store" for r in answers)
    assert fetch("a" * 129).status_code == 404


def test_a_new_address_stops_the_old_one_at_once(alice_client, alice):
    _, old = create(alice_client)

    # "Créer" once an address exists asks first
    response = alice_client.post(CREATE)
    assert response.status_code == 302 and response["Location"] == RENEW
    assert fetch(old).status_code == 200
    confirm = alice_client.get(RENEW).content.decode()
    assert "cessera de fonctionner immédiatement" in confirm
    assert 'name="confirmer" value="1"' in confirm

    page, new = create(alice_client, confirmer="1")

    assert new != old
    assert "L&#x27;ancienne ne fonctionne plus" in page or "L'ancienne ne fonctionne plus" in page
    assert fetch(old).status_code == 404
    assert fetch(new).status_code == 200
    audits = Event.objects.filter(action="agenda_abonnement_cree").order_by("id")
    assert [e.detail for e in audits] == [{"renouvellement": False}, {"renouvellement": True}]


def test_deactivating_stops_the_address_at_once(alice_client, alice):
    _, token = create(alice_client)
    assert "cessera de fonctionner immédiatement" in alice_client.get(REVOKE).content.decode()

    response = alice_client.post(REVOKE, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert "Votre adresse d&#x27;abonnement est désactivée" in response.content.decode()
    assert fetch(token).status_code == 404
    assert Event.objects.filter(action="agenda_abonnement_revoque").count() == 1
    # nothing left to deactivate: the pages say so by going back
    assert alice_client.get(REVOKE)["Location"] == PAGE
    assert alice_client.get(RENEW)["Location"] == PAGE
    alice_client.post(REVOKE)
    assert Event.objects.filter(action="agenda_abonnement_revoque").count() == 1


def test_a_space_no_longer_active_publishes_nothing(alice_client, alice):
    _, token = create(alice_client)
    Space.objects.filter(person=alice.person).update(state=Space.State.CLOSED)
    assert fetch(token).status_code == 404
    assert alice_client.get(PAGE).status_code == 404
    assert alice_client.post(CREATE).status_code == 404


def test_each_person_has_their_own_address(alice_client, alice, bob, client):
    add(alice, title="Chez Alice")
    add(bob, title="Chez Bob")
    _, alice_token = create(alice_client)
    bob_client = Client()
    bob_client.force_login(bob)
    _, bob_token = create(bob_client)

    def titles(token):
        return [
            str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(fetch(token).content).events
        ]

    assert titles(alice_token) == ["Chez Alice"]
    assert titles(bob_token) == ["Chez Bob"]


# --- The import page -----------------------------------------------------------------------------

DOCTOLIB = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Doctolib//Rendez-vous//FR\r\n"
    "BEGIN:VEVENT\r\nUID:rdv-42@doctolib.fr\r\nDTSTART:20270315T083000Z\r\n"
    "DTEND:20270315T090000Z\r\nSUMMARY:Consultation ophtalmologie\r\n"
    "LOCATION:Centre de la vision\\, Lyon\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:conges@doctolib.fr\r\nDTSTART;VALUE=DATE:20270401\r\n"
    "SUMMARY:Cabinet fermé\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
).encode()


def test_the_import_page_has_a_labelled_file_field(alice_client):
    page = alice_client.get(IMPORT).content.decode()
    assert '<label for="id_file">Fichier .ics</label>' in page
    assert re.search(r'<input type="file" name="file" accept="\.ics,text/calendar"', page)
    assert 'aria-describedby="id_file-aide"' in page
    assert 'enctype="multipart/form-data"' in page


def test_a_file_is_imported_with_its_counts_and_again_without_duplicates(alice_client, alice):
    response = alice_client.post(IMPORT, {"file": ics_upload(DOCTOLIB)}, follow=True)

    assert response.redirect_chain == [(IMPORT, 302)]
    page = response.content.decode()
    assert "Import terminé : 1 rendez-vous ajouté." in page
    assert "1 événement non importé : 1 sur une journée entière, sans heure." in page
    [row] = Appointment.objects.filter(space=space_of(alice.person))
    assert (row.title, row.place) == ("Consultation ophtalmologie", "Centre de la vision, Lyon")
    assert (row.starts_at, row.ends_at) == (paris(2027, 3, 15, 9, 30), paris(2027, 3, 15, 10, 0))
    assert (row.source, row.source_name) == (Appointment.Source.IMPORT, "Doctolib")

    again = alice_client.post(IMPORT, {"file": ics_upload(DOCTOLIB)}, follow=True)
    assert (
        "Import terminé : 1 rendez-vous déjà à jour. 1 événement non importé"
        in again.content.decode()
    )
    assert Appointment.objects.filter(space=space_of(alice.person)).count() == 1


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (None, "Choisissez le fichier .ics à importer."),
        (ics_upload(b"%PDF-1.7 ...", "ordonnance.pdf"), "n'est pas un fichier iCalendar (.ics)"),
        (ics_upload(DOCTOLIB.replace(b"DTSTART:2027", b"X-DTSTART:2027")), "DTSTART"),
    ],
)
def test_an_invalid_file_is_refused_next_to_the_field(alice_client, alice, upload, message):
    before = Event.objects.count()
    response = alice_client.post(IMPORT, {"file": upload} if upload else {})

    assert response.status_code == 400
    page = response.content.decode()
    assert message in field_error(page, "file")
    assert is_invalid(page, "file")
    assert '<a href="#id_file">Fichier .ics : ' in page  # the summary leads to the field
    assert "<title>Erreur : " in page
    assert not Appointment.objects.filter(space=space_of(alice.person)).exists()
    assert Event.objects.count() == before


def test_a_file_too_big_is_refused_before_it_is_read(alice_client, alice, settings):
    settings.CARNET = {**settings.CARNET, "AGENDA_ICS_MAX_BYTES": 100}
    response = alice_client.post(IMPORT, {"file": ics_upload(DOCTOLIB)})
    assert response.status_code == 400
    assert field_error(response.content.decode(), "file") == (
        "Le fichier est trop volumineux : 100 octets au plus."
    )
    assert not Appointment.objects.filter(space=space_of(alice.person)).exists()


def test_our_feed_fetched_then_imported_by_someone_else_round_trips(alice_client, alice, bob):
    """The whole way: Alice's address, read by an anonymous client, imported by Bob's page."""
    add(
        alice,
        title="IRM du genou",
        starts_at=paris(2027, 6, 2, 18, 15),  # summer time
        ends_at=paris(2027, 6, 2, 18, 45),
        place="Imagerie du Parc, 3 allée des Tilleuls",
        professional_name="Dr Paul Lambert",
        notes="À jeun.\nApporter l'ordonnance.",
    )
    add(alice, title="Vaccin", starts_at=paris(2027, 11, 5, 9, 0))
    _, token = create(alice_client)
    bob_client = Client()
    bob_client.force_login(bob)

    feed = fetch(token).content
    response = bob_client.post(IMPORT, {"file": ics_upload(feed, "carnet.ics")}, follow=True)

    assert "Import terminé : 2 rendez-vous ajoutés." in response.content.decode()
    fields = ("title", "starts_at", "ends_at", "place", "professional_name", "notes")
    mine = Appointment.objects.filter(space=space_of(alice.person)).order_by("starts_at")
    his = Appointment.objects.filter(space=space_of(bob.person)).order_by("starts_at")
    assert [tuple(getattr(a, f) for f in fields) for a in his] == [
        tuple(getattr(a, f) for f in fields) for a in mine
    ]
    assert all(a.source == Appointment.Source.IMPORT for a in his)
    at(NOW + timedelta(hours=1))  # the next fetch: the same rows are found again
    again = bob_client.post(IMPORT, {"file": ics_upload(fetch(token).content)}, follow=True)
    assert "Import terminé : 2 rendez-vous déjà à jour." in again.content.decode()
