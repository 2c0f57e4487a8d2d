from django.urls import path

from . import views

app_name = "messaging"
urlpatterns = [
    path("", views.index, name="index"),
    path("nouveau/", views.new, name="new"),
    path("<uuid:public_id>/", views.conversation, name="conversation"),
    path("<uuid:public_id>/archiver/", views.archive, name="archive"),
    path("<uuid:public_id>/supprimer/", views.delete, name="delete"),
    path("piece-jointe/<uuid:public_id>/", views.attachment, name="attachment"),
    path(
        "piece-jointe/<uuid:public_id>/enregistrer/",
        views.attachment_save,
        name="attachment_save",
    ),
]
