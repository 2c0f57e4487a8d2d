"""Writing the profile: one function per use case, audited, in one transaction."""

from django.db import transaction

from carnet.accounts.models import account_of
from carnet.audit.services import Entry as AuditEntry
from carnet.audit.services import events_record
from carnet.core import clock


def _audit(actor, space, action: str, obj) -> None:
    events_record(
        [
            AuditEntry(
                actor=actor.actor,
                action=action,
                space_id=space.public_id,
                object_type=obj.__class__.__name__.lower(),
                object_id=str(obj.public_id),
            )
        ]
    )


def entry_create(*, actor, space, model, values: dict):
    now = clock.now()
    with transaction.atomic():
        obj = model.objects.create(
            space=space, author=account_of(actor), created_at=now, updated_at=now, **values
        )
        _audit(actor, space, "profil_ajout", obj)
    return obj


def entry_update(*, actor, space, obj, values: dict):
    if obj.space_id != space.pk:
        raise PermissionError("entry of another space")
    with transaction.atomic():
        for name, value in values.items():
            setattr(obj, name, value)
        obj.updated_at = clock.now()
        obj.save()
        _audit(actor, space, "profil_modification", obj)
    return obj


def entry_delete(*, actor, space, obj) -> None:
    if obj.space_id != space.pk:
        raise PermissionError("entry of another space")
    with transaction.atomic():
        obj.deleted_at = clock.now()
        obj.save(update_fields=["deleted_at"])
        _audit(actor, space, "profil_suppression", obj)


def space_profile_erase(*, space, **_) -> int:
    """The space's purge: every profile row goes (health content in clear in the database)."""
    from .sections import SECTIONS

    erased = 0
    for model in {section.model for section in SECTIONS.values()}:
        erased += model.objects.filter(space=space).delete()[0]
    return erased


def synthesis_save(*, user, space, client: str = ""):
    """ "Enregistrer ma synthèse dans mes documents": today's PDF becomes a document of the
    category "Synthèse médicale", through the documents' own checks and service."""
    from django.utils import timezone

    from carnet.documents.files import file_check
    from carnet.documents.models import Category
    from carnet.documents.services import document_add

    from .pdf import synthesis_filename, synthesis_pdf

    checked = file_check(synthesis_filename(space), synthesis_pdf(space))
    today = timezone.localdate(clock.now())
    return document_add(
        user=user,
        space=space,
        checked=checked,
        title=f"Synthèse médicale du {today:%d/%m/%Y}",
        category=Category.SYNTH_PML,
        document_date=today,
        client=client,
    )
