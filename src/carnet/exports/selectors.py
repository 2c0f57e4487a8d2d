"""Reads of the exports, always from the account's side: the spaces it may export, its own
exports, and the one it may download."""

from dataclasses import dataclass

from django.http import Http404

from carnet.core import clock
from carnet.enrollment.models import Space

from .models import Export


def may_export(user, space: Space) -> bool:
    """The holder of an active space, or its legal representative or guardian (an open link
    of a managing kind). A caregiver never: exporting a whole record is not helping with it."""
    from carnet.family.selectors import manages_sharing

    if not user.is_authenticated or user.kind != user.Kind.PATIENT:
        return False
    if space.state != Space.State.ACTIVE:
        return False
    return manages_sharing(user, space)


def exportable_spaces(user) -> list[Space]:
    """The spaces `user` may export, their own first: a linked profile's space is marked as
    read by a representative (`seen_by_representative`), so that every read of the export
    leaves out what the representatives may not see (a minor's confidential documents)."""
    from carnet.enrollment.selectors import own_space
    from carnet.family.selectors import MANAGERS, linked_profiles

    if not user.is_authenticated or user.kind != user.Kind.PATIENT:
        return []
    spaces = []
    own = own_space(user)
    if own is not None and own.state == Space.State.ACTIVE:
        spaces.append(own)
    for link in linked_profiles(user):
        if link.kind in MANAGERS:
            link.space.seen_by_representative = True
            spaces.append(link.space)
    return spaces


def as_read_by(user, space: Space) -> Space:
    """`space` marked as `exportable_spaces` marks it (reads leave out what a representative
    may not see, when it is not the user's own)."""
    if user.person_id is None or user.person_id != space.person_id:
        space.seen_by_representative = True
    return space


def still_allowed(user, export: Export) -> bool:
    """Every space of the export may still be exported by its account (a link that ended
    since, a space closed or purged: the file is no longer theirs to take)."""
    spaces = list(export.spaces.all())
    return bool(spaces) and all(may_export(user, space) for space in spaces)


def exports_of(user, limit: int = 5) -> list[Export]:
    """The account's latest exports, newest first, with the names of their profiles."""
    return list(
        Export.objects.filter(user=user)
        .select_related("blob")
        .prefetch_related("spaces__person")
        .order_by("-requested_at", "-id")[:limit]
    )


def export_for_download(user, public_id) -> Export:
    """The account's ready export, within its validity, whose spaces are all still theirs to
    export; anything else (another account's, expired, unknown) is the same 404."""
    found = (
        Export.objects.filter(
            public_id=public_id,
            user=user,
            status=Export.Status.READY,
            expires_at__gt=clock.now(),
        )
        .select_related("blob", "data_key")
        .first()
    )
    if found is None or not still_allowed(user, found):
        raise Http404
    return found


@dataclass
class ExportRow:
    """One export as the page shows it."""

    export: Export
    state: str  # "preparation", "prete", "expiree", "echec"
    label: str
    names: list[str]
    requested: str
    until: str = ""


STATES = {
    "preparation": "En préparation",
    "prete": "Prête",
    "expiree": "Expirée",
    "echec": "Échec de la préparation",
}


def export_rows(user) -> list[ExportRow]:
    """The account's latest exports in words: a ready one past its date, or whose profiles
    are no longer all the account's to export, reads as expired (the sweep deletes it)."""
    rows = []
    now = clock.now()
    for export in exports_of(user):
        if export.in_progress:
            state = "preparation"
        elif export.status == Export.Status.READY:
            fresh = export.expires_at > now and still_allowed(user, export)
            state = "prete" if fresh else "expiree"
        elif export.status == Export.Status.FAILED:
            state = "echec"
        else:
            state = "expiree"
        names = [
            f"{s.person.first_name} {s.person.last_name}"
            for s in sorted(export.spaces.all(), key=lambda s: s.person_id != user.person_id)
        ]
        rows.append(
            ExportRow(
                export=export,
                state=state,
                label=STATES[state],
                names=names,
                requested=clock.localtime_fr(export.requested_at),
                until=clock.localtime_fr(export.expires_at) if state == "prete" else "",
            )
        )
    return rows
