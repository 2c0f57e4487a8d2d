"""The JSON API (django-ninja, ADR 0021), mounted at /api/; its OpenAPI document is
/api/openapi.json. No documentation page: it would need scripts our CSP forbids.

Its routes answer for themselves, in JSON and in French: they opt out of the pages' login
redirect and kind areas (carnet.accounts.middleware), and each router names who may call it
(carnet.accounts.api_auth: anonymous 401, another kind of account 403). They are not exempt
from Django's CSRF check: an unsafe method needs the `X-CSRFToken` header.
"""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from carnet.catalogue.api import router as catalogue_router


class CarnetAPI(NinjaAPI):
    def _get_urls(self):
        patterns = super()._get_urls()
        for pattern in patterns:
            pattern.callback = _api_view(pattern.callback)
        return patterns


def _api_view(view):
    """django-ninja marks its views as exempt from Django's CSRF check (its cookie
    authentications check the token themselves); a plain wrapper drops that mark, so that
    Django's middleware checks every unsafe request, like for the pages. And it opts out of
    the login redirect: the API answers 401 itself. The answers django-ninja gives outside
    its operations (the API's root, a method not allowed) come out in JSON too."""

    @login_not_required
    def api_view(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return JsonResponse({"detail": DEFAULTS[404], "errors": []}, status=404)
        if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
            allowed = response.get("Allow", "")
            response = JsonResponse({"detail": DEFAULTS[405], "errors": []}, status=405)
            response["Allow"] = allowed
        return response

    return api_view


api = CarnetAPI(
    title="API de Carnet",
    version="1",
    description="L'API JSON de Carnet : pour l'instant, la gestion du catalogue par les "
    "opérateurs. Authentification par la session des pages ; jeton CSRF dans l'en-tête "
    "X-CSRFToken pour les méthodes qui modifient.",
    docs_url=None,
    urls_namespace="api",
)
api.add_router("/operateur/catalogue/", catalogue_router)


# --- Errors: always {"detail": "…"} in French, never a 500 for bad input ---------------------

# django-ninja's own messages, in English, for the errors it raises itself.
NINJA_MESSAGES = {
    "Cannot parse request body": "Corps de la requête illisible : un JSON valide est attendu.",
    "CSRF check Failed": "Jeton CSRF absent ou invalide (en-tête X-CSRFToken).",
}
DEFAULTS = {
    400: "Requête invalide.",
    401: "Authentification requise : connectez-vous.",
    403: "Accès refusé.",
    404: "Introuvable.",
    405: "Méthode non autorisée pour cette adresse.",
}


def _error(request, status: int, detail: str, errors=()):
    body = {"detail": detail, "errors": list(errors)}
    return api.create_response(request, body, status=status)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return _error(request, 401, "Authentification requise : connectez-vous avec votre session.")


@api.exception_handler(HttpError)
def _http_error(request, exc):
    message = str(exc)
    for english, french in NINJA_MESSAGES.items():
        if message.startswith(english):
            return _error(request, exc.status_code, french)
    if not message or message in ("Unauthorized", "Forbidden"):
        message = DEFAULTS.get(exc.status_code, "Requête refusée.")
    return _error(request, exc.status_code, message)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(request, 404, DEFAULTS[404])


@api.exception_handler(PermissionDenied)
def _denied(request, exc):
    return _error(request, 403, str(exc) or DEFAULTS[403])


@api.exception_handler(DjangoValidationError)
def _refused(request, exc):
    """A service refused the input (its messages are French)."""
    if hasattr(exc, "error_dict"):
        errors = [
            {"field": "" if field == "__all__" else field, "message": message}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        errors = [{"field": "", "message": message} for message in exc.messages]
    return _error(request, 422, " ".join(e["message"] for e in errors), errors)


@api.exception_handler(ValidationError)
def _invalid(request, exc):
    """The input does not match the schema: one French message per field."""
    errors = [{"field": _field(e["loc"]), "message": _message(e)} for e in exc.errors]
    detail = "Données invalides : " + " ; ".join(
        f"{e['field']} : {e['message']}" if e["field"] else e["message"] for e in errors
    )
    return _error(request, 422, detail, errors)


def _field(loc) -> str:
    source, *parts = loc
    if source == "body" and parts:
        parts = parts[1:]  # the handler's parameter name says nothing to the caller
    return ".".join(str(part) for part in parts)


def _message(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "Champ obligatoire."
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return "Ce champ ne peut pas être vide."
        return f"Au moins {ctx.get('min_length')} caractères."
    if kind == "string_too_long":
        return f"{ctx.get('max_length')} caractères au plus."
    if kind == "string_pattern_mismatch":
        return "Format invalide (caractère non autorisé ?)."
    if kind == "string_type":
        return "Texte attendu."
    if kind in ("enum", "literal_error"):
        return f"Valeur inconnue : valeurs possibles {ctx.get('expected', '')}."
    if kind in ("bool_type", "bool_parsing"):
        return "Booléen attendu (true ou false)."
    if kind == "list_type":
        return "Liste attendue."
    if kind == "too_short":
        return f"Au moins {ctx.get('min_length')} élément(s)."
    if kind == "too_long":
        return f"{ctx.get('max_length')} éléments au plus."
    if kind in ("uuid_parsing", "uuid_type"):
        return "Identifiant invalide."
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return "Objet JSON attendu."
    if kind == "value_error" and ctx.get("error"):
        return str(ctx["error"]).removeprefix("Value error, ")
    return "Valeur invalide."
