"""Accounts: password check, one-time codes, login, sessions, and the activity trail.

A person is logged in (and the session key rotated) only after the last factor; between the
password and the code the session holds a short-lived "pending login", nothing more.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, login, update_session_auth_hash
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from carnet.audit.services import Entry, events_record
from carnet.core import clock, crypto, ratelimit
from carnet.core.validators import mask_email, mask_mobile, parse_identifier
from carnet.notifications.services import messages_queue, render_email, sms
from carnet.registry.models import InsuredPerson

from .models import NotificationPreference, OneTimeCode, SessionRecord, User
from .passwords import password_validate

OTP_PURPOSE = "one-time-code"
PENDING_KEY = "pending_login"


def _limits():
    return settings.CARNET


class LoginBlocked(Exception):
    def __init__(self, minutes: int):
        super().__init__(minutes)
        self.minutes = minutes


class CodeError(Exception):
    """A one-time code was refused; `message` is French and shown next to the field."""

    def __init__(self, message: str, *, need_new: bool = False):
        super().__init__(message)
        self.message, self.need_new = message, need_new


class TooManyCodes(Exception):
    def __init__(self, minutes: int):
        super().__init__(minutes)
        self.message = (
            "Vous avez demandé trop de codes. Par sécurité, patientez "
            f"{minutes} minutes avant d'en demander un nouveau."
        )


# --- Activity trail -------------------------------------------------------------------------


def space_id_of(user: User):
    """The public id of the user's own space, for their activity history (None if none)."""
    if user is None or user.person_id is None:
        return None
    from carnet.enrollment.selectors import own_space  # enrollment depends on accounts

    space = own_space(user)
    return space.public_id if space else None


def activity_record(user: User | None, action: str, *, client: str = "", **detail) -> None:
    """Write an event to the person's trail ("Mes activités"): ids and facts, never content."""
    events_record(
        [
            Entry(
                actor=user.actor if user else "anonyme",
                action=action,
                space_id=space_id_of(user),
                object_type="user" if user else "",
                object_id=str(user.public_id) if user else "",
                detail=detail,
                client=client,
            )
        ]
    )


# --- Step 1: identifier and password --------------------------------------------------------


def _keys(identifier: str, client: str) -> dict[str, str]:
    digest = hashlib.sha256(identifier.lower().encode()).hexdigest()[:32]
    return {"identifier": f"login:id:{digest}", "client": f"login:client:{client}"}


def password_check(
    *, request, identifier: str, password: str, client: str, kind: str
) -> User | None:
    """Return the user or None; one answer whether identifier or password was wrong.

    Django's ModelBackend hashes a dummy password when the identifier is unknown, so both
    failures cost one Argon2 hash. An account of another kind is refused the same way.
    """
    limits = _limits()
    keys = _keys(identifier, client)
    lockout_minutes = int(limits["LOGIN_LOCKOUT"].total_seconds() // 60)
    if any(ratelimit.blocked_until(k) for k in keys.values()):
        raise LoginBlocked(lockout_minutes)
    user = authenticate(request, identifier=identifier, password=password)
    if user is not None and user.kind == kind:
        ratelimit.reset(keys["identifier"])
        return user
    known = user or User.objects.filter(identifier=identifier).first()
    locked = False
    for name, key in keys.items():
        locked |= ratelimit.record_failure(
            key,
            limit=limits[f"LOGIN_MAX_FAILURES_PER_{name.upper()}"],
            window=limits["LOGIN_FAILURE_WINDOW"],
            lockout=limits["LOGIN_LOCKOUT"],
        )
    activity_record(known, "connexion_echouee", client=client)
    if locked:
        activity_record(known, "connexion_bloquee", client=client)
        raise LoginBlocked(lockout_minutes)
    return None


# --- One-time codes -------------------------------------------------------------------------


@dataclass
class Channel:
    channel: str
    destination: str
    masked: str
    label: str


def verified_channels(user: User) -> list[Channel]:
    channels = []
    if user.email and user.email_verified:
        channels.append(Channel("email", user.email, mask_email(user.email), "Par e-mail"))
    if user.mobile and user.mobile_verified:
        channels.append(Channel("sms", user.mobile, mask_mobile(user.mobile), "Par SMS"))
    return channels


def _minutes(delta) -> int:
    return int(delta.total_seconds() // 60)


def otp_send(
    *, user: User, purpose: str, channel: str, destination: str | None = None
) -> OneTimeCode:
    """Send a fresh 6-digit code. At most OTP_MAX_SENDS per OTP_SEND_WINDOW per account."""
    limits = _limits()
    now = clock.now()
    if destination is None:
        match = [c for c in verified_channels(user) if c.channel == channel]
        if not match:
            raise CodeError("Ce mode de réception n'est pas disponible pour votre compte.")
        destination = match[0].destination
    recent = OneTimeCode.objects.filter(
        user=user, created_at__gt=now - limits["OTP_SEND_WINDOW"]
    ).count()
    if recent >= limits["OTP_MAX_SENDS"]:
        raise TooManyCodes(_minutes(limits["OTP_SEND_WINDOW"]))
    code = crypto.random_digits(6)
    minutes = _minutes(limits["OTP_VALIDITY"])
    # A code confirming a new address is not an access code: say so, it may reach a stranger.
    checking = purpose == OneTimeCode.Purpose.CONTACT
    if channel == OneTimeCode.Channel.EMAIL:
        draft = render_email(
            "code_verification" if checking else "code_acces",
            {"code": code, "minutes": minutes, "purpose": purpose},
            to=destination,
            kind="code_acces",
        )
    else:
        name = "de vérification" if checking else "d'accès"
        draft = sms(
            f"Carnet : votre code {name} est {code}. Il est valable {minutes} min. "
            "Ne le communiquez à personne.",
            to=destination,
            kind="code_acces",
        )
    with transaction.atomic():
        # A new code replaces the previous unused ones of the same purpose.
        OneTimeCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(
            expires_at=now
        )
        record = OneTimeCode.objects.create(
            user=user,
            purpose=purpose,
            channel=channel,
            destination=destination,
            code_hash=crypto.keyed_hash(code, purpose=OTP_PURPOSE),
            created_at=now,
            expires_at=now + limits["OTP_VALIDITY"],
        )
        messages_queue([draft])
    return record


def otp_verify(*, user: User, purpose: str, code: str, client: str = "") -> OneTimeCode:
    """Check the latest code of this purpose; 5 wrong tries burn it; single use."""
    limits = _limits()
    now = clock.now()
    with transaction.atomic():
        record = (
            OneTimeCode.objects.select_for_update()
            .filter(user=user, purpose=purpose)
            .order_by("-created_at", "-id")
            .first()
        )
        if record is None or record.used_at is not None:
            error = CodeError(
                "Ce code n'est plus valable : demandez un nouveau code.", need_new=True
            )
        elif record.attempts >= limits["OTP_MAX_ATTEMPTS"]:
            error = CodeError("Trop de codes erronés : demandez un nouveau code.", need_new=True)
        elif record.expires_at <= now:
            error = CodeError("Ce code a expiré : demandez un nouveau code.", need_new=True)
        elif not crypto.hashes_equal(
            record.code_hash, crypto.keyed_hash(code.strip(), purpose=OTP_PURPOSE)
        ):
            record.attempts += 1
            record.save(update_fields=["attempts"])
            left = limits["OTP_MAX_ATTEMPTS"] - record.attempts
            error = CodeError(
                f"Code incorrect. Il vous reste {left} essai(s)."
                if left
                else "Code incorrect. Trop de codes erronés : demandez un nouveau code.",
                need_new=not left,
            )
        else:
            record.used_at = now
            record.save(update_fields=["used_at"])
            return record
    # Raised after the transaction so that the counted attempt is kept.
    activity_record(user, "code_refuse", client=client, usage=purpose)
    raise error


def session_key_cycle(request) -> None:
    """A new session id after a step that raises what the session may do (a share unlocked):
    for a logged-in session, its line of "Mes appareils et sessions" follows the new id, so
    that ending it there, or changing the password, still ends this session."""
    old = request.session.session_key
    request.session.cycle_key()
    if old and request.user.is_authenticated:
        SessionRecord.objects.filter(session_key=old, ended_at__isnull=True).update(
            session_key=request.session.session_key
        )


# --- Pending login (between the password and the code) -------------------------------------


def pending_login_start(session: SessionBase, user: User, *, kind: str) -> None:
    session.cycle_key()
    session[PENDING_KEY] = {
        "user": str(user.public_id),
        "kind": kind,
        "at": clock.now().isoformat(),
    }


def pending_login_user(session: SessionBase, *, kind: str) -> User | None:
    pending = session.get(PENDING_KEY)
    if not pending or pending.get("kind") != kind:
        return None
    started = datetime.fromisoformat(pending["at"])
    if clock.now() - started > _limits()["PENDING_LOGIN_VALIDITY"]:
        session.pop(PENDING_KEY, None)
        return None
    return User.objects.filter(public_id=pending["user"], is_active=True, kind=kind).first()


def login_complete(*, request, user: User, client: str, method: str = "") -> bool:
    """Log the user in after the last factor (or a passkey, or an identity provider: the same
    session rules for all); returns True on the first login ever. `method` names a login that
    is not password and code, for the person's trail."""
    first = user.last_login is None
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # rotates the key
    now = clock.now()
    request.session["auth_at"] = now.isoformat()
    request.session.save()
    SessionRecord.objects.create(
        user=user,
        session_key=request.session.session_key,
        created_at=now,
        last_seen_at=now,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:200],
        client=client,
    )
    if method:
        activity_record(user, "connexion", client=client, moyen=method)
    else:
        activity_record(user, "connexion", client=client)
    return first


# --- Sessions -------------------------------------------------------------------------------


def _session_store():
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")


def sessions_end(*, user: User, except_key: str | None = None, reason: str, client: str = ""):
    """End every session of the account (but `except_key`), server-side, at once."""
    store = _session_store()
    records = SessionRecord.objects.filter(user=user, ended_at__isnull=True)
    if except_key:
        records = records.exclude(session_key=except_key)
    ended = 0
    for record in records:
        store(session_key=record.session_key).delete()
        ended += 1
    records.update(ended_at=clock.now())
    if ended:
        activity_record(user, "sessions_terminees", client=client, motif=reason, nombre=ended)
    return ended


def session_end(*, user: User, public_id: str, client: str = "") -> bool:
    record = SessionRecord.objects.filter(
        user=user, public_id=public_id, ended_at__isnull=True
    ).first()
    if record is None:
        return False
    _session_store()(session_key=record.session_key).delete()
    SessionRecord.objects.filter(pk=record.pk).update(ended_at=clock.now())
    activity_record(user, "session_terminee", client=client)
    return True


# Set by a login through an identity provider: where the logout goes next, to end the
# provider's session too (carnet.federation). A URL built by the server, never from a request.
LOGOUT_REDIRECT_KEY = "logout_redirect"


def logout_record(*, request, client: str) -> None:
    user = request.user
    key = request.session.session_key
    if key:
        SessionRecord.objects.filter(session_key=key).update(ended_at=clock.now())
    if user.is_authenticated:
        activity_record(user, "deconnexion", client=client)


def notify(user: User, template: str, *, kind: str, sms_text: str = "", **context) -> None:
    """A notice to the account's verified email (e.g. "votre mot de passe a changé"); with
    `sms_text`, by SMS to the verified mobile when there is no verified email."""
    if user.email and user.email_verified:
        messages_queue(
            [render_email(template, {"user": user, **context}, to=user.email, kind=kind)]
        )
    elif sms_text and user.mobile and user.mobile_verified:
        messages_queue([sms(sms_text, to=user.mobile, kind=kind)])


def notify_preferred(
    user: User, template: str, *, topic: str, kind: str, sms_text: str, **context
) -> None:
    """A notice about `topic` ("new_document", "new_message", "appointment", "prevention") by
    the channels the person chose in their preferences (email by default), each only once
    verified. All channels turned off: nothing is sent. A chosen channel that is not verified
    falls back to the other verified one, as `notify`: the person asked to be told."""
    try:
        preferences = user.preferences  # no query when loaded with the user (select_related)
    except NotificationPreference.DoesNotExist:
        preferences = NotificationPreference(user=user)  # the defaults
    by_email = getattr(preferences, f"{topic}_email")
    by_sms = getattr(preferences, f"{topic}_sms")
    if not (by_email or by_sms):
        return
    email_ok = bool(user.email and user.email_verified)
    sms_ok = bool(user.mobile and user.mobile_verified)
    queued = []
    if by_email and email_ok:
        queued.append(render_email(template, {"user": user, **context}, to=user.email, kind=kind))
    if by_sms and sms_ok:
        queued.append(sms(sms_text, to=user.mobile, kind=kind))
    if not queued:
        notify(user, template, kind=kind, sms_text=sms_text, **context)
        return
    messages_queue(queued)


# --- Recovery: "Identifiant oublié ?" and "Mot de passe oublié ?" ---------------------------


class RecoveryLocked(Exception):
    """Too many failed or repeated recovery requests; the message is French."""

    def __init__(self, until: datetime):
        super().__init__(until)
        self.until = until
        self.message = (
            f"Trop de tentatives. Par sécurité, réessayez après {clock.localtime_fr(until)}."
        )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _recovery_failure(keys: dict[str, str]) -> None:
    limits = _limits()
    for name, key in keys.items():
        ratelimit.record_failure(
            key,
            limit=limits[f"RECOVERY_MAX_FAILURES_PER_{name.upper()}"],
            window=limits["RECOVERY_FAILURE_WINDOW"],
            lockout=limits["RECOVERY_LOCKOUT"],
        )


def _raise_if_locked(*keys: str) -> None:
    for key in keys:
        until = ratelimit.blocked_until(key)
        if until:
            raise RecoveryLocked(until)


def identifier_remind(
    *, nir: str, birth_date: date, vitale_photo: bool, vitale_serial: str, client: str
) -> None:
    """Send the identifier to the account's verified email (SMS if it has none), silently.

    The caller answers the same way whatever happens; only a lockout is said, and it depends on
    the failures counted for this NIR and this client, not on whether the person exists.
    """
    keys = {"nir": f"recovery:nir:{_digest(nir)}", "client": f"recovery:client:{client}"}
    _raise_if_locked(*keys.values())
    person = InsuredPerson.objects.filter(nir=nir).first()
    if (
        person is None
        or person.birth_date != birth_date
        or person.vitale_photo != vitale_photo
        or not crypto.hashes_equal(person.vitale_serial, vitale_serial)
    ):
        _recovery_failure(keys)
        _raise_if_locked(*keys.values())  # the failure that reaches the limit says so at once
        return
    ratelimit.reset(keys["nir"])
    user = User.objects.filter(person=person, is_active=True).first()
    if user is None:
        return
    # Whoever knows these four facts must not flood the person's mailbox.
    sent_key = f"recovery:identifier-sent:{user.public_id}"
    if ratelimit.blocked_until(sent_key):
        return
    day = timedelta(days=1)
    ratelimit.record_failure(
        sent_key, limit=_limits()["IDENTIFIER_REMINDER_MAX_PER_DAY"], window=day, lockout=day
    )
    if user.email and user.email_verified:
        channel = OneTimeCode.Channel.EMAIL
        draft = render_email(
            "identifiant_rappel",
            {"user": user, "url": settings.SERVICE_URL},
            to=user.email,
            kind="rappel_identifiant",
        )
    elif user.mobile and user.mobile_verified:
        channel = OneTimeCode.Channel.SMS
        draft = sms(
            f"Carnet : votre identifiant est {user.identifier}",
            to=user.mobile,
            kind="rappel_identifiant",
        )
    else:
        return
    with transaction.atomic():
        messages_queue([draft])
        activity_record(user, "rappel_identifiant", client=client, canal=channel)


def password_reset_start(*, identifier: str, channel: str, client: str) -> User | None:
    """Send a reset code to the chosen verified channel, else to the other one.

    Returns the account the code went to, or None, which the caller does not reveal: no such
    account, no verified channel, or too many codes lately all look the same from outside.
    """
    limits = _limits()
    key = f"recovery:reset-client:{client}"
    _raise_if_locked(key)
    ratelimit.record_failure(  # every request counts: this form must not become an oracle
        key,
        limit=limits["PASSWORD_RESET_MAX_PER_CLIENT"],
        window=limits["RECOVERY_FAILURE_WINDOW"],
        lockout=limits["RECOVERY_LOCKOUT"],
    )
    user = User.objects.filter(identifier=identifier.strip().lower(), is_active=True).first()
    if user is None or not user.has_usable_password():
        # No password to reset: an account made by Pro Santé Connect logs in only that way.
        return None
    available = [c.channel for c in verified_channels(user)]
    if not available:
        return None
    chosen = channel if channel in available else available[0]
    try:
        otp_send(user=user, purpose=OneTimeCode.Purpose.RESET, channel=chosen)
    except TooManyCodes:
        return None
    activity_record(user, "reinitialisation_demandee", client=client, canal=chosen)
    return user


def password_reset_complete(*, user: User, code_id: int, password: str, client: str) -> None:
    """Set the new password after a verified reset code; end every session; notify.

    `code_id` is the reset code the person confirmed: it must be this account's latest one,
    used within PASSWORD_RESET_VALIDITY. Raises ValidationError keyed by field.
    """
    limits = _limits()
    latest = (
        OneTimeCode.objects.filter(user=user, purpose=OneTimeCode.Purpose.RESET)
        .order_by("-created_at", "-id")
        .first()
    )
    if (
        latest is None
        or latest.pk != code_id
        or latest.used_at is None
        or clock.now() - latest.used_at > limits["PASSWORD_RESET_VALIDITY"]
        or not user.is_active
    ):
        raise ValidationError(
            "Votre demande a expiré : recommencez la réinitialisation.", code="expired"
        )
    _password_policy(user, password, field="password")
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        # A reset code is single use: a second completion with the same proof is refused.
        OneTimeCode.objects.filter(pk=code_id).update(expires_at=clock.now())
        sessions_end(user=user, reason="reinitialisation du mot de passe", client=client)
        ratelimit.reset(_keys(user.identifier, client)["identifier"])
        activity_record(user, "mot_de_passe_reinitialise", client=client)
        _password_notice(user)


# --- Settings: password, identifier, contact details, preferences ---------------------------


class PasswordCheckBlocked(Exception):
    def __init__(self, minutes: int):
        super().__init__(minutes)
        self.message = (
            f"Trop de mots de passe erronés. Par sécurité, réessayez dans {minutes} minutes."
        )


def _password_policy(user: User, password: str, *, field: str) -> None:
    try:
        password_validate(password, identifier=user.identifier, person=user.person)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc


def _password_notice(user: User) -> None:
    notify(
        user,
        "mot_de_passe_modifie",
        kind="mot_de_passe_modifie",
        sms_text="Carnet : le mot de passe de votre compte a été modifié. Si vous n'êtes pas "
        "à l'origine de ce changement, contactez l'assistance.",
        url=settings.SERVICE_URL,
    )


def current_password_check(*, user: User, password: str, client: str) -> bool:
    """Check the logged-in person's password; wrong ones are counted and locked out."""
    limits = _limits()
    key = f"password-check:{user.public_id}"
    if ratelimit.blocked_until(key):
        raise PasswordCheckBlocked(_minutes(limits["LOGIN_LOCKOUT"]))
    if user.check_password(password):
        ratelimit.reset(key)
        return True
    locked = ratelimit.record_failure(
        key,
        limit=limits["REAUTH_MAX_FAILURES"],
        window=limits["LOGIN_FAILURE_WINDOW"],
        lockout=limits["LOGIN_LOCKOUT"],
    )
    activity_record(user, "mot_de_passe_refuse", client=client)
    if locked:
        raise PasswordCheckBlocked(_minutes(limits["LOGIN_LOCKOUT"]))
    return False


def password_change(*, request, current: str, new: str, client: str) -> None:
    """Change the password of the logged-in person; their other sessions end, this one stays.

    Raises ValidationError keyed by field (current_password, new_password) or
    PasswordCheckBlocked.
    """
    user = request.user
    if not current_password_check(user=user, password=current, client=client):
        raise ValidationError({"current_password": ["Mot de passe actuel incorrect."]})
    if new == current:
        raise ValidationError(
            {"new_password": ["Choisissez un mot de passe différent de l'actuel."]}
        )
    _password_policy(user, new, field="new_password")
    old_key = request.session.session_key
    with transaction.atomic():
        user.set_password(new)
        user.save(update_fields=["password"])
        # Keeps this session valid under the new password hash, with a new key.
        update_session_auth_hash(request, user)
        new_key = request.session.session_key
        SessionRecord.objects.filter(session_key=old_key).update(session_key=new_key)
        sessions_end(
            user=user, except_key=new_key, reason="changement de mot de passe", client=client
        )
        activity_record(user, "mot_de_passe_modifie", client=client)
        _password_notice(user)


def identifier_change(*, user: User, identifier: str, client: str) -> str:
    """Same rules as at activation; raises ValidationError({"identifier": …}) when refused."""
    nir = user.person.nir if user.person_id else ""
    try:
        identifier = parse_identifier(identifier, nir=nir)
    except ValidationError as exc:
        raise ValidationError({"identifier": exc.messages}) from exc
    if identifier == user.identifier:
        raise ValidationError({"identifier": ["C'est déjà votre identifiant."]})
    taken = ValidationError({"identifier": ["Cet identifiant est déjà pris."]})
    if User.objects.filter(identifier=identifier).exists():
        raise taken
    previous = user.identifier
    try:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(identifier=identifier)
            user.identifier = identifier
            activity_record(user, "identifiant_modifie", client=client)
            notify(
                user,
                "identifiant_modifie",
                kind="identifiant_modifie",
                sms_text="Carnet : l'identifiant de votre compte a été modifié. Si vous n'êtes "
                "pas à l'origine de ce changement, contactez l'assistance.",
            )
    except IntegrityError as exc:  # taken by a concurrent change or activation
        user.identifier = previous
        raise taken from exc
    return identifier


CONTACT_FIELDS = {
    OneTimeCode.Channel.EMAIL: ("email", "email_verified"),
    OneTimeCode.Channel.SMS: ("mobile", "mobile_verified"),
}


def contact_change_start(*, user: User, channel: str, value: str, client: str) -> OneTimeCode:
    """Send a code to the new email or mobile. Raises ValidationError, TooManyCodes."""
    field, verified = CONTACT_FIELDS[channel]
    if getattr(user, field) == value and getattr(user, verified):
        raise ValidationError(
            {
                field: [
                    "C'est déjà votre adresse e-mail."
                    if field == "email"
                    else "C'est déjà votre numéro de mobile."
                ]
            }
        )
    return otp_send(
        user=user, purpose=OneTimeCode.Purpose.CONTACT, channel=channel, destination=value
    )


def contact_change_confirm(*, user: User, code: str, client: str) -> OneTimeCode:
    """Check the code; the address it was sent to becomes the account's, verified.

    The code's own record says which address it confirms, so nothing kept in the browser's
    session can swap the address. A notice goes to the old address. Raises CodeError.
    """
    # Outside the transaction below: a refused code's counted attempt must be kept.
    record = otp_verify(user=user, purpose=OneTimeCode.Purpose.CONTACT, code=code, client=client)
    with transaction.atomic():
        field, verified = CONTACT_FIELDS[record.channel]
        old, old_verified = getattr(user, field), getattr(user, verified)
        setattr(user, field, record.destination)
        setattr(user, verified, True)
        user.save(update_fields=[field, verified])
        if record.channel == OneTimeCode.Channel.EMAIL:
            activity_record(user, "email_modifie", client=client)
            notices = []
            if old and old_verified and old != record.destination:
                notices.append(
                    render_email("email_modifie", {}, to=old, kind="coordonnees_modifiees")
                )
        else:
            activity_record(user, "mobile_modifie", client=client)
            notices = []
            if old and old_verified and old != record.destination:
                notices.append(
                    sms(
                        "Carnet : le numéro de mobile de votre compte a été modifié. Si vous "
                        "n'êtes pas à l'origine de ce changement, contactez l'assistance.",
                        to=old,
                        kind="coordonnees_modifiees",
                    )
                )
            if user.email and user.email_verified:
                notices.append(
                    render_email("mobile_modifie", {}, to=user.email, kind="coordonnees_modifiees")
                )
        messages_queue(notices)
    return record


PREFERENCE_FIELDS = [
    "new_document_email",
    "new_document_sms",
    "new_message_email",
    "new_message_sms",
    "appointment_email",
    "appointment_sms",
    "prevention_email",
    "prevention_sms",
]


def preferences_get(*, user: User) -> NotificationPreference:
    """The person's preferences, created with the defaults on first visit."""
    preferences, _ = NotificationPreference.objects.get_or_create(user=user)
    return preferences


def preferences_update(*, user: User, values: dict, client: str) -> NotificationPreference:
    with transaction.atomic():
        preferences, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
        changed = [f for f in PREFERENCE_FIELDS if getattr(preferences, f) != bool(values[f])]
        for name in changed:
            setattr(preferences, name, bool(values[name]))
        if changed:
            preferences.save(update_fields=changed)
            activity_record(user, "preferences_modifiees", client=client, champs=changed)
    return preferences


# --- Re-authentication before closing or deleting ------------------------------------------

REAUTH_PENDING_KEY = "reauth_pending"
REAUTH_AT_KEY = "reauth_at"


def reauth_start(*, session: SessionBase, user: User, password: str, channel: str, client: str):
    """First step: the password, then a fresh code to the chosen channel.

    Returns False on a wrong password; raises PasswordCheckBlocked, TooManyCodes, CodeError.
    """
    if not current_password_check(user=user, password=password, client=client):
        return False
    otp_send(user=user, purpose=OneTimeCode.Purpose.REAUTH, channel=channel)
    session[REAUTH_PENDING_KEY] = {"at": clock.now().isoformat(), "channel": channel}
    session.pop(REAUTH_AT_KEY, None)
    return True


def reauth_pending(session: SessionBase) -> str | None:
    """The channel of a re-authentication waiting for its code, if still valid."""
    pending = session.get(REAUTH_PENDING_KEY)
    if not pending:
        return None
    if clock.now() - datetime.fromisoformat(pending["at"]) > _limits()["OTP_VALIDITY"]:
        session.pop(REAUTH_PENDING_KEY, None)
        return None
    return pending["channel"]


def reauth_complete(*, session: SessionBase, user: User, code: str, client: str) -> None:
    """Second step: the code. Raises CodeError."""
    otp_verify(user=user, purpose=OneTimeCode.Purpose.REAUTH, code=code, client=client)
    session.pop(REAUTH_PENDING_KEY, None)
    session[REAUTH_AT_KEY] = clock.now().isoformat()
    activity_record(user, "identite_confirmee", client=client)


def reauth_fresh(session: SessionBase) -> bool:
    at = session.get(REAUTH_AT_KEY)
    if not at:
        return False
    return clock.now() - datetime.fromisoformat(at) <= _limits()["REAUTH_VALIDITY"]


# --- Closing, deleting, reopening one's own space -------------------------------------------


def _enrollment():
    from carnet.enrollment import services  # enrollment depends on accounts

    return services


def holder_space_close(*, user: User, space, client: str):
    """Close the holder's space and end every session of the account at once.

    Raises enrollment's TransitionError when the space cannot be closed."""
    enrollment = _enrollment()
    with transaction.atomic():
        enrollment.space_close(space=space, actor=user.actor, confirmed=True, client=client)
        sessions_end(user=user, reason="fermeture de l'espace", client=client)
    return space


def holder_deletion_request(*, user: User, space, client: str):
    """Ask for deletion: an active space is closed first (and every session ended)."""
    enrollment = _enrollment()
    with transaction.atomic():
        if space.state == space.State.ACTIVE:
            enrollment.space_close(space=space, actor=user.actor, confirmed=True, client=client)
            sessions_end(user=user, reason="demande de suppression", client=client)
        enrollment.space_request_deletion(space=space, actor=user.actor, client=client)
    return space


def holder_deletion_cancel(*, user: User, space, client: str):
    return _enrollment().space_cancel_deletion(space=space, actor=user.actor, client=client)


def holder_space_reopen(*, user: User, space, client: str):
    return _enrollment().space_reopen(space=space, actor=user.actor, client=client)


# --- Operators ------------------------------------------------------------------------------


def account_suspend(*, operator: User, user: User, reason: str = "", client: str = "") -> int:
    """Suspend an account (is_active = False) and end all its sessions at once, server-side.

    Only an active operator may, and not on their own account. Django already refuses an
    inactive account on every request; deleting the sessions makes it immediate whatever the
    session store. Audited with the operator as actor. Returns the number of sessions ended.
    """
    from django.core.exceptions import PermissionDenied

    if not operator.is_active or operator.kind != User.Kind.OPERATOR:
        raise PermissionDenied("Seul un opérateur peut suspendre un compte.")
    if operator.pk == user.pk:
        raise PermissionDenied("Un opérateur ne peut pas suspendre son propre compte.")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        ended = sessions_end(user=user, reason="compte suspendu", client=client)
        events_record(
            [
                Entry(
                    actor=operator.actor,
                    action="compte_suspendu",
                    space_id=space_id_of(user),
                    object_type="user",
                    object_id=str(user.public_id),
                    detail={"motif": reason, "sessions": ended},
                    client=client,
                )
            ]
        )
    return ended
