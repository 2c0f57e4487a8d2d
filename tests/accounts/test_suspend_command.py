"""`carnet suspend_account`: an operator suspends an account; its sessions end at once."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from carnet.accounts.models import User
from tests.accounts.helpers import is_logged_in


@pytest.fixture
def operator(db):
    return User.objects.create_user(
        "operateur.test", "registre-caisse-2026", kind=User.Kind.OPERATOR
    )


def test_suspension_ends_the_sessions(logged_in, operator, capsys):
    client, holder = logged_in
    call_command("suspend_account", holder.identifier, operateur=operator.identifier)
    assert "suspendu, 1 session(s)" in capsys.readouterr().out
    assert not is_logged_in(client)
    holder.refresh_from_db()
    assert not holder.is_active


def test_only_an_operator_may_suspend(logged_in, capsys):
    _, holder = logged_in
    with pytest.raises(CommandError, match="Seul un opérateur"):
        call_command("suspend_account", holder.identifier, operateur=holder.identifier)
    with pytest.raises(CommandError, match="introuvable"):
        call_command("suspend_account", "personne.inconnue", operateur=holder.identifier)
