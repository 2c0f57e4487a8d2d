"""`carnet invite_professional RPPS`: a single-use link by email, kept only as a keyed hash."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from carnet.audit.models import Event
from carnet.core import crypto
from carnet.notifications.models import OutboxMessage
from carnet.professionals.models import Invitation, Professional

from .conftest import invitation_link, rpps


def invite(number: str) -> str:
    out = StringIO()
    call_command("invite_professional", number, stdout=out)
    return out.getvalue()


def test_invitation_emails_a_link_and_keeps_only_its_hash(directory):
    out = invite(rpps(1))
    assert "Invitation envoyée à c*****@exemple.fr" in out
    [message] = OutboxMessage.objects.filter(kind="invitation_professionnel")
    assert message.to == "claire.fictif1@exemple.fr"
    link = invitation_link(message)
    assert link.startswith("http://127.0.0.1:8000/pro/activer/")
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    invitation = Invitation.objects.get()
    assert invitation.token_hash == crypto.keyed_hash(token, purpose="pro-invitation")
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    # The token is nowhere in the database: not in the invitation, not in the trail.
    for values in Invitation.objects.values():
        assert token not in str(values)
    for values in Event.objects.values():
        assert token not in str(values)
    event = Event.objects.get(action="professionnel_invite")
    assert event.object_id == str(Professional.objects.get(rpps=rpps(1)).public_id)


def test_the_email_says_what_to_do_and_nothing_of_health(directory):
    invite(rpps(1))
    message = OutboxMessage.objects.get(kind="invitation_professionnel")
    assert message.subject == "Activez votre compte sur le portail des professionnels de santé"
    assert "Bonjour Claire FICTIF1" in message.body
    assert "ne sert qu'une fois" in message.body and "valable jusqu'au" in message.body
    for word in ("patient", "document", "dossier", "diagnostic", rpps(1)):
        assert word not in message.body.lower()


def test_reinviting_revokes_the_unused_link(directory):
    invite(rpps(1))
    invite(rpps(1))
    first, second = Invitation.objects.order_by("id")
    assert first.revoked_at is not None
    assert second.revoked_at is None and second.used_at is None
    assert OutboxMessage.objects.filter(kind="invitation_professionnel").count() == 2


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (rpps(99), "aucun professionnel de l'annuaire n'a le RPPS"),
        ("1234", "Le numéro RPPS doit comporter 11 chiffres"),
        (rpps(1)[:10] + str((int(rpps(1)[10]) + 1) % 10), "La clé du numéro RPPS"),
    ],
)
def test_unknown_or_invalid_rpps_is_refused(directory, number, message):
    with pytest.raises(CommandError, match=message):
        invite(number)
    assert not Invitation.objects.exists()
    assert not OutboxMessage.objects.filter(kind="invitation_professionnel").exists()


def test_a_professional_without_email_cannot_be_invited(directory):
    Professional.objects.filter(rpps=rpps(2)).update(email="")
    with pytest.raises(CommandError, match="n'a pas d'adresse e-mail"):
        invite(rpps(2))


def test_an_activated_professional_cannot_be_invited_again(directory, professional):
    Professional.objects.filter(rpps=rpps(1)).update(user=professional)
    with pytest.raises(CommandError, match="déjà activé : il ne peut pas être invité à nouveau"):
        invite(rpps(1))
    assert not Invitation.objects.exists()
