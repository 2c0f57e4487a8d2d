from django.urls import path

from . import views

app_name = "profile"
urlpatterns = [
    path("", views.index, name="index"),
    path("synthese.pdf", views.synthesis, name="synthesis"),
    path("synthese/enregistrer/", views.synthesis_save, name="synthesis_save"),
    path("<slug:slug>/", views.section_list, name="section"),
    path("<slug:slug>/ajouter/", views.add, name="add"),
    path("<slug:slug>/modifier/", views.single, name="single"),
    path("<slug:slug>/<uuid:public_id>/modifier/", views.edit, name="edit"),
    path("<slug:slug>/<uuid:public_id>/supprimer/", views.delete, name="delete"),
]
