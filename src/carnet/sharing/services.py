"""Use cases of share links: create, revoke, unlock with the passcode, open, download.

Only the space's holder, or a legal representative or guardian acting for it, makes or revokes
a share — never a caregiver (`family.selectors.manages_sharing`, checked here whatever the page
did). The token is random (32 bytes) and kept only as a keyed hash (DESIGN invariant 4); the
passcode, chosen by a person and short, as an Argon2id hash like a password. Every opening and
every download is in the trail of the shared space, its actor the link itself.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import PermissionDenied
from django.db import transaction

from carnet.audit.services import Entry, events_record
from carnet.core import clock, crypto, ratelimit
from carnet.enrollment.models import Space

from .models import Share, SharedDocument

LINK_PURPOSE = "share-link"
TOKEN_BYTES = 32  # 256 bits; secrets.token_urlsafe makes 43 characters of base64url


class ShareError(Exception):
    """A share that cannot be made as asked; the message is for the person, in French."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class PasscodeRefused(Exception):
    """A wrong passcode; `locked_until` once the link is locked (this failure or before)."""

    def __init__(self, locked_until: datetime | None = None):
        super().__init__("code refusé")
        self.locked_until = locked_until


@dataclass(frozen=True)
class LinkActor:
    """The share as an actor of the documents' content service (which reads `.actor`)."""

    actor: str


def token_hash(token: str) -> str:
    return crypto.keyed_hash(token, purpose=LINK_PURPOSE)


def passcode_key(share: Share) -> str:
    return f"share-passcode:{share.public_id}"


def _audit(actor: str, share: Share, action: str, client: str = "", **detail) -> None:
    events_record(
        [
            Entry(
                actor=actor,
                action=action,
                space_id=share.space.public_id,
                object_type="partage",
                object_id=str(share.public_id),
                detail=detail,
                client=client,
            )
        ]
    )


def _manager_only(user, space) -> None:
    """Who may open the record to someone without an account is decided by the holder, or
    their legal representative or guardian, never by a caregiver: refused here."""
    from carnet.family.selectors import manages_sharing

    if not manages_sharing(user, space):
        raise PermissionDenied("Un aidant ne crée ni ne révoque de lien de partage.")


def share_create(
    *,
    user,
    space: Space,
    label: str,
    document_ids: list,
    include_synthesis: bool,
    validity: timedelta,
    passcode: str = "",
    client: str = "",
) -> tuple[Share, str]:
    """Make a share of these documents (public ids, among those the author may see) and/or the
    synthesis, valid `validity`; returns (share, token). The token is kept nowhere else."""
    from carnet.documents.selectors import live_documents

    _manager_only(user, space)
    limits = settings.CARNET
    label = " ".join(label.split())
    if not label:
        raise ShareError("Donnez un nom à ce partage.", field="label")
    if len(label) > limits["SHARE_LABEL_MAX_LENGTH"]:
        raise ShareError(
            f"Le nom ne doit pas dépasser {limits['SHARE_LABEL_MAX_LENGTH']} caractères.",
            field="label",
        )
    if validity <= timedelta(0) or validity > limits["SHARE_MAX_VALIDITY"]:
        days = limits["SHARE_MAX_VALIDITY"].days
        raise ShareError(f"Un lien de partage est valable {days} jours au plus.", field="validity")
    try:
        wanted = list(dict.fromkeys(uuid.UUID(str(d)) for d in document_ids))
    except ValueError as exc:
        raise ShareError("Choisissez les documents dans la liste.", field="documents") from exc
    if not wanted and not include_synthesis:
        raise ShareError(
            "Choisissez au moins un document ou votre synthèse médicale.", field="documents"
        )
    if len(wanted) > limits["SHARE_MAX_DOCUMENTS"]:
        raise ShareError(
            f"Un lien partage {limits['SHARE_MAX_DOCUMENTS']} documents au plus.",
            field="documents",
        )
    by_representative = user.person_id != space.person_id
    # What the author sees, as they see it: never a deleted, withheld or (for a representative)
    # a minor's confidential document, whatever the form sent.
    if by_representative:
        space.seen_by_representative = True  # as `space_for_user` marks it for them
    docs = list(live_documents(space).filter(public_id__in=wanted)) if wanted else []
    if len(docs) != len(wanted):
        raise ShareError(
            "Un des documents choisis n'est plus disponible : choisissez de nouveau.",
            field="documents",
        )
    now = clock.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        # Under the space's lock: two shares made at once cannot both pass the count.
        locked = Space.objects.select_for_update(no_key=True).only("state").get(pk=space.pk)
        if locked.state != Space.State.ACTIVE:
            raise ShareError("Votre espace n'est pas actif : rien ne peut être partagé.")
        active = Share.objects.filter(
            space=space, revoked_at__isnull=True, expires_at__gt=now
        ).count()
        if active >= limits["SHARE_MAX_ACTIVE"]:
            raise ShareError(
                f"Vous avez déjà {limits['SHARE_MAX_ACTIVE']} liens de partage actifs : "
                "révoquez-en un avant d'en créer un autre."
            )
        share = Share.objects.create(
            space=space,
            created_by=user,
            by_representative=by_representative,
            label=label,
            token_hash=token_hash(token),
            passcode_hash=make_password(passcode) if passcode else "",
            include_synthesis=include_synthesis,
            created_at=now,
            expires_at=now + validity,
        )
        SharedDocument.objects.bulk_create(
            SharedDocument(share=share, document=doc) for doc in docs
        )
        _audit(
            user.actor,
            share,
            "partage_cree",
            client,
            documents=len(docs),
            synthese=include_synthesis,
            code=bool(passcode),
            expire=share.expires_at.isoformat(),
        )
    return share, token


def share_revoke(*, user, share: Share, client: str = "") -> bool:
    """The link stops at once. False if it was already revoked (nothing written)."""
    _manager_only(user, share.space)
    now = clock.now()
    with transaction.atomic():
        revoked = Share.objects.filter(pk=share.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=user.actor
        )
        if not revoked:
            return False
        share.revoked_at, share.revoked_by = now, user.actor
        _audit(user.actor, share, "partage_revoque", client)
    return True


def share_unlock(*, share: Share, passcode: str, client: str = "") -> None:
    """Check the passcode of a share; PasscodeRefused if wrong, or while the link is locked
    (SHARE_PASSCODE_MAX_FAILURES wrong codes lock it for SHARE_LOCKOUT, whoever tries)."""
    limits = settings.CARNET
    key = passcode_key(share)
    until = ratelimit.blocked_until(key)
    if until is not None:
        raise PasscodeRefused(until)
    if share.passcode_hash and check_password(passcode, share.passcode_hash):
        ratelimit.reset(key)
        return
    locked = ratelimit.record_failure(
        key,
        limit=limits["SHARE_PASSCODE_MAX_FAILURES"],
        window=limits["SHARE_FAILURE_WINDOW"],
        lockout=limits["SHARE_LOCKOUT"],
    )
    _audit(share.actor, share, "partage_verrouille" if locked else "partage_code_refuse", client)
    raise PasscodeRefused(ratelimit.blocked_until(key) if locked else None)


def share_opened(*, share: Share, client: str = "") -> None:
    """The page of the share was shown to whoever holds the link."""
    _audit(share.actor, share, "partage_ouverture", client)


def share_document_content(*, share: Share, doc, download: bool, client: str = "") -> bytes:
    """The document's verified plaintext, through the documents' own content service (it
    decrypts, checks and writes the consultation or download, the link as its actor)."""
    from carnet.documents.services import document_content

    return document_content(user=LinkActor(share.actor), doc=doc, download=download, client=client)


def share_synthesis(*, share: Share, client: str = "") -> bytes:
    """The synthesis of the shared space's medical profile as it is now (PDF)."""
    from carnet.profile.pdf import synthesis_pdf

    data = synthesis_pdf(share.space)
    _audit(share.actor, share, "partage_synthese", client)
    return data


def share_summary(*, share: Share, client: str = "") -> str:
    """The same synthesis as an International Patient Summary (FHIR JSON), for software."""
    from carnet.fhir.mappers import ips_bundle, to_json

    data = to_json(ips_bundle(share.space, now=clock.now()))
    _audit(share.actor, share, "partage_synthese_fhir", client)
    return data


def space_shares_erase(*, space, **_) -> int:
    """The space's purge (enrollment signal): its shares go, labels and hashes with them."""
    erased, _ = Share.objects.filter(space=space).delete()
    return erased
