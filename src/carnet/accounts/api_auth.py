"""Authentication of the JSON API (carnet.api): the Django session of the pages, by kind.

The API's routes opt out of the pages' login redirect and kind areas (a JSON client wants a
401, not a login page): each router names who may call it with one of these. Anonymous: 401;
logged in as another kind of account: 403. Unsafe methods need the CSRF token, in the
`X-CSRFToken` header (checked by Django's middleware, and again here).
"""

from django.conf import settings
from ninja.errors import AuthorizationError
from ninja.security import APIKeyCookie

from .models import User


class AccountSession(APIKeyCookie):
    """The logged-in account of the session, if its kind is one of `kinds`."""

    openapi_description = (
        "La session Django des pages (cookie de session) ; les méthodes qui modifient "
        "demandent aussi le jeton CSRF dans l'en-tête X-CSRFToken."
    )

    def __init__(self, *kinds: str, refusal: str) -> None:
        self.kinds = kinds
        self.refusal = refusal
        super().__init__(csrf=True)

    @property
    def param_name(self) -> str:  # read when the URLconf loads, not at import
        return settings.SESSION_COOKIE_NAME

    def authenticate(self, request, key):
        user = request.user
        if not user.is_authenticated:
            return None  # 401
        if user.kind not in self.kinds:
            raise AuthorizationError(message=self.refusal)
        return user


def operator_session() -> AccountSession:
    return AccountSession(User.Kind.OPERATOR, refusal="Accès refusé : réservé aux opérateurs.")
