"""From the first login on, the home page shows the prevention items to do now, with a link to
the whole calendar (the issue: "a newcomer sees their prevention calendar right after
activation")."""

import html
from datetime import date, timedelta

from carnet.agenda.prevention_services import prevention_calendar
from carnet.core import clock
from carnet.enrollment.selectors import space_for_user


def _now_labels(user) -> list[str]:
    items = prevention_calendar(space_for_user(user)).items
    return [item.label for item in items if item.group == "a_faire"]


def test_the_home_lists_what_to_do_now(alice, alice_client):
    labels = _now_labels(alice)
    assert labels, "a woman of 46 has recommendations open today"
    text = html.unescape(alice_client.get("/").content.decode())
    assert "Voir mon calendrier de prévention" in text
    for label in labels[:3]:
        assert label in text


def test_a_man_of_66_is_told_of_the_flu_campaign_in_the_autumn(issue_code, client):
    from tests.enrollment.helpers import activate

    born = clock.today().replace(year=clock.today().year - 66) - timedelta(days=40)
    issued = issue_code(first_name="Jean", birth_date=born, sex=1)
    user = activate(issued, identifier="jean.dupont")
    client.force_login(user)
    autumn = date(clock.today().year + 1, 11, 2)
    with clock.travel(autumn - clock.today()):
        labels = _now_labels(user)
        text = html.unescape(client.get("/").content.decode())
    assert any("grippe" in label.lower() for label in labels), labels
    told = "Une recommandation" if len(labels) == 1 else f"{len(labels)} recommandations"
    assert f"{told} vous" in text
    for label in labels[:3]:
        assert label in text
