"""Helpers shared by the enrollment, audit, account and CLI tests: drive the real services."""

import re

from carnet.audit.models import Event
from carnet.core import clock
from carnet.enrollment import services
from carnet.enrollment.models import Space
from carnet.notifications.models import OutboxMessage

PASSWORD = "jardin-lune-orage-42"
CLIENT = "198.51.100.7"


def identify(person, code, **overrides):
    """Run the identification with the person's true data, except what `overrides` says."""
    values = {
        "code": code,
        "nir": person.nir,
        "birth_date": person.birth_date,
        "vitale_photo": person.vitale_photo,
        "vitale_serial": person.vitale_serial,
        "client": CLIENT,
    }
    values.update(overrides)
    return services.identification_check(**values)


def credentials(person, identifier="alice.martin", password=PASSWORD, **overrides):
    values = {
        "identifier": identifier,
        "password": password,
        "email": person.email,
        "email_verified": True,
        "mobile": person.mobile,
        "mobile_verified": bool(person.mobile),
    }
    values.update(overrides)
    return services.Credentials(**values)


def activate(issued, identifier="alice.martin"):
    """Identify and activate; returns the new user."""
    identified = identify(issued.person, issued.code)
    return services.space_activate(
        identified=identified, credentials=credentials(issued.person, identifier), client=CLIENT
    )


def space_of(person) -> Space:
    return Space.objects.get(person=person)


def transitions(space) -> list[tuple[str, str]]:
    """(from, to) of every audited transition of a space, oldest first."""
    return [
        (e.detail["de"], e.detail["vers"])
        for e in Event.objects.filter(
            space_id=space.public_id, action="espace_transition"
        ).order_by("seq")
    ]


def reissue(person, **overrides):
    values = {
        "nir": person.nir,
        "birth_date": person.birth_date,
        "vitale_serial": person.vitale_serial,
        "client": CLIENT,
    }
    values.update(overrides)
    services.code_reissue(**values)


def last_message(to: str, kind: str) -> OutboxMessage:
    return OutboxMessage.objects.filter(to=to, kind=kind).order_by("-created_at", "-id").first()


def code_in(message: OutboxMessage, length: int = 12) -> str:
    """The code carried by a held message body (demo outbox)."""
    if length == 12:
        match = re.search(r"(?:confidentiel :|provisoire est) ([0-9A-Za-z]{12})\b", message.body)
    else:
        match = re.search(rf"(?<!\d)(\d{{{length}}})(?!\d)", message.body)
    assert match, message.body
    return match.group(1)


def reissued_code(person) -> str:
    """Ask a new code for the person and read it from the outbox (email or SMS)."""
    reissue(person)
    message = OutboxMessage.objects.filter(kind="code_provisoire").order_by("-id").first()
    assert message is not None and message.to in (person.email, person.mobile)
    return code_in(message)


def at(moment):
    """Put the clock at `moment` (it then runs on from there)."""
    from django.utils import timezone

    clock.set_offset(moment - timezone.now())
