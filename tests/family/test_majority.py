"""Coming of age (issue 9): a minor's space, managed by legal representatives, becomes the
young adult's own at 18. Through the real views, services, sweep and database; the clock is
moved (`tests.enrollment.helpers.at`), never mocked."""

from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from carnet.audit.models import Event
from carnet.core import clock
from carnet.documents.models import Document
from carnet.enrollment import services as enrollment
from carnet.enrollment.models import ProvisionalCode, Space
from carnet.family.majority import _claim, adult_on, born_by, majority_sweep
from carnet.family.models import Invitation, Link, MajorityNotice
from carnet.notifications.models import OutboxMessage
from carnet.registry.models import InsuredPerson
from carnet.tick import SWEEPS, run_tick
from tests.documents.conftest import pdf_bytes, upload
from tests.enrollment.helpers import at, code_in, credentials, identify, space_of

from .conftest import make_child

PARIS = ZoneInfo("Europe/Paris")
ADD = reverse("family:add")
DECIDE = reverse("family:decide")
SWITCH = reverse("family:switch")
BORN = date(2012, 6, 15)  # of age on 15 June 2030
TITLE = "Bilan allergologique"  # a document's title: never in a message


def on(day: date, hour: int = 10, minute: int = 0) -> None:
    """Put the clock at this day and time (Paris); it runs on from there."""
    at(datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS))


def logged_in(user) -> Client:
    """A fresh session: the absolute lifetime counts from its first request."""
    client = Client()
    client.force_login(user)
    return client


def attach(client, child) -> None:
    """The representative attaches the child's profile with the real two-step views."""
    values = {
        "code": child.code,
        "nir": child.person.nir,
        "birth_date": child.person.birth_date.strftime("%d/%m/%Y"),
    }
    response = client.post(ADD, values)
    assert response.status_code == 302 and response.url == DECIDE, response.content[:2000]
    response = client.post(DECIDE, {"decision": "activer", "certified": "on"})
    assert response.status_code == 302


def registry_update(person, **fields) -> InsuredPerson:
    """The insurer's registry learns a contact of the young person."""
    InsuredPerson.objects.filter(pk=person.pk).update(**fields)
    return InsuredPerson.objects.get(pk=person.pk)


def counts() -> dict:
    return {
        "notices": MajorityNotice.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "events": Event.objects.count(),
        "codes": ProvisionalCode.objects.count(),
        "revoked": ProvisionalCode.objects.filter(revoked_at__isnull=False).count(),
        "open_links": Link.objects.filter(ended_at__isnull=True).count(),
        "cancelled": Invitation.objects.filter(cancelled_at__isnull=False).count(),
    }


def sent(kind: str, to: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(kind=kind, to=to).order_by("id"))


@pytest.fixture
def lea(alice):
    """Léa, born on 15 June 2012, attached by Alice on 2 May 2030 with a document in her
    space; the registry knows Léa's own email."""
    on(date(2030, 5, 2))
    child = make_child(alice.person, birth_date=BORN)
    client = logged_in(alice)
    attach(client, child)
    space = space_of(child.person)
    client.post(SWITCH, {"profil": str(space.public_id)})
    response = client.post(
        reverse("documents:add"),
        {
            "file": upload("bilan.pdf", pdf_bytes(), "application/pdf"),
            "title": TITLE,
            "category": "CPT_REND",
            "document_date": "2030-04-20",
        },
    )
    assert response.status_code == 302
    assert Document.objects.filter(space=space, title=TITLE).exists()
    child.person = registry_update(child.person, email="lea.martin@exemple.fr")
    return child


# --- The dates ------------------------------------------------------------------------------


def test_birth_date_bounds_agree_with_is_minor_around_29_february():
    """`born_by` (the SQL bound) says what `enrollment.services.is_minor` says, every day of
    several years, for births around 28 February – 1 March, leap years or not."""
    births = [
        date(year, month, day)
        for year in range(2009, 2016)
        for month, day in ((2, 27), (2, 28), (2, 29), (3, 1), (3, 2))
        if not (month == 2 and day == 29 and year % 4)
    ]
    day = date(2027, 1, 1)
    while day <= date(2033, 12, 31):
        bound = born_by(day)
        for birth in births:
            person = SimpleNamespace(birth_date=birth)
            assert (birth <= bound) == (not enrollment.is_minor(person, on=day)), (day, birth)
        day += timedelta(days=1)
    for birth in births:
        person = SimpleNamespace(birth_date=birth)
        assert not enrollment.is_minor(person, on=adult_on(birth))
        assert enrollment.is_minor(person, on=adult_on(birth) - timedelta(days=1))
    assert adult_on(date(2012, 2, 29)) == date(2030, 3, 1)


# --- A month before -------------------------------------------------------------------------


def test_nothing_happens_before_the_notice_period(lea, alice):
    on(date(2030, 5, 15))  # 31 days before the birthday
    before = counts()
    assert majority_sweep() == 0
    assert counts() == before


def test_a_month_before_the_representative_and_the_young_person_are_told_once(lea, alice):
    on(date(2030, 5, 16))  # 30 days before
    before = counts()
    assert majority_sweep() == 1
    [notice] = MajorityNotice.objects.all()
    assert (notice.space, notice.kind) == (space_of(lea.person), MajorityNotice.Kind.MONTH_BEFORE)
    [to_alice] = sent("majorite", alice.email)
    assert "Léa" in to_alice.subject
    assert "15 juin 2030" in to_alice.body and "code provisoire" in to_alice.body
    assert "toutes les données de son espace y restent conservées" in to_alice.body
    [to_lea] = sent("majorite", "lea.martin@exemple.fr")
    assert "15 juin 2030" in to_lea.body and "code provisoire" in to_lea.body
    # Nothing else changed: the links are open, no code was issued.
    after = counts()
    assert after["open_links"] == before["open_links"] == 1
    assert after["codes"] == before["codes"]
    # Again, the same day and the days after: nothing more.
    assert majority_sweep() == 0
    on(date(2030, 6, 1))
    assert majority_sweep() == 0
    assert counts() == after


def test_at_17_years_364_days_nothing_ends(lea, alice):
    on(date(2030, 6, 14), 23, 50)
    assert majority_sweep() == 1  # the notice only (the sweep had not run in the month)
    assert MajorityNotice.objects.get().kind == MajorityNotice.Kind.MONTH_BEFORE
    [link] = Link.objects.all()
    assert link.ended_at is None
    assert not ProvisionalCode.objects.filter(person=lea.person, used_at__isnull=True).exists()
    assert len(sent("majorite", alice.email)) == 1
    assert majority_sweep() == 0


# --- The birthday ---------------------------------------------------------------------------


def test_at_18_the_links_end_and_the_young_adult_activates_their_own_access(lea, alice):
    space = space_of(lea.person)
    on(date(2030, 6, 14), 23, 50)
    majority_sweep()
    # Alice acts for Léa just before midnight.
    client = logged_in(alice)
    client.post(SWITCH, {"profil": str(space.public_id)})
    client.get("/")  # the switch's own message is read
    assert "acting-banner" in client.get("/").content.decode()
    old_codes = list(ProvisionalCode.objects.filter(person=lea.person).values_list("pk", flat=True))

    on(date(2030, 6, 15), 0, 5)
    assert majority_sweep() == 1
    # The link ended, audited in Léa's trail.
    [link] = Link.objects.filter(space=space)
    assert link.ended_at is not None and link.ended_reason == "majorite"
    [event] = Event.objects.filter(space_id=space.public_id, action="lien_termine")
    assert (event.actor, event.object_type, event.object_id, event.detail) == (
        "systeme:majorite",
        "link",
        str(link.public_id),
        {"motif": "majorite"},
    )
    assert MajorityNotice.objects.filter(space=space).count() == 2
    # Alice's next request falls back to her own profile; the switcher no longer offers Léa.
    page = client.get("/").content.decode()
    assert "acting-banner" not in page
    assert "Vous agissez de nouveau pour votre propre profil." in page
    index = client.get(reverse("family:index")).content.decode()
    assert "Agir pour Léa" not in index and str(space.public_id) not in index
    assert client.post(SWITCH, {"profil": str(space.public_id)}).status_code == 404
    [ended] = sent("majorite", alice.email)[1:]
    assert "a pris fin" in ended.subject
    # A new code for Léa, to her own email; the older unused ones are no longer valid.
    new = ProvisionalCode.objects.filter(person=lea.person).exclude(pk__in=old_codes).get()
    assert new.channel == ProvisionalCode.Channel.EMAIL and new.used_at is None
    assert not ProvisionalCode.objects.filter(
        pk__in=old_codes, used_at__isnull=True, revoked_at__isnull=True
    ).exists()
    [mail] = sent("code_provisoire", "lea.martin@exemple.fr")
    assert "créé lorsque vous étiez mineur(e)" in mail.body
    assert Event.objects.filter(
        space_id=space.public_id, action="code_provisoire_envoye", actor="systeme:majorite"
    ).exists()
    # Léa activates her own login with it; her space stays active, with all its data.
    code = code_in(mail)
    identified = identify(lea.person, code)
    assert identified.space == space
    user = enrollment.space_activate(
        identified=identified,
        credentials=credentials(lea.person, identifier="lea.martin.2012"),
    )
    assert user.person == lea.person
    space.refresh_from_db()
    assert space.state == Space.State.ACTIVE
    [document] = Document.objects.filter(space=space)
    assert document.title == TITLE and document.deleted_at is None
    assert TITLE in logged_in(user).get(reverse("documents:index")).content.decode()
    # No message of the sweep says anything of the space's content.
    for message in OutboxMessage.objects.filter(kind__in=["majorite", "code_provisoire"]):
        assert TITLE not in message.subject + message.body
        assert "allerg" not in (message.subject + message.body).lower()


def test_running_the_sweep_again_changes_nothing_more(lea, alice):
    on(date(2030, 6, 15), 8)
    first = run_tick()["majorite"]
    assert first == 1
    after = counts()
    assert after["open_links"] == 0
    assert run_tick()["majorite"] == 0
    assert majority_sweep() == 0
    on(date(2030, 7, 1))
    assert majority_sweep() == 0
    assert counts() == after


def test_a_late_sweep_does_the_birthday_without_the_notice_of_a_month_before(lea, alice):
    on(date(2030, 6, 18))  # the sweep did not run in the month nor on the birthday
    assert majority_sweep() == 1
    assert list(MajorityNotice.objects.values_list("kind", flat=True)) == ["majorite"]
    assert not Link.objects.filter(ended_at__isnull=True).exists()
    assert sent("majorite", "lea.martin@exemple.fr") == []  # "bientôt" would be wrong now
    assert len(sent("code_provisoire", "lea.martin@exemple.fr")) == 1


def test_every_link_ends_and_waiting_invitations_are_cancelled(lea, alice, bob):
    space = space_of(lea.person)
    on(date(2030, 5, 10))
    # A second representative (the invitation flow is tested in test_invitations), and an
    # invitation still waiting for someone else's answer.
    carer = Link.objects.create(
        space=space, user=bob, kind=Link.Kind.LEGAL_REPRESENTATIVE, started_at=clock.now()
    )
    from carnet.accounts.models import User

    other = User.objects.create_user("claire.petit", kind=User.Kind.PATIENT)
    invitation = Invitation.objects.create(
        space=space,
        invited_by=alice,
        invitee=other,
        created_at=clock.now(),
        expires_at=datetime(2030, 7, 1, tzinfo=PARIS),
    )
    on(date(2030, 5, 20))
    assert majority_sweep() == 1
    assert len(sent("majorite", alice.email)) == len(sent("majorite", bob.email)) == 1
    on(date(2030, 6, 15), 0, 1)
    assert majority_sweep() == 1
    assert not Link.objects.filter(space=space, ended_at__isnull=True).exists()
    ended = Event.objects.filter(space_id=space.public_id, action="lien_termine")
    assert {event.object_id for event in ended} == {
        str(link.public_id) for link in Link.objects.filter(space=space)
    }
    assert str(carer.public_id) in {event.object_id for event in ended}
    invitation.refresh_from_db()
    assert invitation.cancelled_at is not None
    assert Event.objects.filter(
        space_id=space.public_id, action="invitation_annulee", object_id=str(invitation.public_id)
    ).exists()


def test_a_protection_measure_for_the_young_adult_goes_on(lea, alice, bob):
    """A tutelle registered for Léa once of age, before a late sweep (`family.protection`
    refuses a minor; the row stands for the operator's registration): it has its own end and
    is not ended by the majority; the representative's link is."""
    space = space_of(lea.person)
    on(date(2030, 6, 16), 9)
    tutelle = Link.objects.create(
        space=space,
        user=bob,
        kind=Link.Kind.TUTELLE,
        until=date(2035, 6, 16),
        started_at=clock.now(),
    )
    on(date(2030, 6, 16), 10)
    assert majority_sweep() == 1
    tutelle.refresh_from_db()
    assert tutelle.ended_at is None
    assert Link.objects.get(user=alice).ended_reason == "majorite"
    assert sent("majorite", bob.email) == []
    assert majority_sweep() == 0  # no representative's link is open any more


def test_without_an_email_the_code_goes_by_letter(alice, settings):
    on(date(2030, 5, 2))
    child = make_child(alice.person, first_name="Noé", birth_date=BORN)
    attach(logged_in(alice), child)
    on(date(2030, 6, 15), 9)
    assert majority_sweep() == 1
    code = ProvisionalCode.objects.filter(person=child.person, used_at__isnull=True).get()
    assert code.channel == ProvisionalCode.Channel.LETTER
    [letter] = Path(settings.LETTERS_DIR).glob("majorite-*.pdf")
    assert letter.read_bytes().startswith(b"%PDF") and letter.stat().st_mode & 0o777 == 0o600
    assert not OutboxMessage.objects.filter(kind="code_provisoire", to="").exists()
    assert majority_sweep() == 0
    assert len(list(Path(settings.LETTERS_DIR).glob("majorite-*.pdf"))) == 1


def test_born_on_29_february_of_age_on_1_march(alice):
    on(date(2030, 1, 20))
    child = make_child(alice.person, first_name="Inès", birth_date=date(2012, 2, 29))
    attach(logged_in(alice), child)
    child.person = registry_update(child.person, mobile="+33612345678")
    on(date(2030, 1, 29))  # 1 March is 31 days away
    assert majority_sweep() == 0
    on(date(2030, 1, 30))
    assert majority_sweep() == 1
    [to_alice] = sent("majorite", alice.email)
    assert "1 mars 2030" in to_alice.body
    [text] = sent("majorite", "+33612345678")
    assert text.channel == "sms" and "1 mars 2030" in text.body
    on(date(2030, 2, 28), 23, 55)  # no 29 February in 2030: still a minor
    assert majority_sweep() == 0
    assert Link.objects.get().ended_at is None
    on(date(2030, 3, 1), 0, 5)
    assert majority_sweep() == 1
    assert Link.objects.get().ended_reason == "majorite"
    # No email in the registry: her code goes by letter, not by SMS.
    code = ProvisionalCode.objects.filter(person=child.person, used_at__isnull=True).get()
    assert code.channel == ProvisionalCode.Channel.LETTER


def test_adults_and_minors_without_links_are_untouched(alice, issue_code):
    on(date(2030, 4, 1))
    tom = issue_code(first_name="Tom", birth_date=BORN, email="tom@exemple.fr")
    on(date(2030, 6, 15), 9)  # Tom's space was created automatically: no representative
    assert enrollment.spaces_auto_create() == 1
    before = counts()
    assert majority_sweep() == 0
    assert counts() == before
    assert not MajorityNotice.objects.exists()
    assert ProvisionalCode.objects.filter(person=tom.person).count() == 1
    assert ProvisionalCode.objects.filter(person=alice.person).count() == 1


def test_a_step_claimed_by_another_sweep_is_not_done_twice(lea):
    """Two ticks at once: each step is claimed by inserting its notice, and only the sweep
    whose insert took does it; the other one does nothing."""
    space = space_of(lea.person)
    on(date(2030, 6, 15), 0, 1)
    birthday = MajorityNotice.Kind.BIRTHDAY
    assert _claim([space.pk], birthday, clock.now()) == {space.pk}
    assert _claim([space.pk], birthday, clock.now()) == set()
    assert _claim([space.pk], MajorityNotice.Kind.MONTH_BEFORE, clock.now()) == {space.pk}
    before = counts()
    assert majority_sweep() == 0  # the birthday was claimed by "another sweep"
    assert counts() == before
    assert Link.objects.get().ended_at is None


def test_the_sweep_runs_before_the_delivery():
    names = [name for name, _ in SWEEPS]
    assert names.index("majorite") < names.index("envoi_messages")
