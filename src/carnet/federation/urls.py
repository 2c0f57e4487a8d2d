from django.urls import path

from . import views

app_name = "federation"

FC = {"provider": "franceconnect"}
PSC = {"provider": "prosanteconnect"}

urlpatterns = [
    path("connexion/franceconnect/", views.start, FC, name="franceconnect"),
    path("connexion/franceconnect/retour/", views.callback, FC, name="franceconnect_callback"),
    path("connexion/franceconnect/associer/", views.link, name="franceconnect_link"),
    path("pro/connexion/prosanteconnect/", views.start, PSC, name="prosanteconnect"),
    path(
        "pro/connexion/prosanteconnect/retour/",
        views.callback,
        PSC,
        name="prosanteconnect_callback",
    ),
]
