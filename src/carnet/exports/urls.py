"""« Télécharger mes données », under /export/ (namespace `exports`)."""

from django.urls import path

from . import views

app_name = "exports"
urlpatterns = [
    path("", views.index, name="index"),
    path("demander/", views.request_export, name="request"),
    path("<uuid:public_id>/telecharger/", views.download, name="download"),
]
