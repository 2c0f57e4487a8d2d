"""The OAuth 2.0 / OpenID Connect endpoints, under /oauth/ (django-oauth-toolkit's names)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from oauth2_provider import views as oauth

from .views import Authorize

app_name = "oauth2_provider"


def _public(view_class):
    """Called by apps, not by a logged-in person: outside the login requirement."""
    return login_not_required(view_class.as_view())


# The consent screen needs the person logged in: said to the login middleware too (the view's
# own LoginRequiredMixin marks it exempt, and would send to the default login page).
authorize = Authorize.as_view()
authorize.login_required = True

urlpatterns = [
    path("authorize/", authorize, name="authorize"),
    path("token/", _public(oauth.TokenView), name="token"),
    path("revoke_token/", _public(oauth.RevokeTokenView), name="revoke-token"),
    re_path(
        r"^\.well-known/openid-configuration/?$",
        _public(oauth.ConnectDiscoveryInfoView),
        name="oidc-connect-discovery-info",
    ),
    path(".well-known/jwks.json", _public(oauth.JwksInfoView), name="jwks-info"),
    path("userinfo/", _public(oauth.UserInfoView), name="user-info"),
]
