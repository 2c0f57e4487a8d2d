"""« Historique d'activité » of the patient, under /historique/ (namespace `historique`)."""

from django.urls import path

from . import views

app_name = "historique"
urlpatterns = [path("", views.history, name="index")]
