"""« Accès à mon dossier », under /parametres/acces/ (namespace `consent`)."""

from django.urls import path

from . import views

app_name = "consent"
urlpatterns = [
    path("", views.index, name="index"),
    path("urgence/", views.emergency, name="emergency"),
    path("<uuid:public_id>/bloquer/", views.block_confirm, name="block_confirm"),
    path("<uuid:public_id>/blocage/", views.block, name="block"),
    path("<uuid:public_id>/medecin-traitant/", views.treating_confirm, name="treating_confirm"),
    path("<uuid:public_id>/medecin-traitant/designer/", views.treating, name="treating"),
    path("<uuid:public_id>/administrateur/", views.administrator, name="administrator"),
]
