"""What a verified identity from FranceConnect+ or Pro Santé Connect leads to.

Patients: the identity pivot designates exactly one insured person, or nobody logs in. Then
either the account already linked to this identity logs in; or the person's account exists and
is linked once, after its password and a code (the usual login steps); or the person has no
account yet and activates their space, the provider's identity standing in for the
provisional code. Professionals: the RPPS in the claims designates a directory entry.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction

from carnet.accounts.models import User
from carnet.accounts.services import LOGOUT_REDIRECT_KEY, activity_record
from carnet.audit.services import Entry, events_record
from carnet.core import clock
from carnet.registry.selectors import persons_matching_pivot

from .models import FederatedIdentity
from .oidc import FederationError, Identity, logout_url

PIVOT = ("family_name", "given_name", "birthdate", "gender")
FRANCE = "99100"  # INSEE's code of France among the countries
SEX = {"male": "M", "female": "F"}
LINK_KEY = "federation_link"  # a link waiting for the password and the code

NOT_FOUND = (
    "Nous n'avons pas pu vous identifier de façon certaine dans nos fichiers à partir des "
    "informations transmises par FranceConnect+. Connectez-vous avec votre identifiant, votre "
    "mot de passe et un code, ou activez votre espace avec le code provisoire reçu."
)


def _login_link_validity():
    return settings.CARNET["PENDING_LOGIN_VALIDITY"]


def pivot_person(claims: dict):
    """The one insured person the identity pivot designates; FederationError otherwise."""
    try:
        birth_date = date.fromisoformat(str(claims["birthdate"]))
        sex = SEX[str(claims["gender"]).lower()]
        country = str(claims.get("birthcountry") or FRANCE)
        place = str(claims.get("birthplace") or "") if country == FRANCE else country
        matching = persons_matching_pivot(
            family_name=str(claims["family_name"]),
            given_names=str(claims["given_name"]),
            birth_date=birth_date,
            sex=sex,
            birthplace=place,
        )
    except (KeyError, ValueError) as exc:
        raise FederationError(NOT_FOUND, reason="pivot_incomplet") from exc
    if len(matching) != 1:
        # Several persons: none of them is certain, so none logs in.
        raise FederationError(NOT_FOUND, reason="aucun" if not matching else "plusieurs")
    return matching[0]


@dataclass
class Outcome:
    """`login` (user), `link` (user: password and code first) or `activate` (person)."""

    step: str
    user: User | None = None
    person: object = None


def patient_identity_resolve(identity: Identity) -> Outcome:
    linked = (
        FederatedIdentity.objects.select_related("user")
        .filter(provider=identity.provider, subject=identity.subject)
        .first()
    )
    if linked is not None:
        user = linked.user
        if not user.is_active or user.kind != User.Kind.PATIENT:
            raise FederationError(SUSPENDED, reason="compte_inactif")
        return Outcome("login", user=user)
    person = pivot_person(identity.claims)
    account = User.objects.filter(person=person).first()
    if account is not None:
        if not account.is_active:
            raise FederationError(SUSPENDED, reason="compte_inactif")
        return Outcome("link", user=account)
    return Outcome("activate", person=person)


SUSPENDED = (
    "Ce compte est suspendu : la connexion n'est pas possible. Contactez l'assistance de "
    "l'Assurance Maladie."
)


def refusal_record(*, provider: str, reason: str, client: str) -> None:
    """A refused login through a provider, for the operators' trail: the provider and the
    reason, never the identity received."""
    events_record(
        [
            Entry(
                actor="anonyme",
                action="connexion_federee_refusee",
                detail={"moyen": provider, "motif": reason},
                client=client,
            )
        ]
    )


def identity_used(identity: Identity, user: User) -> None:
    FederatedIdentity.objects.filter(
        provider=identity.provider, subject=identity.subject, user=user
    ).update(last_used_at=clock.now())


# --- Linking an existing account, once --------------------------------------------------------


def link_pending_start(session: SessionBase, identity: Identity, user: User) -> None:
    session[LINK_KEY] = {
        "provider": identity.provider,
        "subject": identity.subject,
        "user": str(user.public_id),
        "id_token": identity.id_token,
        "at": clock.now().isoformat(),
    }


def link_pending_user(session: SessionBase) -> User | None:
    pending = session.get(LINK_KEY)
    if not pending:
        return None
    if clock.now() - datetime.fromisoformat(pending["at"]) > _login_link_validity():
        session.pop(LINK_KEY, None)
        return None
    return User.objects.filter(public_id=pending["user"], is_active=True).first()


def link_pending_complete(session: SessionBase, user: User, *, client: str = "") -> dict | None:
    """After the password and the code (the login of `user`): make the waiting link, if it was
    for this very account. Returns the link made (provider, id_token), or None."""
    pending = session.pop(LINK_KEY, None)
    if not pending or pending["user"] != str(user.public_id):
        return None
    if clock.now() - datetime.fromisoformat(pending["at"]) > _login_link_validity():
        return None
    now = clock.now()
    try:
        with transaction.atomic():
            FederatedIdentity.objects.filter(provider=pending["provider"], user=user).delete()
            FederatedIdentity.objects.create(
                user=user,
                provider=pending["provider"],
                subject=pending["subject"],
                created_at=now,
                last_used_at=now,
            )
            activity_record(user, "identite_federee_liee", client=client, moyen=pending["provider"])
    except IntegrityError:  # this identity was linked to another account meanwhile
        return None
    return pending


def logout_remember(request, provider: str, id_token: str, *, login_url: str) -> None:
    """This session came from the provider: the logout will end the provider's session too,
    when the provider offers it (RP-initiated logout), and come back to our login page."""
    url = logout_url(
        provider, id_token=id_token, post_logout_redirect_uri=request.build_absolute_uri(login_url)
    )
    if url:
        request.session[LOGOUT_REDIRECT_KEY] = url


# --- Professionals --------------------------------------------------------------------------


UNKNOWN_RPPS = (
    "Votre numéro RPPS ne figure pas dans l'annuaire des professionnels de santé de Carnet : "
    "l'accès n'est pas possible. Si vous pensez qu'il s'agit d'une erreur, contactez "
    "l'assistance."
)


def rpps_of(claims: dict, claim: str) -> str:
    """The RPPS from Pro Santé Connect's national identifier: "8" followed by the 11 digits."""
    national = str(claims.get(claim) or "")
    if len(national) == 12 and national.startswith("8") and national[1:].isdigit():
        return national[1:]
    raise FederationError(UNKNOWN_RPPS, reason="rpps_absent")


def professional_identity_resolve(identity: Identity, *, rpps_claim: str, client: str) -> User:
    """The account of the directory professional the RPPS designates (made at the first
    login when the professional has none: Pro Santé Connect is their identity)."""
    from carnet.professionals.services import professional_account_for_federation

    rpps = rpps_of(identity.claims, rpps_claim)
    try:
        user = professional_account_for_federation(rpps=rpps, client=client)
        if user is None:
            raise FederationError(UNKNOWN_RPPS, reason="rpps_inconnu")
        if not user.is_active:
            raise FederationError(SUSPENDED, reason="compte_inactif")
        with transaction.atomic():
            FederatedIdentity.objects.get_or_create(
                provider=identity.provider,
                user=user,
                defaults={"subject": identity.subject, "created_at": clock.now()},
            )
    except IntegrityError as exc:  # this identity is another account's: no guess, no login
        raise FederationError(UNKNOWN_RPPS, reason="identite_deja_liee") from exc
    return user
