"""Closure, archive, deletion request, cancellation, reopening and purge (crypto-shredding)."""

from datetime import timedelta

import pytest
from django.test import Client

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.audit.services import chains_verify
from carnet.core import blobs, clock
from carnet.core.models import Blob, DataKey
from carnet.enrollment import services
from carnet.enrollment.models import ContactCheck, ProvisionalCode, Space

from .helpers import PASSWORD, at, space_of, transitions

State = Space.State
TEN_YEARS = timedelta(days=3652)
SEVEN_DAYS = timedelta(days=7)
SECRET = b"Compte rendu de consultation : donnee tres personnelle"


@pytest.fixture
def active(space_in):
    space, issued, user = space_in("active")
    blob = blobs.blob_put(data_key=services.space_data_key(space), plaintext=SECRET)
    return space, user, blob


def _close(space, user):
    return services.space_close(space=space, actor=user.actor, confirmed=True)


@pytest.mark.django_db
def test_closing_needs_confirmation(active):
    space, user, _ = active
    count = Event.objects.count()
    with pytest.raises(services.TransitionError, match="Confirmez la fermeture"):
        services.space_close(space=space, actor=user.actor, confirmed=False)
    space.refresh_from_db()
    assert space.state == State.ACTIVE and space.closed_at is None
    assert Event.objects.count() == count


@pytest.mark.django_db
def test_closed_space_is_archived_ten_years(active):
    space, user, blob = active
    _close(space, user)
    space.refresh_from_db()
    assert space.archive_until == space.closed_at + TEN_YEARS
    assert blobs.blob_read(blob) == SECRET  # archived, not destroyed


@pytest.mark.django_db
def test_archive_expiry_purges(active):
    space, user, blob = active
    _close(space, user)
    space.refresh_from_db()
    at(space.archive_until - timedelta(seconds=1))
    assert services.spaces_purge_due() == 0
    assert space_of(space.person).state == State.CLOSED
    at(space.archive_until)
    assert services.spaces_purge_due() == 1
    assert space_of(space.person).state == State.PURGED


@pytest.mark.django_db
def test_deletion_is_done_by_the_sweep_after_seven_days_not_before(active):
    space, user, blob = active
    _close(space, user)
    services.space_request_deletion(space=space, actor=user.actor)
    space.refresh_from_db()
    assert space.deletion_due_at == space.deletion_requested_at + SEVEN_DAYS
    assert Event.objects.filter(space_id=space.public_id, action="suppression_demandee").exists()

    with clock.travel(SEVEN_DAYS - timedelta(seconds=1)):
        assert services.spaces_purge_due() == 0
    assert space_of(space.person).state == State.CLOSED
    assert blobs.blob_read(blob) == SECRET

    with clock.travel(SEVEN_DAYS):
        assert services.spaces_purge_due() == 1
        assert services.spaces_purge_due() == 0  # idempotent
    assert space_of(space.person).state == State.PURGED
    assert transitions(space) == [
        ("pending", "active"),
        ("active", "closed"),
        ("closed", "purged"),
    ]


@pytest.mark.django_db
def test_cancelled_deletion_keeps_the_data(active):
    space, user, blob = active
    _close(space, user)
    services.space_request_deletion(space=space, actor=user.actor)
    services.space_cancel_deletion(space=space, actor=user.actor)
    space.refresh_from_db()
    assert space.deletion_requested_at is None and space.deletion_due_at is None
    with clock.travel(SEVEN_DAYS * 2):
        assert services.spaces_purge_due() == 0
    assert space_of(space.person).state == State.CLOSED
    assert blobs.blob_read(blob) == SECRET
    assert Event.objects.filter(space_id=space.public_id, action="suppression_annulee").exists()


@pytest.mark.django_db
def test_reopening_restores_and_cancels_a_pending_deletion(active):
    space, user, blob = active
    _close(space, user)
    services.space_request_deletion(space=space, actor=user.actor)
    services.space_reopen(space=space, actor=user.actor)
    space.refresh_from_db()
    assert space.state == State.ACTIVE
    assert space.deletion_due_at is None and space.archive_until is None
    with clock.travel(SEVEN_DAYS * 2):
        assert services.spaces_purge_due() == 0
    assert blobs.blob_read(blob) == SECRET


@pytest.mark.django_db
def test_closing_again_after_reopening_starts_a_new_archive(active):
    space, user, _ = active
    _close(space, user)
    services.space_request_deletion(space=space, actor=user.actor)
    services.space_reopen(space=space, actor=user.actor)
    with clock.travel(SEVEN_DAYS * 2):
        _close(space, user)
        assert services.spaces_purge_due() == 0  # the old deletion request is gone
    assert space_of(space.person).state == State.CLOSED


@pytest.mark.django_db(transaction=True)
def test_purge_destroys_key_blobs_codes_and_disables_login(space_in):
    space, issued, user = space_in("active")
    blob = blobs.blob_put(data_key=services.space_data_key(space), plaintext=SECRET)
    assert blobs.blob_exists_on_disk(blob.key)
    client = Client()
    assert client.post("/connexion/", {"identifier": user.identifier, "password": PASSWORD})[
        "Location"
    ].endswith("/")
    _close(space, user)

    services.space_purge(space=space, actor="systeme:tick")

    space.refresh_from_db()
    assert space.state == State.PURGED
    data_key = DataKey.objects.get(pk=space.data_key_id)
    assert data_key.wrapped is None and data_key.destroyed_at is not None
    assert not Blob.objects.filter(key=blob.key).exists()
    assert not blobs.blob_exists_on_disk(blob.key)
    assert not ProvisionalCode.objects.filter(person=issued.person).exists()
    assert not ContactCheck.objects.filter(person=issued.person).exists()
    [event] = Event.objects.filter(space_id=space.public_id, action="espace_purge")
    assert event.detail == {"fichiers_supprimes": 1, "cle_detruite": True}
    assert chains_verify() == []

    user.refresh_from_db()
    assert not user.is_active and not user.has_usable_password()
    assert user.email == "" and user.mobile == ""
    # the open session is over, and the password no longer opens anything
    assert client.get("/parametres/")["Location"].startswith("/connexion/")
    response = Client().post("/connexion/", {"identifier": user.identifier, "password": PASSWORD})
    assert response.status_code == 200
    assert "Identifiant ou mot de passe incorrect" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_refused_purge_destroys_nothing(space_in):
    space, _, _ = space_in("active")
    blob = blobs.blob_put(data_key=services.space_data_key(space), plaintext=SECRET)
    with pytest.raises(services.TransitionError):
        services.space_purge(space=space)
    assert blobs.blob_exists_on_disk(blob.key)
    assert blobs.blob_read(Blob.objects.get(key=blob.key)) == SECRET
    assert User.objects.get(person=space.person).is_active


@pytest.mark.django_db
def test_deletion_requested_on_a_stale_object_after_reopening_is_refused(active):
    space, user, _ = active
    _close(space, user)
    stale = Space.objects.get(pk=space.pk)
    services.space_reopen(space=space, actor=user.actor)
    with pytest.raises(services.TransitionError, match="Seul un espace fermé"):
        services.space_request_deletion(space=stale, actor=user.actor)
    space.refresh_from_db()
    assert space.state == State.ACTIVE and space.deletion_due_at is None
