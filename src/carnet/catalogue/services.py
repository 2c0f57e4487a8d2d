"""Use cases of connected apps: connect, disconnect, operators' status changes, API calls."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from oauth2_provider.generators import generate_client_secret

from carnet.audit.services import Entry, events_record
from carnet.core import clock
from carnet.family.selectors import manages_sharing

from . import scopes as smart
from .models import AccessToken, App, Connection, Grant, RefreshToken

APP_ACTOR_PREFIX = "application:"


def app_actor(app: App) -> str:
    return f"{APP_ACTOR_PREFIX}{app.public_id}"


def _audit(actor: str, space, action: str, *, app: App, client: str = "", **detail):
    events_record(
        [
            Entry(
                actor=actor,
                action=action,
                space_id=space.public_id if space is not None else None,
                object_type="application",
                object_id=str(app.public_id),
                detail={"application": app.name, **detail},
                client=client,
            )
        ]
    )


def connection_grant(*, user, space, app: App, scopes: list[str], client: str = "") -> Connection:
    """The person consents: `app` may use `scopes` on `space` until the consent's end.

    Only someone who manages the profile's sharing may (the holder, a legal representative, a
    guardian; never a caregiver), only for an app offered in the catalogue, and never beyond
    what its entry allows.
    """
    if not manages_sharing(user, space):
        raise PermissionDenied("Seul le titulaire ou son représentant peut connecter un service.")
    if app.status != App.Status.ONLINE or app.is_software:
        raise ValidationError("Ce service n'est pas proposé dans le catalogue.")
    allowed = app.allowed_scopes.split()
    if not scopes or not all(smart.within(scope, allowed) for scope in scopes):
        raise ValidationError(
            "Ce service demande des données que son référencement n'autorise pas."
        )
    now = clock.now()
    until = now + settings.CARNET["CATALOGUE_CONNECTION_VALIDITY"]
    with transaction.atomic():
        connection = (
            Connection.objects.select_for_update()
            .filter(space=space, app=app, revoked_at__isnull=True)
            .first()
        )
        if connection is None:
            connection = Connection.objects.create(
                space=space,
                app=app,
                granted_by=user,
                scope=" ".join(scopes),
                granted_at=now,
                expires_at=until,
            )
        else:
            if not all(smart.within(old, scopes) for old in connection.scopes):
                _tokens_end([connection])  # narrower: no token keeps what was withdrawn
            connection.scope = " ".join(scopes)
            connection.granted_by = user
            connection.granted_at = now
            connection.expires_at = until
            connection.save(update_fields=["scope", "granted_by", "granted_at", "expires_at"])
        _audit(
            user.actor, space, "service_connecte", app=app, client=client, scope=connection.scope
        )
    return connection


def _tokens_end(connections) -> None:
    """Every grant and token issued under `connections` stops working now."""
    now = clock.now()
    Grant.objects.filter(connection__in=connections).delete()
    RefreshToken.objects.filter(connection__in=connections, revoked__isnull=True).update(
        revoked=now
    )
    AccessToken.objects.filter(connection__in=connections).delete()


def connection_revoke(*, user, connection: Connection, client: str = "") -> None:
    """« Désynchroniser »: the app loses access at once (its next call gets 401)."""
    if not manages_sharing(user, connection.space):
        raise PermissionDenied(
            "Seul le titulaire ou son représentant peut désynchroniser un service."
        )
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        if locked.revoked_at is not None:
            return
        locked.revoked_at = clock.now()
        locked.revoked_reason = "usager"
        locked.save(update_fields=["revoked_at", "revoked_reason"])
        _tokens_end([locked])
        _audit(user.actor, locked.space, "service_deconnecte", app=locked.app, client=client)


def app_status_set(*, operator, app: App, status: str, client: str = "") -> None:
    """An operator changes an entry's status. A suspended or dereferenced app loses access at
    once (its tokens are refused while it does not serve); dereferencing also ends every
    connection for good."""
    if status not in App.Status.values:
        raise ValidationError("Statut inconnu.")
    with transaction.atomic():
        app = App.objects.select_for_update().get(pk=app.pk)
        previous = app.status
        app.status = status
        app.status_changed_at = clock.now()
        app.save(update_fields=["status", "status_changed_at"])
        if status == App.Status.DEREFERENCED:
            connections = list(Connection.objects.filter(app=app, revoked_at__isnull=True))
            Connection.objects.filter(pk__in=[c.pk for c in connections]).update(
                revoked_at=clock.now(), revoked_reason="dereferencement"
            )
            _tokens_end(connections)
        _audit(
            operator.actor,
            None,
            "catalogue_statut",
            app=app,
            client=client,
            before=previous,
            after=status,
        )


def api_call_record(
    *,
    app: App,
    connection: Connection | None,
    space,
    action: str,
    client: str,
    object_type: str = "",
    object_id: str = "",
) -> None:
    """An app's call on a profile: in the profile's history (« Services connectés »)."""
    events_record(
        [
            Entry(
                actor=app_actor(app),
                action=action,
                space_id=space.public_id,
                object_type=object_type,
                object_id=object_id,
                detail={"application": app.name},
                client=client,
            )
        ]
    )
    if connection is not None:
        Connection.objects.filter(pk=connection.pk).update(last_access_at=clock.now())


def app_register(
    *,
    operator,
    name: str,
    editor: str,
    description: str,
    category: str,
    allowed_scopes: list[str],
    redirect_uris: list[str] = (),
    website: str = "",
    software_finess: str = "",
    confidential: bool = False,
    status: str = App.Status.OFFLINE,
    client: str = "",
) -> tuple[App, str]:
    """An operator references an app (or a professional's software, with its establishment's
    FINESS: client credentials). Returns the entry and its client secret, shown this once
    (kept hashed); an empty secret for a public app (PKCE, no secret)."""
    software = bool(software_finess)
    context = "system" if software else "patient"
    for scope in allowed_scopes:
        parsed = smart.parse(scope)
        if not smart.is_known(scope) or (parsed is not None and parsed.context != context):
            raise ValidationError(f"Donnée inconnue ou d'un autre contexte : {scope}")
    if software and any(scope in smart.SPECIAL for scope in allowed_scopes):
        raise ValidationError("Un logiciel de professionnel n'a que des données « system/… ».")
    if not software and not redirect_uris:
        raise ValidationError("Une application a au moins une adresse de retour.")
    secret = generate_client_secret() if (software or confidential) else ""
    # A public client (PKCE) has no secret: it keeps the hash of a random one nobody knows, so
    # that an empty secret never authenticates it where a secret is asked.
    stored_secret = secret or generate_client_secret()
    app = App(
        name=name,
        editor=editor,
        description=description,
        category=App.Category.PRO_SOFTWARE if software else category,
        website=website,
        allowed_scopes=" ".join(allowed_scopes),
        finess=software_finess,
        status=status,
        status_changed_at=clock.now(),
        client_type=App.CLIENT_CONFIDENTIAL if secret else App.CLIENT_PUBLIC,
        authorization_grant_type=(
            App.GRANT_CLIENT_CREDENTIALS if software else App.GRANT_AUTHORIZATION_CODE
        ),
        redirect_uris=" ".join(redirect_uris),
        client_secret=stored_secret,
        hash_client_secret=True,
        algorithm=App.RS256_ALGORITHM if not software else App.NO_ALGORITHM,
    )
    app.full_clean(exclude=["client_secret", "logo", "user"])
    with transaction.atomic():
        app.save()
        _audit(operator.actor, None, "catalogue_ajout", app=app, client=client)
    return app, secret


def connections_end_at_majority(spaces, now) -> list[Entry]:
    """Coming of age: the apps a representative connected to the minor's profile lose access;
    the young adult connects again the ones they want (their consent replaces the
    representatives'). Returns the audit entries, written in the caller's transaction."""
    ended = list(
        Connection.objects.filter(space__in=spaces, revoked_at__isnull=True)
        .exclude(granted_by__person_id=F("space__person_id"))
        .select_related("app", "space")
    )
    if not ended:
        return []
    Connection.objects.filter(pk__in=[c.pk for c in ended]).update(
        revoked_at=now, revoked_reason="majorite"
    )
    _tokens_end(ended)
    return [
        Entry(
            actor="systeme:majorite",
            action="service_deconnecte",
            space_id=c.space.public_id,
            object_type="application",
            object_id=str(c.app.public_id),
            detail={"application": c.app.name, "motif": "majorite"},
            at=now,
        )
        for c in ended
    ]


def connections_remind_due(*, batch_size: int = 500) -> int:
    """Every CATALOGUE_REMINDER_EVERY, the person (and whoever manages the profile) is reminded
    that services are connected to it, with a link to « Services connectés ». The mail names
    no app: an app's name can say a health condition (DESIGN invariant 7). Claimed row by row
    (SKIP LOCKED), so two ticks never remind twice."""
    from carnet.accounts.models import User
    from carnet.accounts.services import notify
    from carnet.family.selectors import linked_accounts

    now = clock.now()
    due_before = now - settings.CARNET["CATALOGUE_REMINDER_EVERY"]
    reminded = 0
    with transaction.atomic():
        due = list(
            Connection.objects.select_for_update(skip_locked=True)
            .filter(revoked_at__isnull=True, expires_at__gt=now)
            .filter(
                Q(reminded_at__lte=due_before)
                | Q(reminded_at__isnull=True, granted_at__lte=due_before)
            )
            .select_related("space__person")
            .order_by("pk")[:batch_size]
        )
        by_space = {}
        for connection in due:
            by_space.setdefault(connection.space_id, []).append(connection)
        for rows in by_space.values():
            space = rows[0].space
            count = Connection.objects.filter(
                space=space, revoked_at__isnull=True, expires_at__gt=now
            ).count()
            holder = list(User.objects.filter(person_id=space.person_id, is_active=True)[:1])
            managers = [u for u in linked_accounts(space) if manages_sharing(u, space)]
            for user in {u.pk: u for u in holder + managers}.values():
                notify(
                    user,
                    "services_connectes_rappel",
                    kind="services_connectes",
                    person=space.person,
                    count=count,
                    url=settings.SERVICE_URL,
                )
            events_record(
                [
                    Entry(
                        actor="systeme:tick",
                        action="service_rappel",
                        space_id=space.public_id,
                        detail={"services": count},
                    )
                ]
            )
            reminded += len(rows)
        Connection.objects.filter(pk__in=[c.pk for c in due]).update(reminded_at=now)
    return reminded


# --- Operators' management of the catalogue (the JSON API and /operateur/catalogue/) ----------


def _operator_check(operator) -> None:
    from carnet.accounts.models import User

    if getattr(operator, "kind", None) != User.Kind.OPERATOR:
        raise PermissionDenied("Réservé aux opérateurs.")


def _scopes_check(scopes: list[str], *, software: bool) -> None:
    """The rules of `app_register`: known SMART v2 scopes of the entry's context; a
    professional's software has only « system/… » ones."""
    context = "system" if software else "patient"
    for scope in scopes:
        parsed = smart.parse(scope)
        if not smart.is_known(scope) or (parsed is not None and parsed.context != context):
            raise ValidationError(
                {"allowed_scopes": f"Donnée inconnue ou d'un autre contexte : {scope}"}
            )
    if software and any(scope in smart.SPECIAL for scope in scopes):
        raise ValidationError(
            {"allowed_scopes": "Un logiciel de professionnel n'a que des données « system/… »."}
        )


APP_UPDATABLE = (
    "name",
    "editor",
    "description",
    "category",
    "website",
    "allowed_scopes",
    "redirect_uris",
)


def app_update(
    *,
    operator,
    app: App,
    name: str | None = None,
    editor: str | None = None,
    description: str | None = None,
    category: str | None = None,
    website: str | None = None,
    allowed_scopes: list[str] | None = None,
    redirect_uris: list[str] | None = None,
    client: str = "",
) -> App:
    """An operator corrects an entry; a field left to None is kept. Everything is validated
    before anything is written.

    An app never holds more than its entry allows: narrowing `allowed_scopes` ends, at once,
    the connections (and their tokens) that asked for more, each written in the person's
    history; the app asks again, within the new agreement. A professional's software loses
    the tokens that asked for more.
    """
    _operator_check(operator)
    with transaction.atomic():
        app = App.objects.select_for_update().get(pk=app.pk)
        before = {field: getattr(app, field) for field in APP_UPDATABLE}
        for field, value in (
            ("name", name),
            ("editor", editor),
            ("description", description),
            ("website", website),
        ):
            if value is not None:
                setattr(app, field, value.strip())
        if category is not None:
            software_category = category == App.Category.PRO_SOFTWARE
            if software_category != app.is_software:
                raise ValidationError(
                    {
                        "category": "La catégorie « Logiciel de professionnel de santé » est "
                        "celle des logiciels (avec un FINESS), et d'eux seuls."
                    }
                )
            app.category = category
        if allowed_scopes is not None:
            _scopes_check(allowed_scopes, software=app.is_software)
            app.allowed_scopes = " ".join(dict.fromkeys(allowed_scopes))
        if redirect_uris is not None:
            app.redirect_uris = " ".join(dict.fromkeys(u.strip() for u in redirect_uris))
        if not app.is_software and not app.redirect_uris.split():
            raise ValidationError(
                {"redirect_uris": "Une application a au moins une adresse de retour."}
            )
        app.full_clean(exclude=["client_secret", "logo", "user"])
        changed = [field for field in APP_UPDATABLE if getattr(app, field) != before[field]]
        if not changed:
            return app
        app.save(update_fields=[*changed, "updated"])
        if "allowed_scopes" in changed:
            _beyond_agreement_end(operator, app, client=client)
        _audit(
            operator.actor,
            None,
            "catalogue_modification",
            app=app,
            client=client,
            champs=changed,
        )
    return app


def _beyond_agreement_end(operator, app: App, *, client: str) -> None:
    allowed = app.allowed_scopes.split()
    if app.is_software:
        tokens = AccessToken.objects.filter(application=app, connection__isnull=True)
        beyond = [t.pk for t in tokens.only("pk", "scope") if not _within(t.scope, allowed)]
        AccessToken.objects.filter(pk__in=beyond).delete()
        return
    connections = Connection.objects.filter(app=app, revoked_at__isnull=True).select_related(
        "space"
    )
    ended = [c for c in connections if not _within(c.scope, allowed)]
    if not ended:
        return
    now = clock.now()
    Connection.objects.filter(pk__in=[c.pk for c in ended]).update(
        revoked_at=now, revoked_reason="perimetre_reduit"
    )
    _tokens_end(ended)
    events_record(
        [
            Entry(
                actor=operator.actor,
                action="service_deconnecte",
                space_id=c.space.public_id,
                object_type="application",
                object_id=str(app.public_id),
                detail={"application": app.name, "motif": "perimetre_reduit"},
                client=client,
                at=now,
            )
            for c in ended
        ]
    )


def _within(scope: str, allowed: list[str]) -> bool:
    return all(smart.within(s, allowed) for s in scope.split())


def logo_png(data: bytes) -> bytes:
    """The logo as we keep it: the upload, fully decoded by Pillow (PNG or JPEG only),
    re-encoded as a PNG of at most CATALOGUE_LOGO_SIDE pixels a side, without metadata.

    Refused before decoding: an empty or oversize file, an image that declares more than
    CATALOGUE_LOGO_MAX_SOURCE_SIDE pixels a side (a "PNG bomb" decompresses to gigabytes).
    """
    import io

    from PIL import Image, ImageOps

    limits = settings.CARNET
    max_bytes = limits["CATALOGUE_LOGO_MAX_BYTES"]
    if not data:
        raise ValidationError("Le fichier est vide : choisissez une image PNG ou JPEG.")
    if len(data) > max_bytes:
        raise ValidationError(
            f"Le logo dépasse {max_bytes // 1024} Ko : choisissez une image plus légère."
        )
    unreadable = ValidationError(
        "Ce fichier n'est pas une image PNG ou JPEG lisible : choisissez une autre image."
    )
    side = limits["CATALOGUE_LOGO_MAX_SOURCE_SIDE"]
    try:
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as image:
            width, height = image.size
            if width > side or height > side:
                raise ValidationError(
                    f"Cette image mesure {width} × {height} pixels : un logo en fait au plus "
                    f"{side} × {side}."
                )
            image.load()  # the whole file is decoded: a truncated or forged one fails here
            picture = ImageOps.exif_transpose(image)
            alpha = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
            picture = picture.convert("RGBA" if alpha else "RGB")
            picture.thumbnail((limits["CATALOGUE_LOGO_SIDE"],) * 2, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            picture.save(out, format="PNG", optimize=True)
    except ValidationError:
        raise
    except Image.DecompressionBombError:
        raise ValidationError(
            f"Cette image déclare des dimensions démesurées : un logo fait au plus "
            f"{side} × {side} pixels."
        ) from None
    except Exception:  # Pillow raises many kinds for a forged file: all mean "unreadable"
        raise unreadable from None
    return out.getvalue()


def app_logo_set(*, operator, app: App, data: bytes, client: str = "") -> App:
    """An operator uploads (or replaces) an entry's logo; a refused file changes nothing."""
    _operator_check(operator)
    png = logo_png(data)
    with transaction.atomic():
        app = App.objects.select_for_update().get(pk=app.pk)
        app.logo = png
        app.save(update_fields=["logo", "updated"])
        _audit(operator.actor, None, "catalogue_logo", app=app, client=client, octets=len(png))
    return app
