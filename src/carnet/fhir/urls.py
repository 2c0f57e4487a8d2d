from django.urls import path, re_path

from carnet.catalogue.views import smart_configuration

from . import views

app_name = "fhir"
urlpatterns = [
    path("metadata", views.metadata, name="metadata"),
    path(".well-known/smart-configuration", smart_configuration, name="smart-configuration"),
    re_path(r"^Binary/(?P<resource_id>[0-9a-f-]{36})$", views.binary, name="binary"),
    re_path(r"^Patient/(?P<resource_id>[0-9a-f-]{36})/\$summary$", views.summary, name="summary"),
    re_path(r"^(?P<resource_type>[A-Za-z]{1,40})$", views.search_type, name="search"),
    re_path(
        r"^(?P<resource_type>[A-Za-z]{1,40})/(?P<resource_id>[A-Za-z0-9.-]{1,64})$",
        views.read,
        name="read",
    ),
]
