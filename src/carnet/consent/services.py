"""Changing and using what the patient decided, each in one transaction with its audit event.

`access()` is how a caller uses `rules.decide`: it audits what is allowed and raises `Denied`
(shown as the same 404 as a missing object) for the rest.
"""

from django.conf import settings
from django.db import transaction

from carnet.audit.services import Entry, events_record
from carnet.core import clock

from .models import (
    EMERGENCY_REASON_MAX,
    EMERGENCY_REASON_MIN,
    Action,
    Authorisation,
    Block,
    EmergencyAccess,
    TreatingDoctor,
)
from .rules import Decision, decide, professional_facts


class Denied(Exception):
    """The access was refused; the reason stays in the server, the person sees a 404."""

    def __init__(self, decision: Decision):
        super().__init__(decision.reason)
        self.decision = decision


def _audit(actor: str, space, action: str, *, object_type="", object_id="", client="", **detail):
    events_record(
        [
            Entry(
                actor=actor,
                action=action,
                space_id=space.public_id,
                object_type=object_type,
                object_id=object_id,
                detail=detail,
                client=client,
            )
        ]
    )


def access(
    actor, space, action: str, obj=None, *, client: str = "", facts=None, record: bool = True
) -> Decision:
    """Decide, and write the allowed access of anyone but the owner to the trail. With
    `record=False` the caller writes it with `access_record` once the object exists (an added
    document), so that the event names it."""
    decision = decide(actor, space, action, obj, facts=facts)
    if not decision.allowed:
        raise Denied(decision)
    if record:
        access_record(actor, space, action, decision, obj, client=client)
    return decision


def access_record(actor, space, action: str, decision: Decision, obj=None, *, client=""):
    if decision.reason == "titulaire":
        return
    document = obj if action in (Action.DOCUMENT_READ, Action.DOCUMENT_ADD) else None
    _audit(
        actor.actor,
        space,
        f"acces_{action}",
        object_type="document" if document is not None else "",
        object_id=str(document.public_id) if document is not None else "",
        client=client,
        motif=decision.reason,
    )


def consent_attest(*, user, professional, space, client: str = "") -> Authorisation:
    """ "J'atteste avoir recueilli le consentement du patient": recorded, and the patient told."""
    from carnet.accounts.models import User
    from carnet.accounts.services import notify

    if space.state != space.State.ACTIVE:
        raise Denied(Decision(False, "espace_inactif"))
    facts = professional_facts(space, professional)
    if facts.blocked:
        raise Denied(Decision(False, "bloque"))
    with transaction.atomic():
        authorisation, created = Authorisation.objects.get_or_create(
            space=space, professional=professional, defaults={"attested_at": clock.now()}
        )
        if created:
            _audit(user.actor, space, "consentement_atteste", client=client)
            owner = User.objects.filter(person_id=space.person_id, is_active=True).first()
            if owner is not None:
                notify(
                    owner,
                    "nouveau_professionnel",
                    kind="nouveau_professionnel",
                    url=settings.SERVICE_URL,
                    sms_text="Carnet : un nouveau professionnel de santé a accédé à votre "
                    "dossier. Détails dans votre espace.",
                )
    return authorisation


def _sharing_manager_only(user, space) -> None:
    """Who accesses a space is decided by its holder or their legal representative or
    guardian, never by a caregiver (issue 9): refused here, whatever the page did."""
    from django.core.exceptions import PermissionDenied

    from carnet.family.selectors import manages_sharing

    if not manages_sharing(user, space):
        raise PermissionDenied("Un aidant ne gère pas les accès à l'espace.")


def block_set(*, user, space, professional, blocked: bool, client: str = "") -> None:
    """Block or unblock; the médecin traitant cannot be blocked (change it instead)."""
    _sharing_manager_only(user, space)
    if blocked and TreatingDoctor.objects.filter(space=space, professional=professional).exists():
        raise ValueError(
            "Votre médecin traitant ne peut pas être bloqué : désignez d'abord un autre médecin "
            "traitant."
        )
    with transaction.atomic():
        if blocked:
            Block.objects.get_or_create(
                space=space, professional=professional, defaults={"blocked_at": clock.now()}
            )
        else:
            Block.objects.filter(space=space, professional=professional).delete()
        _audit(
            user.actor,
            space,
            "professionnel_bloque" if blocked else "professionnel_debloque",
            object_type="professionnel",
            object_id=str(professional.public_id),
            client=client,
        )


def treating_doctor_set(*, user, space, professional, client: str = "") -> None:
    _sharing_manager_only(user, space)
    if professional.profession != "medecin":
        raise ValueError("Le médecin traitant doit être un médecin.")
    with transaction.atomic():
        TreatingDoctor.objects.update_or_create(
            space=space, defaults={"professional": professional, "since": clock.now()}
        )
        Block.objects.filter(space=space, professional=professional).delete()
        _audit(
            user.actor,
            space,
            "medecin_traitant_designe",
            object_type="professionnel",
            object_id=str(professional.public_id),
            client=client,
        )


def administrator_set(*, user, space, professional, administrator: bool, client: str = ""):
    _sharing_manager_only(user, space)
    with transaction.atomic():
        updated = Authorisation.objects.filter(space=space, professional=professional).update(
            administrator=administrator
        )
        if not updated:
            raise ValueError(
                "Le rôle d'administrateur se donne à un professionnel qui a recueilli votre "
                "consentement."
            )
        _audit(
            user.actor,
            space,
            "administrateur_donne" if administrator else "administrateur_retire",
            object_type="professionnel",
            object_id=str(professional.public_id),
            client=client,
        )


def emergency_start(
    *, user, professional, space, kind: str, reason: str, client: str = ""
) -> EmergencyAccess:
    """ "Bris de glace": a stated reason, read access for EMERGENCY_ACCESS_DURATION; the patient
    and the médecin traitant are told by email every time (whatever their preferences)."""
    from carnet.accounts.models import User
    from carnet.accounts.services import notify

    reason = " ".join(reason.split())
    if len(reason) < EMERGENCY_REASON_MIN:
        raise ValueError(
            f"Indiquez le motif de l'accès en urgence ({EMERGENCY_REASON_MIN} caractères au moins)."
        )
    now = clock.now()
    duration = settings.CARNET["EMERGENCY_ACCESS_DURATION"]
    with transaction.atomic():  # the decision's event and the access stand or fall together
        access(user, space, Action.EMERGENCY, kind, client=client)
        emergency = EmergencyAccess.objects.create(
            space=space,
            professional=professional,
            kind=kind,
            reason=reason[:EMERGENCY_REASON_MAX],
            started_at=now,
            expires_at=now + duration,
        )
        _audit(user.actor, space, "acces_urgence_ouvert", client=client, type=kind)
        owner = User.objects.filter(person_id=space.person_id, is_active=True).first()
        if owner is not None:
            notify(
                owner,
                "acces_urgence",
                kind="acces_urgence",
                treating=False,
                url=settings.SERVICE_URL,
                sms_text="Carnet : un professionnel de santé a accédé en urgence à votre "
                "dossier. Détails dans votre espace.",
            )
        treating = TreatingDoctor.objects.filter(space=space).select_related("professional")
        doctor = treating.first()
        if doctor is not None and doctor.professional.user_id:
            notify(doctor.professional.user, "acces_urgence", kind="acces_urgence", treating=True)
    return emergency


def emergency_settings_update(
    *,
    user,
    space,
    samu_allowed: bool,
    emergency_allowed: bool,
    hidden_visible: bool,
    client: str = "",
):
    """The patient's three emergency switches, saved and audited (`urgence_parametres`)."""
    _sharing_manager_only(user, space)
    from .models import EmergencySettings

    values = {
        "samu_allowed": bool(samu_allowed),
        "emergency_allowed": bool(emergency_allowed),
        "hidden_visible": bool(hidden_visible),
    }
    with transaction.atomic():
        settings_row, _ = EmergencySettings.objects.update_or_create(space=space, defaults=values)
        _audit(user.actor, space, "urgence_parametres", client=client, **values)
    return settings_row
