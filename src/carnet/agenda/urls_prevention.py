"""The prevention calendar, under /agenda/prevention/ (namespace `agenda`)."""

from django.urls import path

from . import views_prevention as views

urlpatterns = [
    path("", views.calendar, name="prevention"),
    path("rappels/", views.reminders, name="prevention_rappels"),
    # Keys are "<rule>@<occurrence>": never "rappels".
    path("<str:item_key>/", views.item, name="prevention_element"),
]
