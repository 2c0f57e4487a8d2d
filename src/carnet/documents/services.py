"""Changing documents: one function per use case, each audited in the same transaction.

The owner acts here directly; a professional's access is decided by `consent` before these are
called (the pro portal). Events carry ids and categories, never titles (DESIGN invariant 7).
"""

import logging
from datetime import date

from django.conf import settings
from django.db import transaction

from carnet.audit.services import Entry as AuditEntry
from carnet.audit.services import events_record
from carnet.core import blobs, clock
from carnet.enrollment.models import Space
from carnet.enrollment.services import space_data_key

from .files import CheckedFile
from .models import CareEvent, Category, Document, DocumentSettings

log = logging.getLogger(__name__)


class SpaceNotWritable(Exception):
    """The space is no longer active (closed or purged meanwhile): nothing is added."""


class DocumentUnreadable(Exception):
    """The stored file failed its integrity check: reported, never served."""


def _audit(actor: str, space, action: str, doc: Document, client: str = "", **detail) -> None:
    events_record(
        [
            AuditEntry(
                actor=actor,
                action=action,
                space_id=space.public_id,
                object_type="document",
                object_id=str(doc.public_id),
                detail={"categorie": doc.category, **detail},
                client=client,
            )
        ]
    )


def _author_of(user) -> tuple[str, str, str]:
    """(kind, name, establishment) as shown in "Ajouté par"."""
    person = getattr(user, "person", None)
    if user.kind == "usager" and person is not None:
        return Document.AuthorKind.USAGER, f"{person.first_name} {person.last_name}", ""
    # A professional's account linked to the directory: "Prénom Nom" and their establishment,
    # as written at the time (the directory entry may change later).
    professional = getattr(user, "professional", None) if user.kind == "professionnel" else None
    if professional is not None:
        return (
            Document.AuthorKind.PROFESSIONNEL,
            professional.full_name[:150],  # the columns of Document
            professional.establishment[:150],
        )
    return Document.AuthorKind.PROFESSIONNEL, user.identifier, ""


def hide_new_documents(space) -> bool:
    found = DocumentSettings.objects.filter(space=space).first()
    return bool(found and found.hide_new_documents)


def document_add(
    *,
    user,
    space,
    checked: CheckedFile,
    title: str,
    category: str,
    document_date: date,
    hidden: bool | None = None,
    withheld: bool = False,
    confidential: bool = False,
    client: str = "",
    basis: str = "",
) -> Document:
    """Store the encrypted file, then the row; the row commits only once the file is durable.
    `withheld`: a professional's result kept from the patient until the announcement
    consultation, WITHHOLD_MAX at most. `basis`: for a professional, the reason consent allowed
    the addition, written in the addition's one event."""
    data_key = space_data_key(space)
    kind, name, establishment = _author_of(user)
    now = clock.now()
    with transaction.atomic():
        # Under the space's lock: a purge or closure cannot slip in between the check of the
        # state and the insert, and two advance directives added at once replace in turn.
        # FOR NO KEY UPDATE: it still waits for a purge or closure (FOR UPDATE) and for
        # another addition, but not for the deferred foreign-key checks (FOR KEY SHARE) of
        # rows that other writers insert in the space: those run at their COMMIT, after they
        # took the space's audit chain head, which this transaction takes next (deadlock).
        locked = Space.objects.select_for_update(no_key=True).only("state").get(pk=space.pk)
        # A pending space receives professionals' documents (consent rule 1), nothing else.
        writable = {Space.State.ACTIVE}
        if kind == Document.AuthorKind.PROFESSIONNEL:
            writable.add(Space.State.PENDING)
        if locked.state not in writable:
            raise SpaceNotWritable(locked.state)
        blob = blobs.blob_put(data_key=data_key, plaintext=checked.data)
        doc = Document.objects.create(
            space=space,
            blob=blob,
            title=title,
            category=category,
            document_date=document_date,
            media_type=checked.media_type,
            extension=checked.extension,
            size=len(checked.data),
            author=user,
            author_kind=kind,
            author_name=name,
            author_establishment=establishment,
            hidden=hide_new_documents(space) if hidden is None else hidden,
            created_at=now,
            updated_at=now,
            withheld_until=now + settings.CARNET["WITHHOLD_MAX"] if withheld else None,
            confidential=confidential,
        )
        extra = {"retenu": True} if withheld else {}
        if confidential:
            extra["confidentiel"] = True
        if basis:
            extra["motif"] = basis
        _audit(user.actor, space, "document_ajout", doc, client, taille=doc.size, **extra)
        if category in REPLACED_BY_NEW:
            _replace_previous(user, space, doc, client)
    return doc


# Categories of which a space keeps one current document: a new one replaces the previous,
# which stays restorable in "Documents supprimés" for DOCUMENT_RETENTION.
REPLACED_BY_NEW = {Category.DIR_ANT}


def _replace_previous(user, space, new: Document, client: str) -> None:
    previous = Document.objects.filter(
        space=space, category=new.category, deleted_at__isnull=True
    ).exclude(pk=new.pk)
    for doc in previous:
        doc.deleted_at = clock.now()
        doc.deleted_by = user.actor
        doc.save(update_fields=["deleted_at", "deleted_by"])
        _audit(user.actor, space, "document_remplace", doc, client, par=str(new.public_id))


def document_update(
    *, user, doc: Document, title: str, category: str, document_date: date, client: str = ""
) -> Document:
    # Which fields changed, by name: the trail never holds the title itself.
    changed = [
        name
        for name, before, after in (
            ("titre", doc.title, title),
            ("categorie", doc.category, category),
            ("date", doc.document_date, document_date),
        )
        if before != after
    ]
    with transaction.atomic():
        doc.title, doc.category, doc.document_date = title, category, document_date
        doc.updated_at = clock.now()
        doc.save(update_fields=["title", "title_key", "category", "document_date", "updated_at"])
        _audit(user.actor, doc.space, "document_modification", doc, client, champs=changed)
    return doc


def document_pin(*, user, doc: Document, pinned: bool, client: str = "") -> Document:
    with transaction.atomic():
        doc.pinned = pinned
        doc.save(update_fields=["pinned"])
        _audit(
            user.actor,
            doc.space,
            "document_epingle" if pinned else "document_desepingle",
            doc,
            client,
        )
    return doc


def document_hide(*, user, doc: Document, hidden: bool, client: str = "") -> Document:
    """ "Masquer aux professionnels de santé": the rule that applies it lives in consent."""
    with transaction.atomic():
        doc.hidden = hidden
        doc.save(update_fields=["hidden"])
        _audit(
            user.actor, doc.space, "document_masque" if hidden else "document_affiche", doc, client
        )
    return doc


def document_delete(*, user, doc: Document, client: str = "") -> Document:
    """Soft: the document leaves the list at once and stays restorable for DOCUMENT_RETENTION."""
    with transaction.atomic():
        doc.deleted_at = clock.now()
        doc.deleted_by = user.actor
        doc.save(update_fields=["deleted_at", "deleted_by"])
        # The author of a professional's document sees it in their activity (object = document).
        _audit(user.actor, doc.space, "document_suppression", doc, client, auteur=doc.author_kind)
    return doc


class DocumentGone(Exception):
    """The document can no longer be restored: its retention is over (purged or about to be)."""


def document_restore(*, user, doc: Document, client: str = "") -> Document:
    """Back in the list, if still within DOCUMENT_RETENTION; the check and the write are one
    conditional update, so a restore racing the tick's purge either wins or finds it gone."""
    cutoff = clock.now() - settings.CARNET["DOCUMENT_RETENTION"]
    with transaction.atomic():
        restored = Document.objects.filter(pk=doc.pk, deleted_at__gt=cutoff).update(
            deleted_at=None, deleted_by=""
        )
        if not restored:
            raise DocumentGone(str(doc.public_id))
        doc.deleted_at, doc.deleted_by = None, ""
        _audit(user.actor, doc.space, "document_restauration", doc, client)
    return doc


def document_content(
    *, user, doc: Document, download: bool, client: str = "", basis: str = ""
) -> bytes:
    """The verified plaintext; every view and download is in the trail, even the owner's, in
    one event. `basis`: for a professional, the reason consent allowed the reading."""
    try:
        data = blobs.blob_read(doc.blob)
    except blobs.BlobCorrupted as exc:
        log.error("document %s: blob %s failed its integrity check", doc.public_id, doc.blob_id)
        _audit(user.actor, doc.space, "document_illisible", doc, client)
        raise DocumentUnreadable(str(doc.public_id)) from exc
    action = "document_telechargement" if download else "document_consultation"
    _audit(user.actor, doc.space, action, doc, client, **({"motif": basis} if basis else {}))
    return data


def _purge(docs) -> int:
    docs = list(docs)
    if not docs:
        return 0
    keys = [d.blob_id for d in docs]
    Document.objects.filter(pk__in=[d.pk for d in docs]).delete()
    blobs.blobs_delete(keys)
    return len(docs)


def documents_purge_due(*, batch_size: int = 500) -> int:
    """`carnet tick`: documents deleted more than DOCUMENT_RETENTION ago go for good."""
    cutoff = clock.now() - settings.CARNET["DOCUMENT_RETENTION"]
    purged = 0
    while True:
        with transaction.atomic():
            due = list(
                # of=self: lock the documents only, never their spaces' rows.
                Document.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(deleted_at__lte=cutoff)
                .select_related("space")
                .order_by("deleted_at", "id")[:batch_size]
            )
            if not due:
                return purged
            events_record(
                [
                    AuditEntry(
                        actor="systeme:tick",
                        action="document_purge",
                        space_id=d.space.public_id,
                        object_type="document",
                        object_id=str(d.public_id),
                        detail={"categorie": d.category},
                    )
                    for d in due
                ]
            )
            purged += _purge(due)


NEW_DOCUMENT_SMS = "Carnet : vous avez reçu un nouveau document. Consultez votre espace."
WAITING_SMS = "Carnet : un document vous attend. Il vous sera présenté par un professionnel."


def owner_notify(space, template: str, *, sms_text: str, confidential: bool = False) -> None:
    """Tell the patient that a document arrived or waits, never which (DESIGN invariant 7), by
    the channels of their "Nouveau document" preferences; and the accounts linked to the space
    (legal representatives, guardians, caregivers: a child has no account of their own), by
    theirs — except for a minor's confidential document, told to the minor only."""
    from carnet.accounts.models import User
    from carnet.accounts.services import notify_preferred
    from carnet.family.selectors import linked_accounts

    told = list(User.objects.filter(person_id=space.person_id, is_active=True)[:1])
    if not confidential:
        told += [user for user in linked_accounts(space) if user not in told]
    for user in told:
        notify_preferred(
            user,
            template,
            topic="new_document",
            kind=template,
            url=settings.SERVICE_URL,
            sms_text=sms_text,
        )


def document_release(*, actor: str, doc: Document, client: str = "") -> bool:
    """A withheld document becomes visible to the patient, who is told a document arrived.
    One conditional update: the author's release racing the tick's notifies once. False if it
    was no longer withheld."""
    with transaction.atomic():
        released = Document.objects.filter(pk=doc.pk, withheld_until__isnull=False).update(
            withheld_until=None
        )
        if not released:
            return False
        doc.withheld_until = None
        _audit(actor, doc.space, "document_libere", doc, client)
        owner_notify(
            doc.space, "nouveau_document", sms_text=NEW_DOCUMENT_SMS, confidential=doc.confidential
        )
    return True


def documents_withheld_sweep(*, batch_size: int = 500) -> int:
    """`carnet tick`: the patient is told once that a document waits (after
    WITHHOLD_NOTICE_AFTER), and a document withheld WITHHOLD_MAX is released. Each row changes
    under a conditional update, so two sweeps at once notify once."""
    now = clock.now()
    done = 0
    noticed = (
        Document.objects.filter(
            deleted_at__isnull=True,
            withheld_until__gt=now,
            withheld_notice_sent_at__isnull=True,
            created_at__lte=now - settings.CARNET["WITHHOLD_NOTICE_AFTER"],
        )
        .select_related("space")
        .order_by("id")[:batch_size]
    )
    for doc in noticed:
        with transaction.atomic():
            if Document.objects.filter(pk=doc.pk, withheld_notice_sent_at__isnull=True).update(
                withheld_notice_sent_at=now
            ):
                owner_notify(
                    doc.space,
                    "document_en_attente",
                    sms_text=WAITING_SMS,
                    confidential=doc.confidential,
                )
                done += 1
    due = (
        Document.objects.filter(withheld_until__lte=now)
        .select_related("space")
        .order_by("withheld_until", "id")[:batch_size]
    )
    for doc in due:
        done += document_release(actor="systeme:tick", doc=doc)
    return done


def space_documents_erase(*, space, **_) -> int:
    """The space's purge (enrollment signal): rows and blobs go, the key is destroyed after."""
    erased = _purge(Document.objects.filter(space=space))
    DocumentSettings.objects.filter(space=space).delete()
    CareEvent.objects.filter(person_id=space.person_id).delete()
    return erased


def settings_update(*, user, space, hide_new_documents: bool, client: str = "") -> None:
    with transaction.atomic():
        DocumentSettings.objects.update_or_create(
            space=space, defaults={"hide_new_documents": hide_new_documents}
        )
        events_record(
            [
                AuditEntry(
                    actor=user.actor,
                    action="documents_parametres",
                    space_id=space.public_id,
                    detail={"masquer_par_defaut": hide_new_documents},
                    client=client,
                )
            ]
        )


def care_event_hide(*, user, space, event: CareEvent, hidden: bool, client: str = "") -> None:
    with transaction.atomic():
        event.hidden = hidden
        event.save(update_fields=["hidden"])
        events_record(
            [
                AuditEntry(
                    actor=user.actor,
                    action="soin_masque" if hidden else "soin_affiche",
                    space_id=space.public_id,
                    object_type="soin",
                    object_id=str(event.pk),
                    client=client,
                )
            ]
        )
