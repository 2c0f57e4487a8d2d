"""The operators' catalogue pages, under /operateur/catalogue/ (the operators' area)."""

from django.urls import path

from . import operator_views as views

app_name = "catalogue_operator"
urlpatterns = [
    path("", views.index, name="index"),
    path("ajouter/", views.create, name="create"),
    path("<uuid:public_id>/", views.edit, name="edit"),
    path("<uuid:public_id>/statut/", views.status, name="status"),
    path("<uuid:public_id>/logo/", views.logo, name="logo"),
]
