"""iCalendar: the feed we publish (read back by icalendar and by vobject, an independent parser)
and the files we import (parse_ics and the ics_import service): times and zones, dedup by UID,
invalid files refused in French with nothing written, and parse_ics fuzzed."""

import signal
import unicodedata
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from carnet.agenda import feed_services, ical, services
from carnet.agenda.models import Appointment, PreventionStatus
from carnet.audit.models import Event
from tests.enrollment.helpers import at, space_of

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
PARIS = ZoneInfo("Europe/Paris")
PREVENTION_KEY = "dtp-adulte@25"


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def add(user, **fields) -> Appointment:
    values = {"starts_at": paris(2027, 3, 3, 10, 30), **fields}
    return services.appointment_add(
        user=user, space=space_of(user.person), data=services.AppointmentData(**values)
    )


def remind(user, title, day, at_time=None, comment=""):
    return services.reminder_add(
        user=user,
        space=space_of(user.person),
        data=services.ReminderData(title=title, date=day, time=at_time, comment=comment),
    )


def plan(user, key=PREVENTION_KEY, day=date(2027, 4, 12), status=PreventionStatus.Status.PLANNED):
    # The prevention page's service is not ours to call here: the row it would write.
    return PreventionStatus.objects.create(
        space=space_of(user.person), item_key=key, status=status, planned_on=day, updated_at=NOW
    )


def ics(*events: str, head: str = "") -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return (
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Doctolib//Rendez-vous//FR\r\n"
            f"{head}{body}END:VCALENDAR\r\n"
        )
        .replace("\n\n", "\n")
        .encode()
    )


def event(
    uid="rdv-1@doctolib.fr", start="DTSTART;TZID=Europe/Paris:20270310T093000", *raw, **extra
):
    """A VEVENT's lines: `raw` lines as they are, `extra` as NAME:value (_ for -)."""
    lines = [f"UID:{uid}", start]
    if "SUMMARY" not in extra:
        lines.append("SUMMARY:Dentiste")
    lines += [f"{k.replace('_', '-')}:{v}" for k, v in extra.items()] + list(raw)
    return "\r\n".join(lines)


def do_import(user, data: bytes, filename="rendez-vous.ics"):
    return feed_services.ics_import(
        user=user, space=space_of(user.person), data=data, filename=filename
    )


def imported(user):
    return list(
        Appointment.objects.filter(
            space=space_of(user.person), source=Appointment.Source.IMPORT, deleted_at__isnull=True
        ).order_by("starts_at")
    )


@pytest.fixture
def now(db):
    at(NOW)


@pytest.fixture
def agenda(alice, now):
    """Alice's agenda: two appointments, one deleted, two reminders, a planned prevention item."""
    rows = {
        "dentist": add(
            alice,
            title="Dentiste",
            ends_at=paris(2027, 3, 3, 11, 0),
            place="12 rue des Lilas, Lyon",
            professional_name="Dr Anne Roux",
            notes="Apporter la radio ; ne pas manger avant.",
        ),
        # in summer time, no end, no title
        "summer": add(alice, starts_at=paris(2027, 7, 14, 16, 45), place="Cabinet, Paris"),
        "gone": add(alice, title="Annulé par moi", starts_at=paris(2027, 3, 5, 9, 0)),
        "pills": remind(alice, "Renouveler l'ordonnance", date(2027, 3, 20)),
        "call": remind(alice, "Appeler le labo", date(2027, 3, 21), time(8, 15), "Résultats"),
        "plan": plan(alice),
    }
    services.appointment_delete(user=alice, appointment=rows["gone"])
    return rows


def feed(user) -> bytes:
    return ical.feed_calendar(space_of(user.person))


# --- The feed --------------------------------------------------------------------------------


def test_the_feed_is_a_valid_calendar_for_icalendar(alice, agenda):
    calendar = icalendar.Calendar.from_ical(feed(alice))

    assert calendar["PRODID"] == "-//Carnet//Agenda santé//FR"
    assert calendar["VERSION"] == "2.0"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["X-WR-CALNAME"] == "Carnet — agenda santé"
    assert calendar["X-WR-TIMEZONE"] == "Europe/Paris"
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Paris"]
    assert calendar.get_missing_tzids() == set()
    for component in calendar.walk():  # icalendar found nothing broken
        assert component.errors == []
    events = {str(e["SUMMARY"]): e for e in calendar.events}
    assert set(events) == {
        "Dentiste",
        "Rendez-vous",
        "Renouveler l'ordonnance",
        "Appeler le labo",
        "Rappel diphtérie, tétanos, poliomyélite de l'adulte (dTP) — à 25 ans, avec la "
        "coqueluche (dTcaP)",
    }
    dentist = events["Dentiste"]
    assert dentist["UID"] == f"{agenda['dentist'].public_id}@carnet"
    assert dentist["DTSTART"].params["TZID"] == "Europe/Paris"
    assert dentist.start == paris(2027, 3, 3, 10, 30)
    assert dentist.end == paris(2027, 3, 3, 11, 0)
    assert dentist["LOCATION"] == "12 rue des Lilas, Lyon"
    assert "Dr Anne Roux" in dentist["DESCRIPTION"]
    assert "Apporter la radio ; ne pas manger avant." in dentist["DESCRIPTION"]
    for name in ("DTSTAMP", "LAST-MODIFIED", "CREATED"):
        assert name in dentist
    summer = events["Rendez-vous"]
    assert summer.start == paris(2027, 7, 14, 16, 45)
    assert summer.start.utcoffset() == timedelta(hours=2)
    assert "DTEND" not in summer and "DURATION" not in summer  # no end made up
    pills = events["Renouveler l'ordonnance"]
    assert pills.start == date(2027, 3, 20) and pills.end == date(2027, 3, 21)
    assert events["Appeler le labo"].start == paris(2027, 3, 21, 8, 15)
    assert events["Appeler le labo"]["DESCRIPTION"] == "Résultats"
    planned = [e for e in calendar.events if str(e["UID"]).startswith("prevention-")]
    assert [e.start for e in planned] == [date(2027, 4, 12)]


def test_the_feed_is_read_alike_by_vobject_an_independent_parser(alice, agenda):
    data = feed(alice)
    parsed = vobject.readOne(data.decode("utf-8"))

    assert parsed.prodid.value == "-//Carnet//Agenda santé//FR"
    assert parsed.vtimezone.tzid.value == "Europe/Paris"
    events = {e.summary.value: e for e in parsed.vevent_list}
    assert len(events) == 5
    dentist = events["Dentiste"]
    assert dentist.dtstart.value == paris(2027, 3, 3, 10, 30)
    assert dentist.dtstart.value.utcoffset() == timedelta(hours=1)
    assert dentist.dtend.value == paris(2027, 3, 3, 11, 0)
    assert dentist.location.value == "12 rue des Lilas, Lyon"
    assert dentist.uid.value == f"{agenda['dentist'].public_id}@carnet"
    # vobject reads the times through the feed's own VTIMEZONE: summer time is right too
    assert events["Rendez-vous"].dtstart.value.utcoffset() == timedelta(hours=2)
    assert events["Renouveler l'ordonnance"].dtstart.value == date(2027, 3, 20)
    # and vobject can write back what it read (every property is well formed)
    assert "BEGIN:VCALENDAR" in parsed.serialize()


def test_uids_are_stable_from_one_fetch_to_the_next(alice, agenda):
    def uids():
        return [str(e["UID"]) for e in icalendar.Calendar.from_ical(feed(alice)).events]

    first = uids()
    at(NOW + timedelta(hours=5))
    services.appointment_update(
        user=alice,
        appointment=agenda["dentist"],
        data=services.AppointmentData(starts_at=paris(2027, 3, 4, 14, 0), title="Dentiste"),
    )
    assert sorted(uids()) == sorted(first)
    assert len(set(first)) == len(first) == 5


def test_the_feed_leaves_out_deleted_rows_other_spaces_and_unplanned_prevention(alice, bob, agenda):
    services.reminder_delete(user=alice, reminder=agenda["pills"])
    plan(alice, key="grippe@2027", status=PreventionStatus.Status.DONE)
    add(bob, title="Kinésithérapeute de Bob")
    remind(bob, "Rappel de Bob", date(2027, 3, 22))
    plan(bob)

    summaries = [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(feed(alice)).events]

    assert "Annulé par moi" not in summaries
    assert "Renouveler l'ordonnance" not in summaries
    assert not [s for s in summaries if "Bob" in s]
    assert len(summaries) == 4  # 2 appointments, the reminder left, the planned item
    bob_uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(feed(bob)).events}
    alice_uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(feed(alice)).events}
    assert not bob_uids & alice_uids  # the same prevention item has a UID per space


def test_an_empty_agenda_is_still_a_valid_feed_with_its_time_zone(alice, now):
    calendar = icalendar.Calendar.from_ical(feed(alice))
    assert calendar.events == []
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Paris"]
    assert vobject.readOne(feed(alice).decode()).vtimezone.tzid.value == "Europe/Paris"


def test_text_with_special_characters_survives_both_parsers(alice, now):
    title = "Contrôle; suivi, « bilan » \\ fin"
    add(alice, title=title, notes="Ligne 1\nLigne 2 ; virgule, point-virgule;")
    data = feed(alice)
    [by_icalendar] = icalendar.Calendar.from_ical(data).events
    [by_vobject] = vobject.readOne(data.decode()).vevent_list
    assert str(by_icalendar["SUMMARY"]) == by_vobject.summary.value == title
    assert by_vobject.description.value == "Ligne 1\nLigne 2 ; virgule, point-virgule;"


def test_an_unknown_prevention_item_is_called_prevention(alice, now):
    plan(alice, key="regle-disparue@3")
    [planned] = icalendar.Calendar.from_ical(feed(alice)).events
    assert str(planned["SUMMARY"]) in ("Prévention", "Recommandation de prévention")


# --- Import: round trip and dedup ---------------------------------------------------------------


def test_our_own_feed_imported_into_a_fresh_account_round_trips(alice, bob, agenda):
    result = do_import(bob, feed(alice), "carnet-agenda.ics")

    # the appointments come, the reminders and prevention items (not appointments) do not
    assert (result.created, result.updated, result.skipped) == (2, 0, 3)
    assert result.skipped_by == {"carnet": 3}
    rows = imported(bob)
    originals = [agenda["dentist"], agenda["summer"]]  # not the one Alice deleted
    got = [(r.title, r.starts_at, r.ends_at, r.place, r.professional_name, r.notes) for r in rows]
    want = [
        (a.title or "Rendez-vous", a.starts_at, a.ends_at, a.place, a.professional_name, a.notes)
        for a in originals
    ]
    assert got == want
    assert {r.source_name for r in rows} == {"Carnet — agenda santé"}
    assert {r.external_uid for r in rows} == {f"{a.public_id}@carnet" for a in originals}
    # the reminder of each is due at Bob's own delay, not yet sent
    assert all(r.notify_at == r.starts_at - timedelta(hours=24) for r in rows)
    assert Appointment.objects.filter(space=space_of(alice.person)).count() == 3  # untouched


def test_importing_the_same_file_again_duplicates_nothing(alice, bob, agenda):
    data = feed(alice)
    do_import(bob, data)
    before = {r.external_uid: (r.pk, r.updated_at) for r in imported(bob)}

    at(NOW + timedelta(days=1))
    again = do_import(bob, data)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert {r.external_uid: (r.pk, r.updated_at) for r in imported(bob)} == before


def test_a_changed_event_is_updated_in_place_on_reimport(bob, now):
    do_import(bob, ics(event(LOCATION="Cabinet A")))
    [first] = imported(bob)
    first_public_id = first.public_id

    result = do_import(
        bob, ics(event(start="DTSTART;TZID=Europe/Paris:20270311T140000", LOCATION="Cabinet B"))
    )

    assert (result.created, result.updated) == (0, 1)
    [row] = imported(bob)
    assert row.public_id == first_public_id
    assert (row.starts_at, row.place) == (paris(2027, 3, 11, 14, 0), "Cabinet B")
    assert row.notify_at == paris(2027, 3, 10, 14, 0)


def test_a_cancelled_event_removes_the_imported_appointment(bob, now):
    do_import(bob, ics(event(), event(uid="rdv-2")))
    result = do_import(bob, ics(event(STATUS="CANCELLED"), event(uid="rdv-3", STATUS="CANCELLED")))
    assert (result.cancelled, result.skipped_by) == (1, {"annule": 1})
    assert [r.external_uid for r in imported(bob)] == ["rdv-2"]


def test_an_imported_appointment_the_person_deleted_is_not_brought_back(bob, now):
    do_import(bob, ics(event()))
    [row] = imported(bob)
    services.appointment_delete(user=bob, appointment=row)
    result = do_import(bob, ics(event()))
    assert (result.created, result.skipped_by) == (0, {"supprime": 1})
    assert imported(bob) == []


def test_importing_ones_own_feed_adds_nothing(alice, agenda):
    result = do_import(alice, feed(alice))
    assert result.created == 0
    assert result.skipped_by == {"carnet": 3, "deja": 2}
    assert imported(alice) == []


def test_one_audit_event_with_the_counts(bob, now):
    do_import(bob, ics(event(), event(uid="rdv-2"), event(uid="rdv-3", RRULE="FREQ=WEEKLY")))
    [audit] = Event.objects.filter(action="agenda_import")
    assert audit.detail == {
        "ajoutes": 2,
        "modifies": 0,
        "inchanges": 0,
        "annules": 0,
        "ignores": 1,
    }
    assert not Event.objects.filter(action="rendez_vous_ajout").exists()


# --- Import: times, zones and what is left out ------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("DTSTART;TZID=Europe/Paris:20270310T093000", paris(2027, 3, 10, 9, 30)),
        ("DTSTART:20270310T083000Z", paris(2027, 3, 10, 9, 30)),  # UTC, winter
        ("DTSTART:20270710T073000Z", paris(2027, 7, 10, 9, 30)),  # UTC, summer
        ("DTSTART:20270310T093000", paris(2027, 3, 10, 9, 30)),  # floating: Paris time
        # New York is still on winter time (until 14 March), UTC-5
        ("DTSTART;TZID=America/New_York:20270310T093000", paris(2027, 3, 10, 15, 30)),
        ("DTSTART;TZID=Romance Standard Time:20270310T093000", paris(2027, 3, 10, 9, 30)),
        ("DTSTART;TZID=Zone inconnue:20270310T093000", paris(2027, 3, 10, 9, 30)),
    ],
)
def test_times_are_read_in_their_zone_and_floating_ones_in_paris(start, expected):
    [read] = ical.parse_ics(ics(event(start=start))).events
    assert read.starts_at == expected
    assert not read.all_day


def test_the_end_comes_from_dtend_or_duration_and_a_bad_one_is_dropped():
    [with_end, with_duration, backwards, date_end] = ical.parse_ics(
        ics(
            event(uid="1", DTEND="20270310T101500"),
            event(uid="2", DURATION="PT45M"),
            event(uid="3", DTEND="20270310T080000"),
            event("4", "DTSTART;TZID=Europe/Paris:20270310T093000", "DTEND;VALUE=DATE:20270311"),
        )
    ).events
    assert with_end.ends_at == paris(2027, 3, 10, 10, 15)
    assert with_duration.ends_at == paris(2027, 3, 10, 10, 15)
    assert backwards.ends_at is None
    assert date_end.ends_at is None


def test_a_custom_vtimezone_of_the_file_is_not_used_nor_kept_for_the_next_file():
    hostile = (
        "BEGIN:VTIMEZONE\r\nTZID:Maison\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        "RRULE:FREQ=MINUTELY\r\nTZOFFSETFROM:+0300\r\nTZOFFSETTO:+0200\r\nEND:STANDARD\r\n"
        "BEGIN:DAYLIGHT\r\nDTSTART:19700101T000000\r\nRRULE:FREQ=MINUTELY\r\n"
        "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0300\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
    )
    data = ics(event(start="DTSTART;TZID=Maison:20270310T093000"), head=hostile)

    # expanded, that definition would take minutes: a 10 s alarm fails the test instead
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the file's VTIMEZONE was expanded"))
    signal.alarm(10)
    try:
        [read] = ical.parse_ics(data).events
        [again] = ical.parse_ics(ics(event(start="DTSTART;TZID=Maison:20270310T093000"))).events
    finally:
        signal.alarm(0)
    assert read.starts_at == again.starts_at == paris(2027, 3, 10, 9, 30)


def test_all_day_and_recurring_events_are_reported_and_left_out(bob, now):
    data = ics(
        event(uid="journee", start="DTSTART;VALUE=DATE:20270310"),
        event(uid="hebdo", RRULE="FREQ=WEEKLY;COUNT=5"),
        event(uid="dates", RDATE="20270317T093000"),
        event(uid="exception", **{"RECURRENCE_ID": "20270317T093000"}),
        event(uid="ok"),
        event(uid="ok"),
    )
    result = do_import(bob, data)
    assert result.created == 1
    assert result.skipped_by == {"journee": 1, "repete": 3, "double": 1}
    assert "5 événements non importés" in result.summary()
    assert "sur une journée entière" in result.summary()


def test_long_texts_are_cut_to_our_limits_and_the_organizer_is_the_professional(bob, now):
    data = ics(
        event(
            "x" * 400,
            "DTSTART;TZID=Europe/Paris:20270310T093000",
            "ORGANIZER;CN=Dr Jean Petit:mailto:jean.petit@exemple.fr",
            SUMMARY="T" * 300,
            LOCATION="L" * 300,
            DESCRIPTION="N" * 3000,
        )
    )
    do_import(bob, data)
    [row] = imported(bob)
    assert row.title == "T" * 100
    assert row.place == "L" * 200
    assert row.notes == "N" * 1000
    assert row.professional_name == "Dr Jean Petit"
    assert row.external_uid.startswith("sha256:") and len(row.external_uid) <= 255
    assert do_import(bob, data).unchanged == 1  # the same long UID finds the same row


def test_the_source_is_the_calendar_name_else_the_product_else_the_file_name(bob, now):
    do_import(bob, ics(event(uid="a"), head="X-WR-CALNAME:Mes rendez-vous Doctolib\r\n"))
    do_import(bob, ics(event(uid="b")))
    data = ics(event(uid="c")).replace(b"PRODID:-//Doctolib//Rendez-vous//FR\r\n", b"")
    do_import(bob, data, "C:\\Users\\bob\\Maiia export.ics")
    assert [r.source_name for r in imported(bob)] == [
        "Mes rendez-vous Doctolib",
        "Doctolib",
        "Maiia export",
    ]


def test_latin1_and_bom_files_are_read():
    text = ics(event(LOCATION="Hôpital Édouard-Herriot")).decode()
    [latin] = ical.parse_ics(text.encode("cp1252")).events
    [bom] = ical.parse_ics(b"\xef\xbb\xbf" + text.encode()).events
    assert latin.place == bom.place == "Hôpital Édouard-Herriot"


# --- Import: invalid files ---------------------------------------------------------------------


def _refused(user, data: bytes) -> str:
    with pytest.raises(ical.IcsError) as refused:
        do_import(user, data)
    return str(refused.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Le fichier est vide."),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "n'est pas un fichier iCalendar (.ics)"),
        (b"Nom;Date\nDentiste;10/03/2027\n", "n'est pas un fichier iCalendar (.ics)"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\n", "illisible"),
        (b"BEGIN:VCALENDAR\r\n\x00\x01garbage: \r\n:::\r\nEND:VCALENDAR\r\n", "illisible"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "aucun événement"),
        (ics(event(start="SUMMARY:pas de début")), "n'a pas de date de début (DTSTART)"),
        (ics(event(start="DTSTART:demain matin")), "date de début invalide"),
        (ics(event(start="DTSTART:18500101T100000")), "hors des années 1900 à 2200"),
        (ics(event(uid="")), "n'a pas d'identifiant (UID)"),
    ],
)
def test_an_invalid_file_is_refused_in_french_and_writes_nothing(bob, now, data, message):
    before = Event.objects.count()
    assert message in _refused(bob, data)
    assert imported(bob) == []
    assert Event.objects.count() == before


def test_a_file_too_big_is_refused_before_it_is_read(bob, now, settings):
    settings.CARNET = {**settings.CARNET, "AGENDA_ICS_MAX_BYTES": 2048}
    data = ics(event(DESCRIPTION="x" * 3000))
    assert _refused(bob, data) == "Le fichier est trop volumineux : 2 ko au plus."
    assert imported(bob) == []


def test_a_file_with_too_many_events_is_refused(bob, now, settings):
    settings.CARNET = {**settings.CARNET, "AGENDA_ICS_MAX_EVENTS": 3}
    data = ics(*(event(uid=str(n)) for n in range(4)))
    assert "trop d'événements : 3 au plus" in _refused(bob, data)
    # folded so that a quick count misses them: the count after parsing refuses them too
    folded = data.replace(b"BEGIN:VEVENT", b"BEGIN:VEV\r\n ENT")
    assert "trop d'événements : 3 au plus" in _refused(bob, folded)
    assert imported(bob) == []


def test_a_file_of_countless_lines_is_refused_before_parsing(bob, now, settings):
    settings.CARNET = {**settings.CARNET, "AGENDA_ICS_MAX_EVENTS": 10}
    lines = [f"X-LIGNE-{n}:1" for n in range(10 * ical.LINES_PER_EVENT)]
    data = ics(event("rdv", "DTSTART:20270310T093000", *lines))
    assert "trop long pour être importé" in _refused(bob, data)
    assert imported(bob) == []


def test_a_bad_event_among_good_ones_refuses_the_whole_file(bob, now):
    data = ics(event(uid="1"), event(uid="2"), event(uid="3", start="DTSTART:jamais"))
    assert "L'événement n° 3 (« Dentiste ») a une date de début invalide." in _refused(bob, data)
    assert imported(bob) == []


# --- parse_ics, fuzzed ---------------------------------------------------------------------------

VALID = ics(
    event(uid="1", DTEND="20270310T101500", LOCATION="Cabinet"),
    event(uid="2", start="DTSTART:20270311T090000Z", DURATION="PT1H"),
    event(uid="3", start="DTSTART;VALUE=DATE:20270312", RRULE="FREQ=DAILY"),
    head="X-WR-CALNAME:Agenda\r\n",
)


def _parses_or_refuses(data: bytes) -> None:
    try:
        result = ical.parse_ics(data)
    except ical.IcsError as exc:
        assert str(exc)
        return
    for read in result.events:
        assert read.uid and read.starts_at.tzinfo is not None
        assert read.ends_at is None or read.ends_at >= read.starts_at
        assert len(read.title) <= 100 and len(read.place) <= 200 and len(read.notes) <= 1000


@hsettings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
@example(b"BEGIN:VCALENDAR")
@example(b"BEGIN:VCALENDAR\r\nEND:VEVENT\r\n")
@example(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n")
def test_random_bytes_never_raise_anything_but_the_french_error(data):
    _parses_or_refuses(data)


@st.composite
def mutated(draw):
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "dup-line", "drop-line"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[i : i + draw(st.integers(1, 40))]
        elif kind == "insert":
            data[i:i] = draw(
                st.sampled_from(
                    [
                        b":",
                        b";",
                        b"\r\n",
                        b"\r\n ",
                        b"BEGIN:VEVENT\r\n",
                        b"END:VEVENT\r\n",
                        b"TZID=X:",
                        b"99999999T999999",
                        b"\xff",
                        b"=",
                        b'"',
                        b",",
                        b"P-1W",
                    ]
                )  # fmt: skip
            )
        else:
            lines = bytes(data).split(b"\r\n")
            j = draw(st.integers(0, len(lines) - 1))
            if kind == "dup-line":
                lines.insert(j, lines[j])
            else:
                del lines[j]
            data = bytearray(b"\r\n".join(lines))
    return bytes(data)


@hsettings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_valid_files_never_raise_anything_but_the_french_error(data):
    _parses_or_refuses(data)


@hsettings(deadline=None, max_examples=200)
@given(
    st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), max_size=120),
    st.datetimes(
        min_value=datetime.combine(date(1900, 1, 2), time()),
        max_value=datetime.combine(date(2199, 12, 30), time()),
    ),
)
def test_any_title_and_moment_read_back_as_written(title, moment):
    moment = moment.replace(microsecond=0)  # iCalendar counts in seconds
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//Test//FR")
    calendar.add("VERSION", "2.0")
    vevent = icalendar.Event()
    vevent.add("UID", "u@test")
    vevent.add("DTSTART", moment.replace(tzinfo=PARIS))
    vevent.add("SUMMARY", title)
    calendar.add_component(vevent)
    [read] = ical.parse_ics(calendar.to_ical()).events
    assert read.starts_at == moment.replace(tzinfo=PARIS)
    expected = " ".join(unicodedata.normalize("NFC", title).split())[:100].rstrip()
    assert read.title == expected
