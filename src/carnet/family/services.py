"""Use cases of linked profiles: a legal representative attaches a minor's space and acts for
it (the profile switcher). Every change is audited with the representative as the actor, in
the child's trail."""

from django.db import transaction

from carnet.audit.services import Entry, events_record
from carnet.core import clock
from carnet.enrollment import services as enrollment

from .models import Link

ACTING_KEY = "carnet_acting_profile"  # the session's selected linked profile (a space id)


class FamilyError(Exception):
    """A refusal, its message in French for the person."""


def _audit(user, space, action: str, link: Link, *, client: str = "", **detail) -> None:
    events_record(
        [
            Entry(
                actor=user.actor,
                action=action,
                space_id=space.public_id,
                object_type="link",
                object_id=str(link.public_id),
                detail=detail,
                client=client,
            )
        ]
    )


def child_attach(
    *, user, identified: enrollment.Identified, decision: str, certified: bool, client: str = ""
) -> Link | None:
    """The representative's decision for the child's space: "activer" (the space becomes
    active and linked to the account) or "opposer" (no space; nothing linked). The
    certification of being the child's legal representative is required for both."""
    if not certified:
        raise FamilyError(
            f"Cochez la case pour certifier être le représentant légal de "
            f"{identified.person.first_name}."
        )
    if decision == "opposer":
        enrollment.space_oppose(identified=identified, client=client, actor=user.actor)
        return None
    if decision != "activer":
        raise FamilyError("Choisissez d'activer l'espace de l'enfant ou de vous y opposer.")
    with transaction.atomic():
        space = enrollment.child_space_activate(
            identified=identified, actor=user.actor, client=client
        )
        link = Link.objects.filter(space=space, user=user, ended_at__isnull=True).first()
        if link is None:
            link = Link.objects.create(
                space=space,
                user=user,
                kind=Link.Kind.LEGAL_REPRESENTATIVE,
                started_at=clock.now(),
            )
            _audit(user, space, "profil_rattache", link, client=client, lien=link.kind)
    return link


def acting_profile_set(session, link: Link | None) -> None:
    """Act for this linked profile from now on (None: for oneself again)."""
    if link is None:
        session.pop(ACTING_KEY, None)
    else:
        session[ACTING_KEY] = str(link.space.public_id)
