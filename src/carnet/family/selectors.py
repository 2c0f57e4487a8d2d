"""Reads of linked profiles, always from the account's side: the profiles it may act for."""

from django.db.models import Q

from carnet.core import clock
from carnet.core.sessions import SEEN_AT
from carnet.enrollment.models import Space

from .models import Link


def _open_links(user):
    today = clock.today()
    return Link.objects.filter(
        Q(until__isnull=True) | Q(until__gte=today), user=user, ended_at__isnull=True
    ).filter(space__state=Space.State.ACTIVE)


def linked_profiles(user) -> list[Link]:
    """The open links of the account to active spaces, with each space and its person."""
    if not user.is_authenticated:
        return []
    return list(
        _open_links(user).select_related("space__person").order_by("space__person__birth_date")
    )


NO_LINKS_AT = "sans_profils_rattaches"  # the session's renewal at which none was found


def switcher_profiles(user, session) -> list[Link]:
    """The profile switcher's list, shown on every page of a patient. Most accounts have no
    linked profile: for them the answer is kept in the session until its next renewal (at most
    SESSION_SEEN_INTERVAL, carnet.core.sessions), instead of a query at each page; a profile
    linked meanwhile shows at that renewal, or at once when linked from this session
    (`switcher_refresh`). What acting for a profile allows is checked at every request
    (`link_for`), never from this list."""
    renewed = session.get(SEEN_AT)
    if renewed is not None and session.get(NO_LINKS_AT) == renewed:
        return []
    links = linked_profiles(user)
    if links:
        session.pop(NO_LINKS_AT, None)
    elif renewed is not None:
        session[NO_LINKS_AT] = renewed
    return links


def switcher_refresh(session) -> None:
    """A profile was just linked to the account of this session: the switcher shows it now."""
    session.pop(NO_LINKS_AT, None)


def link_for(user, space_public_id) -> Link | None:
    """The open link of the account to this space, or None: what every request acting for a
    linked profile checks again (a revoked link ends access at the next request)."""
    if not user.is_authenticated:
        return None
    return (
        _open_links(user)
        .select_related("space__person")
        .filter(space__public_id=space_public_id)
        .first()
    )


def own_open_link(user, public_id) -> Link | None:
    """The account's own open link by its id (None for anyone else's, or an ended one)."""
    try:
        return (
            Link.objects.select_related("space__person")
            .filter(public_id=public_id, user=user, ended_at__isnull=True)
            .first()
        )
    except ValueError:  # not a valid id
        return None


MANAGERS = (Link.Kind.LEGAL_REPRESENTATIVE, Link.Kind.TUTELLE, Link.Kind.CURATELLE)


def manages_sharing(user, space) -> bool:
    """May `user` decide who accesses the space (authorisations, blocks, médecin traitant,
    emergency access)? Its holder, a legal representative, a guardian under a protection
    measure: yes. A caregiver: never."""
    if not user.is_authenticated:
        return False
    if user.person_id is not None and user.person_id == space.person_id:
        return True
    return _open_links(user).filter(space=space, kind__in=MANAGERS).exists()


def caregivers_of(space) -> list[Link]:
    """The open caregiver links of a space, with each caregiver's person."""
    return list(
        Link.objects.filter(space=space, kind=Link.Kind.CAREGIVER, ended_at__isnull=True)
        .select_related("user__person")
        .order_by("started_at")
    )


def linked_accounts(space) -> list:
    """The accounts that manage or help with the space (open links, `until` not passed): told
    of what arrives in it, as its holder is."""
    from carnet.accounts.models import User

    today = clock.today()
    return list(
        User.objects.select_related("preferences")
        .filter(
            Q(family_links__until__isnull=True) | Q(family_links__until__gte=today),
            family_links__space=space,
            family_links__ended_at__isnull=True,
            is_active=True,
        )
        .distinct()
    )
