from django.urls import include, path

from carnet.api import api
from carnet.catalogue.views import smart_configuration

urlpatterns = [
    path("", include("carnet.core.urls")),
    path("profil-medical/", include("carnet.profile.urls")),
    path("documents/", include("carnet.documents.urls")),
    path("agenda/", include("carnet.agenda.urls")),
    path("messagerie/", include("carnet.messaging.urls")),
    path("", include("carnet.enrollment.urls")),
    path("", include("carnet.accounts.urls")),
    path("", include("carnet.federation.urls")),
    path("pro/", include("carnet.professionals.urls")),
    # Before "parametres/": its own prefix, never shadowed by the account settings.
    path("parametres/acces/", include("carnet.consent.urls")),
    path("parametres/services-connectes/", include("carnet.catalogue.settings_urls")),
    path("parametres/", include("carnet.accounts.settings_urls")),
    path("historique/", include("carnet.audit.urls")),
    path("profils/", include("carnet.family.urls")),
    path("catalogue/", include("carnet.catalogue.urls")),
    path("operateur/catalogue/", include("carnet.catalogue.operator_urls")),
    path("oauth/", include("carnet.catalogue.oauth_urls")),
    path(".well-known/smart-configuration", smart_configuration, name="smart-configuration"),
    path("fhir/", include("carnet.fhir.urls")),
    path("partage/", include("carnet.sharing.urls")),
    path("export/", include("carnet.exports.urls")),
    path("outbox/", include("carnet.notifications.urls")),
    path("api/", api.urls),
]
