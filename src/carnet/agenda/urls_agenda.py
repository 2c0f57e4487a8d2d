"""The agenda's own pages under /agenda/ (namespace "agenda", see urls.py): lists, month,
appointments, reminders and the reminder delay."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("passes/", views.past, name="past"),
    path("mois/", views.month_current, name="month_current"),
    # /agenda/mois/2027-03/; any 1 to 4 digits reach the view, which answers 404 out of range.
    re_path(r"^mois/(?P<year>[0-9]{1,4})-(?P<month>[0-9]{1,2})/$", views.month, name="month"),
    path("rendez-vous/ajouter/", views.appointment_add, name="appointment_add"),
    path("rendez-vous/<uuid:public_id>/", views.appointment_detail, name="appointment"),
    path("rendez-vous/<uuid:public_id>/modifier/", views.appointment_edit, name="appointment_edit"),
    path(
        "rendez-vous/<uuid:public_id>/supprimer/",
        views.appointment_delete,
        name="appointment_delete",
    ),
    path("rappels/ajouter/", views.reminder_add, name="reminder_add"),
    path("rappels/<uuid:public_id>/", views.reminder_detail, name="reminder"),
    path("rappels/<uuid:public_id>/modifier/", views.reminder_edit, name="reminder_edit"),
    path("rappels/<uuid:public_id>/supprimer/", views.reminder_delete, name="reminder_delete"),
    path("preferences/", views.preferences, name="preferences"),
]
