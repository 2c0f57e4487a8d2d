from django.urls import path

from . import views

app_name = "documents"
urlpatterns = [
    path("", views.index, name="index"),
    path("ajouter/", views.add, name="add"),
    path("supprimes/", views.deleted, name="deleted"),
    path("preferences/", views.preferences, name="preferences"),
    path("historique-des-soins/", views.care_history, name="care_history"),
    path("historique-des-soins/<int:pk>/masquer/", views.care_hide, name="care_hide"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/fichier/", views.content, name="content"),
    path("<uuid:public_id>/modifier/", views.edit, name="edit"),
    path("<uuid:public_id>/epingler/", views.pin, name="pin"),
    path("<uuid:public_id>/masquer/", views.hide, name="hide"),
    path("<uuid:public_id>/supprimer/", views.delete, name="delete"),
    path("<uuid:public_id>/restaurer/", views.restore, name="restore"),
]
