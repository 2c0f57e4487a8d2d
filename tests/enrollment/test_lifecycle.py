"""The life cycle of a space: legal moves audited, illegal ones refused with nothing changed."""

from datetime import timedelta

import pytest
from django.forms.models import model_to_dict

from carnet.audit.models import Event
from carnet.audit.services import chains_verify
from carnet.core import clock
from carnet.enrollment import services
from carnet.enrollment.models import ProvisionalCode, Space

from .helpers import (
    CLIENT,
    activate,
    credentials,
    identify,
    reissue,
    reissued_code,
    space_of,
    transitions,
)

pytestmark = pytest.mark.django_db

State = Space.State


def _last_transition(space) -> Event:
    return (
        Event.objects.filter(space_id=space.public_id, action="espace_transition")
        .order_by("-seq")
        .first()
    )


def _assert_audited(space, frm, to, actor, before, after):
    event = _last_transition(space)
    assert (event.detail["de"], event.detail["vers"]) == (frm, to)
    assert event.actor == actor
    assert before <= event.at <= after
    assert event.detail["motif"]
    assert chains_verify() == []


def test_pending_to_active_by_activation(issue_code):
    issued = issue_code()
    with clock.travel(timedelta(days=3)):
        before = clock.now()
        user = activate(issued)
        after = clock.now()
    space = space_of(issued.person)
    assert space.state == State.ACTIVE
    assert space.activated_at is not None and not space.activated_automatically
    _assert_audited(space, "pending", "active", user.actor, before, after)
    assert Event.objects.filter(space_id=space.public_id, action="compte_cree").count() == 1


def test_pending_to_opposed(issue_code):
    issued = issue_code()
    before = clock.now()
    services.space_oppose(identified=identify(issued.person, issued.code), client=CLIENT)
    space = space_of(issued.person)
    assert space.state == State.OPPOSED and space.opposed_at is not None
    _assert_audited(
        space, "pending", "opposed", f"usager:{issued.person.public_id}", before, clock.now()
    )
    assert _last_transition(space).client == CLIENT


def test_opposed_to_active_with_a_new_code(opposed_then_new_code):
    issued, new_code = opposed_then_new_code
    before = clock.now()
    identified = identify(issued.person, new_code)
    user = services.space_activate(identified=identified, credentials=credentials(issued.person))
    space = space_of(issued.person)
    assert space.state == State.ACTIVE
    _assert_audited(space, "opposed", "active", user.actor, before, clock.now())
    assert transitions(space) == [("pending", "opposed"), ("opposed", "active")]


def test_active_to_closed_and_reopened(space_in):
    space, _, user = space_in("active")
    before = clock.now()
    services.space_close(space=space, actor=user.actor, confirmed=True)
    space.refresh_from_db()
    assert space.state == State.CLOSED
    _assert_audited(space, "active", "closed", user.actor, before, clock.now())

    services.space_reopen(space=space, actor=user.actor)
    space.refresh_from_db()
    assert space.state == State.ACTIVE
    assert space.closed_at is None and space.archive_until is None
    _assert_audited(space, "closed", "active", user.actor, before, clock.now())


def test_closed_to_purged(space_in):
    space, _, _ = space_in("closed")
    before = clock.now()
    services.space_purge(space=space, actor="operateur:test")
    space.refresh_from_db()
    assert space.state == State.PURGED and space.purged_at is not None
    _assert_audited(space, "closed", "purged", "operateur:test", before, clock.now())
    assert Event.objects.filter(space_id=space.public_id, action="espace_purge").count() == 1


def test_auto_created_space_closed_by_opposition(issue_code):
    issued = issue_code()
    with clock.travel(timedelta(weeks=6)):
        assert services.spaces_auto_create() == 1
        new_code = reissued_code(issued.person)
        services.space_oppose(identified=identify(issued.person, new_code))
    space = space_of(issued.person)
    assert space.state == State.CLOSED and space.archive_until is not None
    assert transitions(space) == [("pending", "active"), ("active", "closed")]


# --- Illegal moves: refused with a French message, nothing changed --------------------------

OPERATIONS = {
    # The service's actor: a person other than the holder is refused before any state check
    # (tests/family/test_caregivers.py); here, only the states are under test.
    "fermer": lambda space: services.space_close(space=space, actor="systeme:x", confirmed=True),
    "rouvrir": lambda space: services.space_reopen(space=space, actor="usager:x"),
    "purger": lambda space: services.space_purge(space=space, actor="usager:x"),
}
ILLEGAL = [
    ("pending", "fermer"),
    ("opposed", "fermer"),
    ("closed", "fermer"),
    ("purged", "fermer"),
    ("pending", "rouvrir"),
    ("active", "rouvrir"),
    ("opposed", "rouvrir"),
    ("purged", "rouvrir"),
    ("pending", "purger"),
    ("active", "purger"),
    ("opposed", "purger"),
    ("purged", "purger"),
]


def _snapshot(space):
    space = Space.objects.get(pk=space.pk)
    data_key = space.data_key
    return (
        model_to_dict(space),
        Event.objects.count(),
        data_key and (bytes(data_key.wrapped) if data_key.wrapped else None),
    )


@pytest.mark.parametrize(("state", "operation"), ILLEGAL)
def test_illegal_transition_is_refused_and_changes_nothing(space_in, state, operation):
    space, _, _ = space_in(state)
    if state != "purged":
        services.space_data_key(space)  # so that a wrongful purge would have a key to destroy
    before = _snapshot(space)
    with pytest.raises(services.TransitionError) as excinfo:
        OPERATIONS[operation](space)
    message = str(excinfo.value)
    assert message.startswith("Impossible de passer l'espace de l'état")
    assert f"« {State(state).label} »" in message
    assert _snapshot(space) == before
    assert chains_verify() == []


def test_stale_object_is_refused(space_in):
    space, _, user = space_in("active")
    stale = Space.objects.get(pk=space.pk)
    services.space_close(space=space, actor=user.actor, confirmed=True)
    count = Event.objects.count()
    with pytest.raises(services.TransitionError, match="a changé d'état entre-temps"):
        services.space_close(space=stale, actor=user.actor, confirmed=True)
    assert Event.objects.count() == count


def test_opposing_twice_is_refused_clearly(opposed_then_new_code):
    issued, new_code = opposed_then_new_code
    identified = identify(issued.person, new_code)
    with pytest.raises(services.TransitionError, match="opposition est déjà enregistrée"):
        services.space_oppose(identified=identified)
    space = space_of(issued.person)
    assert space.state == State.OPPOSED
    # the code was not consumed by the refused attempt
    identify(issued.person, new_code)


def test_activating_a_purged_persons_space_is_refused(space_in):
    space, issued, _ = space_in("purged")
    with pytest.raises(services.IdentificationError) as excinfo:
        identify(issued.person, issued.code)
    assert excinfo.value.kind == "generic"  # the purge deleted the codes
    reissue(issued.person)  # and no new code is sent to a purged space
    assert not ProvisionalCode.objects.filter(person=issued.person).exists()
    assert space_of(issued.person).state == State.PURGED


def test_request_deletion_of_an_active_space_is_refused(space_in):
    space, _, user = space_in("active")
    with pytest.raises(services.TransitionError, match="Seul un espace fermé"):
        services.space_request_deletion(space=space, actor=user.actor)
    space.refresh_from_db()
    assert space.deletion_requested_at is None


def test_cancel_without_request_is_refused(space_in):
    space, _, user = space_in("closed")
    with pytest.raises(services.TransitionError, match="Aucune demande de suppression"):
        services.space_cancel_deletion(space=space, actor=user.actor)
