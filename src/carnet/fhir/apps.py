from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "carnet.fhir"
    verbose_name = "API FHIR"
