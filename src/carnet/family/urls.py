from django.urls import path

from . import views

app_name = "family"
urlpatterns = [
    path("", views.index, name="index"),
    path("choisir/", views.switch, name="switch"),
    path("ajouter/", views.add, name="add"),
    path("ajouter/decision/", views.decide, name="decide"),
    path("<uuid:public_id>/inviter/", views.invite, name="invite"),
    path("<uuid:public_id>/retirer/", views.leave, name="leave"),
    path("invitations/<uuid:public_id>/", views.answer, name="answer"),
    path("aidants/ajouter/", views.caregiver_add, name="caregiver_add"),
    path("aidants/<uuid:public_id>/retirer/", views.caregiver_revoke, name="caregiver_revoke"),
    path(
        "aidants/<uuid:public_id>/attestation/",
        views.caregiver_certificate,
        name="caregiver_certificate",
    ),
]
