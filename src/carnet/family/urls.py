from django.urls import path

from . import views

app_name = "family"
urlpatterns = [
    path("", views.index, name="index"),
    path("choisir/", views.switch, name="switch"),
    path("ajouter/", views.add, name="add"),
    path("ajouter/decision/", views.decide, name="decide"),
]
