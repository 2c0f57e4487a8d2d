"""The operators' catalogue API: what it reads and what it answers (django-ninja schemas).

Texts are trimmed and refuse the NUL character (PostgreSQL cannot store it); SMART scopes,
addresses and the rules between fields are checked by the services, like for the pages.
"""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from django.urls import reverse
from ninja import Field, Schema
from pydantic import AfterValidator, StringConstraints

from .models import App

NO_NUL = r"^[^\x00]*$"


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("Caractère non autorisé.") from None
    return value


def text(max_length: int, *, min_length: int = 1):
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_NUL
        ),
        AfterValidator(_encodable),
    ]


Name = text(255)
Editor = text(100)
Description = text(2000)
Website = text(200, min_length=0)
Scope = text(100)
RedirectUri = text(500)
Finess = Annotated[str, StringConstraints(pattern=r"^([0-9]{9})?$")]
Scopes = Annotated[list[Scope], Field(min_length=1, max_length=60)]
RedirectUris = Annotated[list[RedirectUri], Field(max_length=10)]


class AppOut(Schema):
    id: UUID = Field(description="Identifiant public de l'entrée")
    client_id: str
    name: str
    editor: str
    description: str
    category: App.Category
    category_label: str
    website: str
    status: App.Status
    status_label: str
    status_changed_at: datetime | None
    allowed_scopes: list[str]
    redirect_uris: list[str]
    software: bool = Field(description="Logiciel de professionnel (client credentials)")
    finess: str
    confidential: bool = Field(description="Client avec secret")
    logo_url: str | None
    updated: datetime

    @staticmethod
    def resolve_id(app: App) -> UUID:
        return app.public_id

    @staticmethod
    def resolve_category_label(app: App) -> str:
        return app.get_category_display()

    @staticmethod
    def resolve_status_label(app: App) -> str:
        return app.get_status_display()

    @staticmethod
    def resolve_allowed_scopes(app: App) -> list[str]:
        return app.allowed_scopes.split()

    @staticmethod
    def resolve_redirect_uris(app: App) -> list[str]:
        return app.redirect_uris.split()

    @staticmethod
    def resolve_software(app: App) -> bool:
        return app.is_software

    @staticmethod
    def resolve_confidential(app: App) -> bool:
        return app.client_type == App.CLIENT_CONFIDENTIAL

    @staticmethod
    def resolve_logo_url(app: App) -> str | None:
        size = getattr(app, "logo_size", None)  # a list does not load the logos
        has_logo = bool(size) if size is not None else bool(app.logo)
        return reverse("catalogue:logo", args=[app.public_id]) if has_logo else None


class AppCreated(Schema):
    app: AppOut
    client_secret: str | None = Field(
        description="Le secret d'un client confidentiel, montré cette seule fois (conservé "
        "haché) ; null pour un client public (PKCE)."
    )


class AppCreate(Schema):
    name: Name
    editor: Editor
    description: Description
    category: App.Category = Field(
        description="Ignorée pour un logiciel de professionnel (avec FINESS)"
    )
    website: Website = ""
    allowed_scopes: Scopes = Field(description="Scopes SMART v2 autorisés par le référencement")
    redirect_uris: RedirectUris = Field(
        default=[], description="Adresses de retour (au moins une pour une application)"
    )
    finess: Finess = Field(
        default="", description="Pour un logiciel de professionnel : le FINESS de l'établissement"
    )
    confidential: bool = Field(default=False, description="Client avec secret")
    status: App.Status = App.Status.OFFLINE


class AppUpdate(Schema):
    """The fields to change; a missing (or null) one is kept."""

    name: Name | None = None
    editor: Editor | None = None
    description: Description | None = None
    category: App.Category | None = None
    website: Website | None = None
    allowed_scopes: Scopes | None = None
    redirect_uris: RedirectUris | None = None


class StatusIn(Schema):
    status: App.Status = Field(
        description="en_ligne ; hors_ligne (plus proposée, les accès continuent) ; suspendue "
        "(plus aucun accès, réversible) ; dereferencee (plus aucun accès, connexions terminées)"
    )


class FieldError(Schema):
    field: str
    message: str


class Error(Schema):
    detail: str
    errors: list[FieldError] = []
