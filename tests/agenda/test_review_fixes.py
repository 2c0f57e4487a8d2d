"""What the security review of the agenda found, each now a test: a key with a digit that is
not ASCII is a 404 (not a 500), an event the agenda refuses makes the import a French error
(not a 404), and a suspended account's subscription address stops with it."""

from carnet.accounts.models import User
from carnet.agenda import ical
from carnet.agenda.feed_services import feed_space, feed_token_create, ics_import
from carnet.agenda.models import Appointment
from carnet.agenda.prevention import item_label
from carnet.enrollment.selectors import space_for_user

from .test_ical import event, ics


def test_a_key_with_a_superscript_digit_is_a_404_not_a_500(alice_client):
    for key in ("hexavalent@²", "dtp-adulte@²⁵", "grippe@٢٠٢٦"):
        assert alice_client.get(f"/agenda/prevention/{key}/").status_code == 404
        assert item_label(key)  # the feed names it without failing


def test_an_event_the_agenda_refuses_makes_the_whole_import_a_french_error(alice):
    space = space_for_user(alice)
    data = ics(
        event("ok@x", "DTSTART;TZID=Europe/Paris:20270310T093000"),
        event("loin@x", "DTSTART;TZID=America/New_York:22001231T230000"),  # 2201 in Paris
    )
    try:
        ics_import(user=alice, space=space, data=data, filename="rdv.ics")
    except ical.IcsError as exc:
        assert "ne peut pas être importé" in str(exc)
    else:  # also acceptable: the parser refused the date itself
        raise AssertionError("an event in 2201 was imported")
    assert not Appointment.objects.filter(space=space).exists()  # all or nothing


def test_a_suspended_accounts_address_stops(alice):
    space = space_for_user(alice)
    token = feed_token_create(user=alice, space=space)
    assert feed_space(token) == space
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert feed_space(token) is None
