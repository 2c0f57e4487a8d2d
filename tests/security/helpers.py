"""Log in through the real three steps (password, channel, code read in the outbox)."""

import html
import re

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.utils.module_loading import import_string

from carnet.accounts.models import User
from carnet.notifications.models import OutboxMessage

PRO_PASSWORD = "stethoscope-vert-2026"
OPERATOR_PASSWORD = "registre-caisse-2026"
LOGIN_PATHS = {
    User.Kind.PATIENT: "/connexion/",
    User.Kind.PROFESSIONAL: "/pro/connexion/",
    User.Kind.OPERATOR: "/operateur/connexion/",
}
HOME_PATHS = {
    User.Kind.PATIENT: "/",
    User.Kind.PROFESSIONAL: "/pro/",
    User.Kind.OPERATOR: "/operateur/",
}
FAILED = "Identifiant ou mot de passe incorrect."


def page(response) -> str:
    return html.unescape(response.content.decode())


def last_code(user: User) -> str:
    message = OutboxMessage.objects.filter(to=user.email, kind="code_acces").first()
    assert message is not None, "no code was sent"
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def password_step(client, kind: str, identifier: str, password: str):
    return client.post(LOGIN_PATHS[kind], {"identifier": identifier, "password": password})


def login(client, user: User, password: str):
    """All three steps, the code by email; returns the last response (the redirect home)."""
    base = LOGIN_PATHS[user.kind]
    response = password_step(client, user.kind, user.identifier, password)
    assert response.status_code == 302 and response["Location"] == f"{base}mode/", response
    response = client.post(f"{base}mode/", {"channel": "email"})
    assert response.status_code == 302 and response["Location"] == f"{base}code/", response
    response = client.post(f"{base}code/", {"code": last_code(user)})
    assert response.status_code == 302, page(response)
    return response


def session_key(client) -> str | None:
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie and cookie.value else None


def store(key: str | None = None) -> SessionBase:
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key=key)


def session_exists(key: str) -> bool:
    return store().exists(key)


def make_user(kind: str, identifier: str, password: str, **extra) -> User:
    return User.objects.create_user(
        identifier,
        password,
        kind=kind,
        email=f"{identifier}@exemple.fr",
        email_verified=True,
        **extra,
    )
