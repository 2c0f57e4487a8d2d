from django.urls import include, path

app_name = "agenda"
urlpatterns = [
    path("", include("carnet.agenda.urls_agenda")),
    path("prevention/", include("carnet.agenda.urls_prevention")),
    path("abonnement/", include("carnet.agenda.urls_feed")),
]
