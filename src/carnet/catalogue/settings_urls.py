"""« Services connectés », in the settings."""

from django.urls import path

from . import views

app_name = "catalogue_settings"
urlpatterns = [
    path("", views.connections, name="connections"),
    path("<uuid:public_id>/desynchroniser/", views.disconnect, name="disconnect"),
]
