"""The operators' catalogue API, under /api/operateur/catalogue/ (mounted by carnet.api).

Each handler reads its input, calls one service or selector, and answers; the rules and the
audit are in the services, shared with the /operateur/catalogue/ pages.
"""

from uuid import UUID

from django.conf import settings
from django.shortcuts import get_object_or_404
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from carnet.accounts.api_auth import operator_session
from carnet.core.http import client_address

from . import selectors, services
from .models import App
from .schemas import AppCreate, AppCreated, AppOut, AppUpdate, Error, StatusIn

router = Router(auth=operator_session(), tags=["Catalogue (opérateurs)"])

REFUSED = {401: Error, 403: Error}
NOT_FOUND = {404: Error}
INVALID = {400: Error, 422: Error}


class Filters(Schema):
    status: App.Status | None = None
    category: App.Category | None = None


def _app(public_id: UUID) -> App:
    return get_object_or_404(App, public_id=public_id)


@router.get(
    "/",
    response={200: list[AppOut], **REFUSED, 422: Error},
    url_name="app_list",
    operation_id="catalogue_list",
    summary="Lister les entrées",
)
def app_list(request, filters: Query[Filters]):
    """Les entrées du catalogue, tous statuts, filtrées par statut ou catégorie."""
    return selectors.operator_apps(status=filters.status or "", category=filters.category or "")


@router.post(
    "/",
    response={201: AppCreated, **REFUSED, **INVALID},
    url_name="app_create",
    operation_id="catalogue_create",
    summary="Référencer un service",
)
def app_create(request, payload: AppCreate):
    """Référence une application (ou, avec un FINESS, le logiciel d'un établissement)."""
    app, secret = services.app_register(
        operator=request.auth,
        name=payload.name,
        editor=payload.editor,
        description=payload.description,
        category=payload.category,
        allowed_scopes=payload.allowed_scopes,
        redirect_uris=payload.redirect_uris,
        website=payload.website,
        software_finess=payload.finess,
        confidential=payload.confidential,
        status=payload.status,
        client=client_address(request),
    )
    return Status(201, {"app": app, "client_secret": secret or None})


@router.get(
    "/{uuid:public_id}",
    response={200: AppOut, **REFUSED, **NOT_FOUND},
    url_name="app_detail",
    operation_id="catalogue_read",
    summary="Lire une entrée",
)
def app_detail(request, public_id: UUID):
    """Une entrée du catalogue."""
    return _app(public_id)


@router.patch(
    "/{uuid:public_id}",
    response={200: AppOut, **REFUSED, **NOT_FOUND, **INVALID},
    url_name="app_update",
    operation_id="catalogue_update",
    summary="Modifier une entrée",
)
def app_update(request, public_id: UUID, payload: AppUpdate):
    """Modifie les champs donnés ; réduire les données autorisées termine les connexions qui
    en demandaient plus."""
    return services.app_update(
        operator=request.auth,
        app=_app(public_id),
        client=client_address(request),
        **payload.model_dump(exclude_none=True),
    )


@router.put(
    "/{uuid:public_id}/statut",
    response={200: AppOut, **REFUSED, **NOT_FOUND, **INVALID},
    url_name="app_status",
    operation_id="catalogue_status",
    summary="Changer le statut",
)
def app_status(request, public_id: UUID, payload: StatusIn):
    """Change le statut. Suspendue ou déréférencée : le service perd l'accès immédiatement."""
    app = _app(public_id)
    services.app_status_set(
        operator=request.auth, app=app, status=payload.status, client=client_address(request)
    )
    app.refresh_from_db()
    return app


@router.post(
    "/{uuid:public_id}/logo",
    response={200: AppOut, **REFUSED, **NOT_FOUND, **INVALID},
    url_name="app_logo",
    operation_id="catalogue_logo",
    summary="Déposer le logo",
)
def app_logo(request, public_id: UUID, logo: File[UploadedFile]):
    """Dépose ou remplace le logo : PNG ou JPEG, vérifié, conservé en PNG de 512 × 512 pixels
    au plus."""
    app = _app(public_id)
    limit = settings.CARNET["CATALOGUE_LOGO_MAX_BYTES"]
    data = logo.read(limit + 1)  # never more than one byte past the limit
    return services.app_logo_set(
        operator=request.auth, app=app, data=data, client=client_address(request)
    )
