"""Reads of share links: the owner's side (scoped to the acting profile's space, for those who
manage its sharing) and the link's side (by its token, only while it serves)."""

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q
from django.http import Http404

from carnet.core import clock, crypto
from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user

from .models import ACTOR_PREFIX, Share, SharedDocument
from .services import token_hash

# What secrets.token_urlsafe(32) makes: 43 characters of the URL-safe base64 alphabet.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


class Status:
    ACTIVE = "actif"
    EXPIRED = "expire"
    REVOKED = "revoque"
    LABELS = {ACTIVE: "Actif", EXPIRED: "Expiré", REVOKED: "Révoqué"}


def sharing_space(user) -> Space:
    """The space whose share links `user` may manage: the acting profile's, active, and only
    for its holder or a legal representative or guardian (404 for a caregiver, as for an id
    that does not exist)."""
    from carnet.family.selectors import manages_sharing

    space = space_for_user(user)
    if space is None or space.state != Space.State.ACTIVE or not manages_sharing(user, space):
        raise Http404
    return space


def _authors_who_may(space, author_ids) -> set[int]:
    """The authors (account ids) whose shares of `space` may still serve: those who still
    manage its sharing (a representative's link ended stops their shares)."""
    from carnet.accounts.models import User
    from carnet.family.selectors import manages_sharing

    return {
        u.pk
        for u in User.objects.filter(pk__in=set(author_ids), is_active=True)
        if manages_sharing(u, space)
    }


def status_of(share: Share, *, now: datetime | None = None, author_ok: bool = True) -> str:
    now = now or clock.now()
    if share.revoked_at is not None or not author_ok:
        return Status.REVOKED
    if share.expires_at <= now:
        return Status.EXPIRED
    return Status.ACTIVE


@dataclass
class Listed:
    share: Share
    status: str
    documents: int

    @property
    def status_label(self) -> str:
        return Status.LABELS[self.status]


def shares_of(space: Space) -> dict[str, list[Listed]]:
    """The space's shares by status (active, expired, revoked), newest first: three queries
    whatever their number (the shares with their counts, the authors, their links)."""
    rows = list(
        Share.objects.filter(space=space)
        # The documents still in the list (a deleted one is no longer shown through the link).
        .annotate(n_documents=Count("documents", filter=Q(documents__deleted_at__isnull=True)))
        .order_by("-created_at", "-id")
    )
    allowed = _authors_who_may(space, [s.created_by_id for s in rows]) if rows else set()
    now = clock.now()
    grouped: dict[str, list[Listed]] = {s: [] for s in Status.LABELS}
    for share in rows:
        status = status_of(share, now=now, author_ok=share.created_by_id in allowed)
        grouped[status].append(Listed(share, status, share.n_documents))
    return grouped


def share_of_space(space: Space, public_id) -> Share:
    found = Share.objects.filter(space=space, public_id=public_id).first()
    if found is None:
        raise Http404
    return found


def share_status(share: Share) -> str:
    allowed = _authors_who_may(share.space, [share.created_by_id])
    return status_of(share, author_ok=share.created_by_id in allowed)


def shared_documents(share: Share, *, reader_space: Space | None = None):
    """The documents of a share that can still be shown, newest first: live (not deleted, nor
    withheld), and never a minor's confidential one when the share — or the reader of the
    owner's page — is a representative's. The same rules as the list of documents."""
    from carnet.documents.selectors import live_documents

    space = share.space
    space.seen_by_representative = share.by_representative or bool(
        reader_space is not None and getattr(reader_space, "seen_by_representative", False)
    )
    return (
        live_documents(space)
        .filter(pk__in=SharedDocument.objects.filter(share=share).values("document_id"))
        .order_by("-document_date", "-id")
    )


def shared_document(share: Share, public_id):
    found = shared_documents(share).filter(public_id=public_id).first()
    if found is None:
        raise Http404
    return found


def share_by_token(token: str) -> Share | None:
    """The share of this link if it serves now (not revoked, not expired, its space active,
    its author still managing the space's sharing); None for any other link, whatever the
    reason, so that nothing tells an expired link from one that never existed."""
    if not TOKEN_SHAPE.fullmatch(token or ""):
        return None
    digest = token_hash(token)
    share = (
        Share.objects.select_related("space__person", "created_by")
        .filter(token_hash=digest)
        .first()
    )
    if share is None or not crypto.hashes_equal(share.token_hash, digest):
        return None
    if share.revoked_at is not None or share.expires_at <= clock.now():
        return None
    if share.space.state != Space.State.ACTIVE:
        return None
    from carnet.family.selectors import manages_sharing

    author = share.created_by
    if not author.is_active or not manages_sharing(author, share.space):
        return None
    return share


def share_events(share: Share, reader_space: Space | None = None):
    """What was done through the link (openings, downloads, refused codes), newest first."""
    from carnet.audit.models import Event
    from carnet.documents.selectors import unsaid_document_ids

    events = Event.objects.filter(space_id=share.space.public_id, actor=share.actor)
    unsaid = unsaid_document_ids(reader_space or share.space)
    if unsaid:
        events = events.exclude(object_type="document", object_id__in=unsaid)
    return events.order_by("-at", "-id")


def document_titles(space: Space, ids) -> dict[str, str]:
    """Titles of the documents named by events, as the reader of `space` may see them."""
    from carnet.documents.models import Document

    rows = Document.objects.filter(space=space, public_id__in=list(ids)).exclude(
        withheld_until__isnull=False
    )
    if getattr(space, "seen_by_representative", False):
        rows = rows.exclude(confidential=True)
    return {str(p): t for p, t in rows.values_list("public_id", "title")}


def share_names(actors, space) -> dict[str, str]:
    """ "Lien de partage « Urgences Lyon »" by actor, for the history (one query, none when no
    event of the page was a link's)."""
    ids = [a.removeprefix(ACTOR_PREFIX) for a in set(actors) if a.startswith(ACTOR_PREFIX)]
    if not ids:
        return {}
    found = {}
    for public_id, label in Share.objects.filter(
        space=space, public_id__in=[i for i in ids if _is_uuid(i)]
    ).values_list("public_id", "label"):
        found[f"{ACTOR_PREFIX}{public_id}"] = f"Lien de partage « {label} »"
    return found


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def shareable_documents(space: Space) -> list:
    """The documents the author may choose, newest first: those of their list of documents."""
    from carnet.documents.selectors import live_documents

    return list(
        live_documents(space)
        .order_by("-document_date", "-id")
        .only("public_id", "title", "category", "document_date")
    )


@dataclass
class Opening:
    at: datetime
    label: str
    document: str
    client: str


def openings(events, space: Space) -> list[Opening]:
    """The lines of the owner's page for a share, in words (two queries: events, titles)."""
    from carnet.accounts.selectors import activities_describe

    events = list(events)
    titles = document_titles(space, {e.object_id for e in events if e.object_type == "document"})
    rows = []
    for event, described in zip(events, activities_describe(events), strict=True):
        document = ""
        if event.object_type == "document":
            document = titles.get(event.object_id, "document supprimé")
        rows.append(Opening(event.at, described.label, document, event.client))
    return rows
