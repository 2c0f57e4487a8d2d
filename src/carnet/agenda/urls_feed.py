"""/agenda/abonnement/: the private iCalendar address, its public feed, and the .ics import."""

from django.urls import path, re_path

from . import views_feed

urlpatterns = [
    path("", views_feed.feed, name="feed"),
    path("creer/", views_feed.feed_create, name="feed_create"),
    path("nouvelle-adresse/", views_feed.feed_renew, name="feed_renew"),
    path("desactiver/", views_feed.feed_revoke, name="feed_revoke"),
    path("importer/", views_feed.ics_import, name="ics_import"),
    # Public (calendar apps cannot log in): the token is the only key. Our tokens are 43
    # characters of base64url; any other shape gets the same 404 from the view.
    re_path(r"^(?P<token>[A-Za-z0-9_-]{1,128})\.ics$", views_feed.feed_ics, name="feed_ics"),
]
