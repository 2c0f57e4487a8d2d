"""Appointments (*Rendez-vous*): the services and the form, the limits, the directory picker
without JavaScript, and the appointments a professional or a booking service added, which the
person reads but does not change."""

import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from carnet.agenda import selectors, services
from carnet.agenda.models import Appointment
from carnet.audit.models import Event
from carnet.enrollment.models import Space
from carnet.professionals.models import Professional
from tests.enrollment.helpers import at, space_of
from tests.pages import field_error, is_invalid
from tests.professionals.conftest import row, write_csv

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


NOW = paris(2027, 3, 1, 8, 0)


@pytest.fixture(autouse=True)
def _now():
    at(NOW)


def add(user, *, source=Appointment.Source.PERSON, source_name="", **fields):
    values = {"starts_at": paris(2027, 3, 3, 10, 30), **fields}
    return services.appointment_add(
        user=user,
        space=space_of(user.person),
        data=services.AppointmentData(**values),
        source=source,
        source_name=source_name,
    )


def form(**overrides) -> dict:
    data = {
        "title": "Contrôle annuel",
        "search": "",
        "searched": "",
        "professional_name": "Dr Anne Roux",
        "place": "12 rue des Lilas, Lyon",
        "date": "2027-03-03",
        "start": "10:30",
        "duration": "30",
        "end": "",
        "notes": "",
        "action": "enregistrer",
    }
    data.update(overrides)
    return data


def page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def directory(tmp_path):
    rows = [
        row(1, first_name="Hélène", last_name="LEFÈVRE", city="Lyon"),
        row(2, first_name="Hugo", last_name="MARTIN", profession="pharmacien",
            profession_code="21", specialty="", city="Saint-Étienne"),
        row(3, first_name="Inès", last_name="MARTIN", profession="masseur-kinésithérapeute",
            profession_code="70", specialty="", city="Paris"),
    ]  # fmt: skip
    call_command("import_professionals", str(write_csv(tmp_path / "annuaire.csv", rows)))
    return {p.first_name: p for p in Professional.objects.all()}


# --- Services -------------------------------------------------------------------------------


def test_an_appointment_is_added_with_its_reminder_due_24_hours_before(alice):
    appointment = add(
        alice,
        title="  Contrôle  ",
        ends_at=paris(2027, 3, 3, 11, 0),
        professional_name="Dr Anne Roux",
        place="Cabinet",
        notes="À jeun",
    )
    appointment.refresh_from_db()
    assert appointment.title == "Contrôle"
    assert appointment.source == Appointment.Source.PERSON
    assert not appointment.read_only
    assert appointment.notify_at == paris(2027, 3, 2, 10, 30)
    assert appointment.notified_at is None
    [event] = Event.objects.filter(action="rendez_vous_ajout")
    assert event.object_id == str(appointment.public_id)
    assert event.actor == alice.actor


def test_the_title_is_optional(alice):
    assert add(alice).title == ""


@pytest.mark.parametrize(
    ("field", "limit"),
    [("title", 100), ("notes", 1000), ("place", 200), ("professional_name", 150)],
)
def test_service_accepts_the_limit_and_refuses_one_character_more(alice, field, limit):
    assert getattr(add(alice, **{field: "a" * limit}), field) == "a" * limit
    with pytest.raises(services.AgendaError, match=f"{limit} caractères"):
        add(alice, **{field: "a" * (limit + 1)})
    assert Appointment.objects.count() == 1


def test_an_end_before_the_start_is_refused(alice):
    with pytest.raises(services.AgendaError, match="après son début"):
        add(alice, ends_at=paris(2027, 3, 3, 10, 0))
    assert not Appointment.objects.exists()


def test_a_date_out_of_the_agenda_s_years_is_refused(alice):
    with pytest.raises(services.AgendaError, match="entre 1900 et 2200"):
        add(alice, starts_at=paris(1, 1, 1, 0, 0))
    with pytest.raises(services.AgendaError, match="entre 1900 et 2200"):
        add(alice, starts_at=paris(2200, 12, 31, 23, 0), ends_at=paris(2201, 1, 1, 1, 0))
    assert not Appointment.objects.exists()


def test_an_inactive_space_cannot_be_changed(alice):
    appointment = add(alice)
    Space.objects.filter(pk=appointment.space_id).update(state=Space.State.CLOSED)
    appointment.space.refresh_from_db()
    with pytest.raises(services.AgendaError, match="pas actif"):
        add(alice)
    with pytest.raises(services.AgendaError, match="pas actif"):
        services.appointment_delete(user=alice, appointment=appointment)


def test_a_new_start_is_a_new_notice_but_a_new_title_is_not(alice):
    appointment = add(alice)
    Appointment.objects.filter(pk=appointment.pk).update(notified_at=NOW)
    appointment.refresh_from_db()
    data = services.AppointmentData(starts_at=appointment.starts_at, title="Autre titre")
    services.appointment_update(user=alice, appointment=appointment, data=data)
    appointment.refresh_from_db()
    assert appointment.notified_at == NOW  # not sent again for a title

    later = paris(2027, 3, 10, 9, 0)
    data = services.AppointmentData(starts_at=later, title="Autre titre")
    services.appointment_update(user=alice, appointment=appointment, data=data)
    appointment.refresh_from_db()
    assert appointment.notified_at is None
    assert appointment.notify_at == later - timedelta(hours=24)


def test_delete_is_soft_and_audited(alice):
    appointment = add(alice)
    services.appointment_delete(user=alice, appointment=appointment)
    appointment.refresh_from_db()
    assert appointment.deleted_at is not None
    assert Event.objects.filter(action="rendez_vous_suppression").count() == 1


@pytest.mark.parametrize("source", [Appointment.Source.PROFESSIONAL, Appointment.Source.SERVICE])
def test_the_person_cannot_change_what_a_professional_or_a_service_added(alice, source):
    appointment = add(alice, source=source, source_name="Doctolib", title="Consultation")
    assert appointment.read_only
    data = services.AppointmentData(starts_at=appointment.starts_at, title="Changé")
    with pytest.raises(services.NotWritable, match="Doctolib"):
        services.appointment_update(user=alice, appointment=appointment, data=data)
    with pytest.raises(services.NotWritable, match="Doctolib"):
        services.appointment_delete(user=alice, appointment=appointment)
    appointment.refresh_from_db()
    assert (appointment.title, appointment.deleted_at) == ("Consultation", None)
    # The source itself may.
    services.appointment_update(user=alice, appointment=appointment, data=data, by_source=True)
    appointment.refresh_from_db()
    assert appointment.title == "Changé"


def test_an_imported_appointment_stays_the_person_s_to_change(alice):
    appointment = add(alice, source=Appointment.Source.IMPORT, source_name="agenda.ics")
    assert not appointment.read_only
    services.appointment_delete(user=alice, appointment=appointment)


def test_a_directory_entry_gives_its_name(alice, directory):
    pro = directory["Hélène"]
    appointment = add(alice, professional=pro, professional_name="ignoré")
    appointment.refresh_from_db()
    assert appointment.professional == pro
    assert appointment.professional_name == "Hélène LEFÈVRE"


# --- The directory search -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("helene", ["Hélène"]),  # accents aside
        ("LEFEVRE", ["Hélène"]),  # case aside
        ("lefèvre lyon", ["Hélène"]),  # every word, in any field
        ("martin", ["Hugo", "Inès"]),
        ("Dr Martin", ["Hugo", "Inès"]),  # "Dr" names no one
        ("pharmacien", ["Hugo"]),  # the profession's label
        ("kiné", ["Inès"]),
        ("saint etienne", ["Hugo"]),  # the hyphen of the city
        ("généraliste", []),
        ("médecine générale", ["Hélène"]),  # the specialty
        ("75011", ["Hélène", "Hugo", "Inès"]),  # the postcode
        ("martin lyon", []),
    ],
)
def test_directory_search_by_name_profession_or_city(directory, query, found):
    assert [p.first_name for p in selectors.directory_search(query)] == found


@pytest.mark.parametrize("query", ["", " ", "m", "é", "  a  ", "%", "--"])
def test_directory_search_needs_two_characters(directory, query):
    assert selectors.directory_search(query) == []


def test_directory_search_gives_20_entries_at_most(tmp_path):
    rows = [row(n, last_name=f"DUPONT{n:02d}") for n in range(1, 26)]
    call_command("import_professionals", str(write_csv(tmp_path / "a.csv", rows)))
    found = selectors.directory_search("dupont")
    assert len(found) == 20
    assert found[0].last_name == "DUPONT01"


def test_a_like_wildcard_in_the_query_matches_itself_only(directory):
    assert selectors.directory_search("m%n") == []
    assert selectors.directory_search("m_rtin") == []


# --- The form: add, change, limits, errors next to the fields ---------------------------------


def test_add_through_the_form(alice_client, alice):
    response = alice_client.post("/agenda/rendez-vous/ajouter/", form())
    appointment = Appointment.objects.get()
    assert response["Location"] == f"/agenda/rendez-vous/{appointment.public_id}/"
    assert appointment.starts_at == paris(2027, 3, 3, 10, 30)
    assert appointment.ends_at == paris(2027, 3, 3, 11, 0)
    assert appointment.professional_name == "Dr Anne Roux"
    assert appointment.professional is None
    assert appointment.author == alice
    detail = page(alice_client.get(response["Location"]))
    assert "Contrôle annuel" in detail
    assert "Mercredi 3 mars 2027" in detail
    assert "10 h 30 – 11 h 00" in detail


def test_an_end_time_instead_of_a_duration(alice_client):
    alice_client.post("/agenda/rendez-vous/ajouter/", form(duration="", end="12:15"))
    assert Appointment.objects.get().ends_at == paris(2027, 3, 3, 12, 15)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"date": ""}, "date", "Indiquez la date."),
        ({"date": "2027-02-30"}, "date", "Indiquez une date valide"),
        ({"date": "0001-01-01", "start": "00:00"}, "date", "entre 1900 et 2200"),
        ({"date": "9999-12-31", "start": "23:59"}, "date", "entre 1900 et 2200"),
        ({"start": ""}, "start", "Indiquez l'heure."),
        ({"start": "25:00"}, "start", "Indiquez une heure valide"),
        ({"end": "11:00"}, "end", "pas les deux"),
        ({"duration": "", "end": "10:00"}, "end", "après l'heure de début"),
        ({"duration": "17"}, "duration", "Choisissez une durée de la liste."),
        ({"date": "2027-03-28", "start": "02:30"}, "start", "changement d'heure"),
        ({"title": "a" * 101}, "title", "ne doit pas dépasser 100 caractères"),
        ({"notes": "a" * 1001}, "notes", "ne doivent pas dépasser 1000 caractères"),
    ],
)
def test_bad_input_changes_nothing_and_says_why_next_to_the_field(
    alice_client, overrides, field, message
):
    response = alice_client.post("/agenda/rendez-vous/ajouter/", form(**overrides))
    assert response.status_code == 400
    text = page(response)
    assert message in field_error(text, field)
    assert is_invalid(text, field)
    assert f'href="#id_{field}"' in text  # and listed in the summary, with a link
    assert not Appointment.objects.exists()


def test_the_limits_through_the_form(alice_client):
    response = alice_client.post(
        "/agenda/rendez-vous/ajouter/", form(title="t" * 100, notes="n" * 1000)
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert (len(appointment.title), len(appointment.notes)) == (100, 1000)


def test_line_breaks_count_once_as_the_browser_counts_them(alice_client):
    notes = "\r\n".join(["n" * 99] * 10)  # 990 letters and 9 line breaks sent as CR LF
    assert alice_client.post("/agenda/rendez-vous/ajouter/", form(notes=notes)).status_code == 302
    assert len(Appointment.objects.get().notes) == 999


def test_edit_through_the_form_keeps_what_was_not_changed(alice_client, alice):
    appointment = add(alice, title="Avant", place="Cabinet", ends_at=paris(2027, 3, 3, 11, 20))
    url = f"/agenda/rendez-vous/{appointment.public_id}/modifier/"
    shown = page(alice_client.get(url))
    assert 'value="Avant"' in shown
    assert 'value="2027-03-03"' in shown and 'value="10:30"' in shown
    assert 'value="11:20"' in shown  # 50 minutes: not one of the durations, shown as the end
    response = alice_client.post(url, form(title="Après", place="Cabinet", duration=""))
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.title, appointment.ends_at) == ("Après", None)


# --- The directory picker, without JavaScript -------------------------------------------------


def test_search_shows_the_entries_as_radio_buttons_and_keeps_what_was_typed(
    alice_client, directory
):
    response = alice_client.post(
        "/agenda/rendez-vous/ajouter/",
        form(search="martin", action="rechercher", notes="Apporter la carte Vitale"),
    )
    assert response.status_code == 200
    text = page(response)
    assert "2 professionnels trouvés pour « martin »" in text
    assert 'type="radio" name="professional"' in text
    assert "Hugo MARTIN — Pharmacien, Saint-Étienne" in text
    assert "Inès MARTIN — Masseur-kinésithérapeute, Paris" in text
    assert "Saisir un nom librement" in text
    # every value typed before the search is still there
    assert 'value="Contrôle annuel"' in text
    assert "Apporter la carte Vitale" in text
    assert 'value="2027-03-03"' in text
    assert not Appointment.objects.exists()
    # public directory data only: no RPPS, no email, no secure messaging address
    for pro in directory.values():
        assert pro.rpps not in text
        assert pro.email not in text and pro.messaging_address not in text


def test_the_chosen_entry_is_linked_and_named(alice_client, directory):
    hugo = directory["Hugo"]
    response = alice_client.post(
        "/agenda/rendez-vous/ajouter/",
        form(search="martin", searched="martin", professional=str(hugo.public_id)),
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.professional == hugo
    assert appointment.professional_name == "Hugo MARTIN"


def test_enter_in_the_search_field_after_a_new_query_searches(alice_client, directory):
    response = alice_client.post(
        "/agenda/rendez-vous/ajouter/", form(search="lefevre", searched="martin")
    )
    assert response.status_code == 200
    assert "Hélène LEFÈVRE" in page(response)
    assert not Appointment.objects.exists()


def test_a_too_short_search_says_so_next_to_the_field(alice_client, directory):
    response = alice_client.post(
        "/agenda/rendez-vous/ajouter/", form(search="m", action="rechercher", date="")
    )
    text = page(response)
    assert "au moins 2 caractères" in field_error(text, "search")
    assert is_invalid(text, "search")
    assert field_error(text, "date") is None  # a field not filled in yet is not an error yet


def test_no_result_says_so_and_the_name_can_be_typed(alice_client, directory):
    response = alice_client.post(
        "/agenda/rendez-vous/ajouter/", form(search="zzzz", action="rechercher")
    )
    assert "Aucun professionnel de l'annuaire ne correspond à « zzzz »" in page(response)


def test_an_unknown_entry_is_refused(alice_client, directory):
    response = alice_client.post(
        "/agenda/rendez-vous/ajouter/",
        form(professional="00000000-0000-0000-0000-000000000001"),
    )
    assert response.status_code == 400
    assert "recherchez-le à nouveau" in field_error(page(response), "professional")


def test_the_edit_form_offers_the_linked_entry(alice_client, alice, directory):
    appointment = add(alice, professional=directory["Inès"])
    text = page(alice_client.get(f"/agenda/rendez-vous/{appointment.public_id}/modifier/"))
    assert re.search(
        rf'<input type="radio" name="professional" value="{directory["Inès"].public_id}"'
        r"[^>]*checked",
        text,
    )


# --- Read-only appointments through the pages -----------------------------------------------


@pytest.mark.parametrize(
    ("source", "hint"),
    [
        (Appointment.Source.PROFESSIONAL, "à modifier auprès de Dr Claire Fictif"),
        (Appointment.Source.SERVICE, "à modifier dans Dr Claire Fictif"),
    ],
)
def test_read_only_appointments_offer_no_change(alice_client, alice, source, hint):
    appointment = add(alice, source=source, source_name="Dr Claire Fictif", title="Suivi")
    base = f"/agenda/rendez-vous/{appointment.public_id}/"
    detail = page(alice_client.get(base))
    assert hint in detail
    assert "modifier/" not in detail
    # No "Supprimer": only "Retirer de mon agenda", which does not cancel it.
    assert "Supprimer" not in detail and "Retirer de mon agenda" in detail
    listing = page(alice_client.get("/agenda/"))
    assert "Ajouté par Dr Claire Fictif" in listing and hint in listing
    assert f"{base}modifier/" not in listing
    assert alice_client.get(f"{base}modifier/").status_code == 403
    response = alice_client.post(f"{base}modifier/", form(title="Changé"))
    assert response.status_code == 403
    assert "ne se modifie pas ici" in page(response)
    appointment.refresh_from_db()
    assert (appointment.title, appointment.deleted_at) == ("Suivi", None)


@pytest.mark.parametrize("source", [Appointment.Source.PROFESSIONAL, Appointment.Source.SERVICE])
def test_the_person_may_take_a_read_only_appointment_out_of_their_agenda(
    alice_client, alice, source
):
    appointment = add(alice, source=source, source_name="Dr Claire Fictif", title="Suivi")
    url = f"/agenda/rendez-vous/{appointment.public_id}/supprimer/"
    confirm = page(alice_client.get(url))
    assert "Retirer ce rendez-vous de mon agenda ?" in confirm
    assert "n'est pas annulé pour autant" in confirm
    appointment.refresh_from_db()
    assert appointment.deleted_at is None  # a GET changes nothing
    response = alice_client.post(url)
    assert response.status_code == 302 and response["Location"] == "/agenda/"
    appointment.refresh_from_db()
    assert appointment.deleted_at is not None
    assert Event.objects.filter(action="rendez_vous_retire").count() == 1
    assert "Suivi" not in page(alice_client.get("/agenda/"))


def test_an_imported_appointment_shows_its_source_and_can_be_changed(alice_client, alice):
    appointment = add(alice, source=Appointment.Source.IMPORT, source_name="agenda.ics")
    listing = page(alice_client.get("/agenda/"))
    assert "Importé de agenda.ics" in listing
    assert f"/agenda/rendez-vous/{appointment.public_id}/modifier/" in listing
