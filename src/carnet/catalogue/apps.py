from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "carnet.catalogue"
    verbose_name = "Services connectés"
