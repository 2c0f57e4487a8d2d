"""Helpers for the account tests: log in through the three real steps, read codes and pages."""

import html
import re

from carnet.accounts.models import User
from carnet.notifications.models import OutboxMessage
from tests.enrollment.helpers import PASSWORD


def page(response) -> str:
    return html.unescape(response.content.decode())


def last_to(to: str, kind: str | None = None) -> OutboxMessage | None:
    messages = OutboxMessage.objects.filter(to=to)
    if kind:
        messages = messages.filter(kind=kind)
    return messages.order_by("-created_at", "-id").first()


def code_sent_to(to: str) -> str:
    """The 6-digit code of the latest code message held for `to` (demo outbox)."""
    message = last_to(to, "code_acces")
    assert message is not None, f"no code sent to {to}"
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", message.body)
    assert match, message.body
    return match.group(1)


def log_in(client, identifier: str, password: str = PASSWORD, channel: str = "email"):
    """/connexion/ → /connexion/mode/ → /connexion/code/, reading the code from the outbox."""
    response = client.post("/connexion/", {"identifier": identifier, "password": password})
    assert response.status_code == 302, page(response)[:3000]
    assert response["Location"] == "/connexion/mode/"
    response = client.post("/connexion/mode/", {"channel": channel})
    assert response["Location"] == "/connexion/code/", page(response)[:3000]
    user = User.objects.get(identifier=identifier)
    code = code_sent_to(user.email if channel == "email" else user.mobile)
    response = client.post("/connexion/code/", {"code": code})
    assert response.status_code == 302, page(response)[:3000]
    assert "_auth_user_id" in client.session
    return response


def is_logged_in(client) -> bool:
    """Whether the client's session still opens a private page."""
    response = client.get("/parametres/")
    return response.status_code == 200


def reauthenticate(client, user, password: str = PASSWORD, channel: str = "email"):
    """Confirm one's identity (password, then a fresh code) from the settings."""
    response = client.post(
        "/parametres/confirmer-mon-identite/", {"password": password, "channel": channel}
    )
    assert response["Location"] == "/parametres/confirmer-mon-identite/code/", page(response)
    code = code_sent_to(user.email if channel == "email" else user.mobile)
    return client.post("/parametres/confirmer-mon-identite/code/", {"code": code})
