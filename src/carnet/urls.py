from django.urls import include, path

urlpatterns = [
    path("", include("carnet.core.urls")),
    path("profil-medical/", include("carnet.profile.urls")),
    path("documents/", include("carnet.documents.urls")),
    path("agenda/", include("carnet.agenda.urls")),
    path("messagerie/", include("carnet.messaging.urls")),
    path("", include("carnet.enrollment.urls")),
    path("", include("carnet.accounts.urls")),
    path("pro/", include("carnet.professionals.urls")),
    # Before "parametres/": its own prefix, never shadowed by the account settings.
    path("parametres/acces/", include("carnet.consent.urls")),
    path("parametres/", include("carnet.accounts.settings_urls")),
    path("historique/", include("carnet.audit.urls")),
    path("profils/", include("carnet.family.urls")),
    path("outbox/", include("carnet.notifications.urls")),
]
