"""URLs of the account settings, under /parametres/ (namespace `parametres`)."""

from django.urls import path

from . import passkey_views
from . import settings_views as views
from .models import OneTimeCode

app_name = "parametres"
urlpatterns = [
    path("", views.index, name="index"),
    path("coordonnees/", views.contacts, name="contacts"),
    path(
        "coordonnees/e-mail/",
        views.contact_edit,
        {"channel": OneTimeCode.Channel.EMAIL},
        name="contact_email",
    ),
    path(
        "coordonnees/mobile/",
        views.contact_edit,
        {"channel": OneTimeCode.Channel.SMS},
        name="contact_mobile",
    ),
    path("coordonnees/confirmer/", views.contact_confirm, name="contact_confirm"),
    path("mot-de-passe/", views.password, name="password"),
    path("identifiant/", views.identifier, name="identifier"),
    path("notifications/", views.notifications, name="notifications"),
    path("appareils/", views.sessions, name="sessions"),
    path("appareils/terminer-les-autres/", views.sessions_end_others, name="sessions_end_others"),
    path("appareils/<uuid:public_id>/terminer/", views.session_end, name="session_end"),
    path("activites/", views.activity, name="activity"),
    path("cles-d-acces/", passkey_views.passkey_list, name="passkeys"),
    path("cles-d-acces/options/", passkey_views.passkey_options, name="passkey_options"),
    path(
        "cles-d-acces/<uuid:public_id>/supprimer/",
        passkey_views.passkey_delete,
        name="passkey_delete",
    ),
    path("confirmer-mon-identite/", views.reauth, name="reauth"),
    path("confirmer-mon-identite/code/", views.reauth_code, name="reauth_code"),
    path("cloturer-mon-espace/", views.close, name="close"),
    path("supprimer-mes-donnees/", views.delete, name="delete"),
    path("mon-espace/", views.space, name="space"),
]
