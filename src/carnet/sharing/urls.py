"""/partage/: the owner's share links, and the viewer of a link (public: the token is the key)."""

from django.urls import path, register_converter

from . import views


class TokenConverter:
    """Our tokens are 43 characters of base64url; any other such shape gets the same answer as
    an unknown one, from the view."""

    regex = "[A-Za-z0-9_-]{1,128}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TokenConverter, "partage")

app_name = "sharing"
urlpatterns = [
    path("", views.index, name="index"),
    path("nouveau/", views.create, name="create"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/revoquer/", views.revoke, name="revoke"),
    path("v/<partage:token>/", views.view, name="view"),
    path("v/<partage:token>/synthese.pdf", views.synthesis, name="synthesis"),
    path("v/<partage:token>/synthese-ips.json", views.summary, name="summary"),
    path("v/<partage:token>/documents/<uuid:public_id>/", views.document, name="document"),
]
