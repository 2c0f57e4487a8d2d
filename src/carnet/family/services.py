"""Use cases of linked profiles: a legal representative attaches a minor's space and acts for
it (the profile switcher). Every change is audited with the representative as the actor, in
the child's trail."""

from django.conf import settings
from django.db import transaction

from carnet.audit.services import Entry, events_record
from carnet.core import clock
from carnet.enrollment import services as enrollment

from .models import Invitation, Link

ACTING_KEY = "carnet_acting_profile"  # the session's selected linked profile (a space id)


class FamilyError(Exception):
    """A refusal, its message in French for the person."""


def _audit(user, space, action: str, link, *, client: str = "", **detail) -> None:
    events_record(
        [
            Entry(
                actor=user.actor,
                action=action,
                space_id=space.public_id,
                object_type=link.__class__.__name__.lower(),
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


# --- The second legal representative ---------------------------------------------------------


def _representatives(space) -> int:
    """Open legal representatives' links, and invitations still waiting for an answer."""
    now = clock.now()
    links = Link.objects.filter(
        space=space, kind=Link.Kind.LEGAL_REPRESENTATIVE, ended_at__isnull=True
    ).count()
    waiting = Invitation.objects.filter(
        space=space, answered_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=now
    ).count()
    return links + waiting


def invitation_validity_days() -> int:
    return settings.CARNET["FAMILY_INVITATION_VALIDITY"].days


def _limit_message() -> str:
    most = settings.CARNET["FAMILY_MAX_LEGAL_REPRESENTATIVES"]
    return f"Un enfant a au plus {most} représentants légaux dans son espace santé."


def representative_invite(*, user, link: Link, nir: str, client: str = "") -> Invitation:
    """The managing representative (`link`, theirs) invites another account, found by its
    holder's social security number, to share the management of the minor's space. The
    invitee must have an active account; told by a notice without health content."""
    from carnet.accounts.models import User
    from carnet.accounts.services import notify

    if link.user_id != user.pk or link.kind != Link.Kind.LEGAL_REPRESENTATIVE or link.ended_at:
        raise FamilyError("Seul un représentant légal de l'enfant peut inviter.")
    space = link.space
    if not enrollment.is_minor(space.person):
        raise FamilyError("Cette personne est majeure : elle gère elle-même son espace santé.")
    invitee = (
        User.objects.filter(person__nir=nir, kind=User.Kind.PATIENT, is_active=True)
        .select_related("person")
        .first()
    )
    if invitee is None:
        raise FamilyError(
            "Cette personne n'a pas de compte actif : elle doit d'abord activer son propre "
            "espace santé."
        )
    if invitee.pk == user.pk or invitee.person_id == space.person_id:
        raise FamilyError("Indiquez le numéro de sécurité sociale de l'autre représentant légal.")
    now = clock.now()
    with transaction.atomic():
        if Link.objects.filter(space=space, user=invitee, ended_at__isnull=True).exists():
            raise FamilyError("Cette personne gère déjà ce profil.")
        if Invitation.objects.filter(
            space=space,
            invitee=invitee,
            answered_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=now,
        ).exists():
            raise FamilyError("Une invitation attend déjà la réponse de cette personne.")
        if _representatives(space) >= settings.CARNET["FAMILY_MAX_LEGAL_REPRESENTATIVES"]:
            raise FamilyError(_limit_message())
        invitation = Invitation.objects.create(
            space=space,
            invited_by=user,
            invitee=invitee,
            created_at=now,
            expires_at=now + settings.CARNET["FAMILY_INVITATION_VALIDITY"],
        )
        _audit(user, space, "invitation_envoyee", invitation, client=client)
        notify(
            invitee,
            "invitation_representant",
            kind="invitation_representant",
            url=settings.SERVICE_URL,
            expires_at=invitation.expires_at,
            sms_text=(
                "Carnet : une invitation à gérer l'espace santé d'un enfant vous attend. "
                "Connectez-vous pour répondre."
            ),
        )
    return invitation


def invitations_waiting(user) -> list[Invitation]:
    """The invitations the account may still answer."""
    return list(
        Invitation.objects.filter(
            invitee=user,
            answered_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=clock.now(),
        )
        .select_related("space__person", "invited_by__person")
        .order_by("created_at")
    )


def invitation_answer(*, user, public_id, accept: bool, client: str = "") -> Link | None:
    """The invitee accepts (a legal representative's link is created) or refuses. Someone
    else's invitation is unknown (FamilyError, as a missing one)."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("space__person")
            .filter(public_id=public_id, invitee=user)
            .first()
        )
        if invitation is None or invitation.cancelled_at is not None:
            raise FamilyError("Cette invitation n'existe pas ou a été annulée.")
        if invitation.answered_at is not None:
            raise FamilyError("Vous avez déjà répondu à cette invitation.")
        now = clock.now()
        if invitation.expires_at <= now:
            raise FamilyError(
                f"Cette invitation a expiré le {clock.localdate_fr(invitation.expires_at)} : "
                "demandez au représentant légal de vous inviter de nouveau."
            )
        space = invitation.space
        link = None
        if accept and not enrollment.is_minor(space.person):  # of age since the invitation
            raise FamilyError("Cette personne est devenue majeure : l'invitation n'a plus d'objet.")
        inviter_manages = Link.objects.filter(
            space=space,
            user_id=invitation.invited_by_id,
            kind=Link.Kind.LEGAL_REPRESENTATIVE,
            ended_at__isnull=True,
        ).exists()
        if accept and not inviter_manages:
            raise FamilyError(
                "La personne qui vous a invité ne gère plus ce profil : l'invitation n'a plus "
                "d'objet."
            )
        if accept:
            links = Link.objects.filter(
                space=space, kind=Link.Kind.LEGAL_REPRESENTATIVE, ended_at__isnull=True
            )
            if links.count() >= settings.CARNET["FAMILY_MAX_LEGAL_REPRESENTATIVES"]:
                raise FamilyError(_limit_message())
            link = Link.objects.create(
                space=space, user=user, kind=Link.Kind.LEGAL_REPRESENTATIVE, started_at=now
            )
        Invitation.objects.filter(pk=invitation.pk).update(answered_at=now, accepted=accept)
        action = "invitation_acceptee" if accept else "invitation_refusee"
        _audit(user, space, action, invitation, client=client)
        if link is not None:
            _audit(user, space, "profil_rattache", link, client=client, lien=link.kind)
    return link


def link_leave(*, user, link: Link, confirmed: bool, client: str = "") -> Link:
    """A representative or caregiver ends their own link (confirmed first). Ending someone
    else's is the operator's."""
    if link.user_id != user.pk:
        raise FamilyError("Vous ne pouvez retirer que votre propre rattachement.")
    if not confirmed:
        raise FamilyError("Confirmez que vous ne gérerez plus ce profil.")
    now = clock.now()
    with transaction.atomic():
        ended = Link.objects.filter(pk=link.pk, ended_at__isnull=True).update(
            ended_at=now, ended_reason="retrait"
        )
        if ended:
            _audit(user, link.space, "lien_termine", link, client=client, motif="retrait")
    link.ended_at = now
    return link


# --- Caregivers (proches aidants) -------------------------------------------------------------


def _caregiver_limits():
    return (
        settings.CARNET["FAMILY_MAX_CAREGIVERS"],
        settings.CARNET["FAMILY_MAX_FOLLOWED"],
    )


def caregiver_add(*, user, space, nir: str, client: str = "") -> Link:
    """The holder gives a caregiver (an active account, found by its holder's social security
    number) access to their space: profile, documents, messaging, agenda; never the sharing
    settings, the account or the space's closure. At most FAMILY_MAX_CAREGIVERS per holder,
    FAMILY_MAX_FOLLOWED persons per caregiver."""
    from carnet.accounts.models import User
    from carnet.accounts.services import notify

    if user.person_id is None or space.person_id != user.person_id:
        raise FamilyError("Seul le titulaire de l'espace peut choisir ses aidants.")
    caregiver = User.objects.filter(person__nir=nir, kind=User.Kind.PATIENT, is_active=True).first()
    if caregiver is None:
        raise FamilyError(
            "Cette personne n'a pas de compte actif : elle doit d'abord activer son propre "
            "espace santé."
        )
    if caregiver.pk == user.pk:
        raise FamilyError("Indiquez le numéro de sécurité sociale de votre aidant.")
    most_caregivers, most_followed = _caregiver_limits()
    with transaction.atomic():
        if Link.objects.filter(space=space, user=caregiver, ended_at__isnull=True).exists():
            raise FamilyError("Cette personne a déjà accès à votre espace.")
        open_caregivers = Link.objects.filter(
            space=space, kind=Link.Kind.CAREGIVER, ended_at__isnull=True
        )
        if open_caregivers.count() >= most_caregivers:
            raise FamilyError(f"Vous avez déjà {most_caregivers} aidants : c'est le maximum.")
        followed = Link.objects.filter(
            user=caregiver, kind=Link.Kind.CAREGIVER, ended_at__isnull=True
        )
        if followed.count() >= most_followed:
            raise FamilyError(
                f"Cette personne est déjà l'aidant de {most_followed} personnes : c'est le maximum."
            )
        link = Link.objects.create(
            space=space, user=caregiver, kind=Link.Kind.CAREGIVER, started_at=clock.now()
        )
        _audit(user, space, "aidant_ajoute", link, client=client)
        notify(
            caregiver,
            "aidant_ajoute",
            kind="aidant_ajoute",
            url=settings.SERVICE_URL,
            sms_text=(
                "Carnet : une personne vous a choisi comme aidant. Connectez-vous pour accéder "
                "à son espace santé."
            ),
        )
    return link


def caregiver_revoke(*, user, space, public_id, client: str = "") -> Link:
    """The holder ends a caregiver's access: effective at the caregiver's next request."""
    if user.person_id is None or space.person_id != user.person_id:
        raise FamilyError("Seul le titulaire de l'espace peut retirer un aidant.")
    with transaction.atomic():
        link = Link.objects.filter(
            public_id=public_id, space=space, kind=Link.Kind.CAREGIVER, ended_at__isnull=True
        ).first()
        if link is None:
            raise FamilyError("Cet aidant n'a plus accès à votre espace.")
        Link.objects.filter(pk=link.pk).update(ended_at=clock.now(), ended_reason="revocation")
        _audit(user, space, "aidant_retire", link, client=client)
    return link


def caregiver_certificate_pdf(*, user, space, public_id) -> bytes:
    """The attestation of a delegation to a caregiver, for the holder to print or send."""
    from carnet.enrollment.letters import attestation_pdf

    link = (
        Link.objects.filter(public_id=public_id, space=space, kind=Link.Kind.CAREGIVER)
        .select_related("user__person", "space__person")
        .first()
    )
    if link is None or user.person_id != space.person_id:
        raise FamilyError("Attestation introuvable.")
    holder, caregiver = space.person, link.user.person
    lines = [
        f"Titulaire de l'espace : {holder.first_name} {holder.last_name}, "
        f"né(e) le {holder.birth_date:%d/%m/%Y}",
        f"Aidant : {caregiver.first_name} {caregiver.last_name}, "
        f"né(e) le {caregiver.birth_date:%d/%m/%Y}",
        f"Accès donné le {clock.localtime_fr(link.started_at)}"
        + (f", retiré le {clock.localtime_fr(link.ended_at)}." if link.ended_at else "."),
        "L'aidant peut consulter, ajouter, modifier et supprimer les informations du profil "
        "médical et les documents, utiliser la messagerie et l'agenda. Il ne peut pas gérer "
        "les accès des professionnels, modifier les coordonnées, l'identifiant ou le mot de "
        "passe, ni fermer l'espace ou demander sa suppression.",
        "Le titulaire peut retirer cet accès à tout moment depuis son espace.",
        f"Référence : {link.public_id}",
    ]
    return attestation_pdf("Attestation de délégation à un proche aidant", lines)


def link_end_by_operator(*, operator, holder_nir: str, account_nir: str, reason: str = "") -> Link:
    """The operator ends the open link of an account (found by its holder's NIR) to a space
    (found by its holder's NIR): what a representative cannot do to the other one. Audited in
    the space's trail, by the operator."""
    from carnet.accounts.models import User

    if operator.kind != User.Kind.OPERATOR or not operator.is_active:
        raise FamilyError("Seul un opérateur actif peut retirer le rattachement d'un autre.")
    with transaction.atomic():
        link = (
            Link.objects.select_for_update()
            .select_related("space")
            .filter(
                space__person__nir=holder_nir,
                user__person__nir=account_nir,
                ended_at__isnull=True,
            )
            .first()
        )
        if link is None:
            raise FamilyError("Aucun rattachement en cours entre ces deux personnes.")
        Link.objects.filter(pk=link.pk).update(ended_at=clock.now(), ended_reason="operateur")
        events_record(
            [
                Entry(
                    actor=operator.actor,
                    action="lien_termine",
                    space_id=link.space.public_id,
                    object_type="link",
                    object_id=str(link.public_id),
                    detail={"motif": "operateur", **({"note": reason[:200]} if reason else {})},
                )
            ]
        )
    return link
