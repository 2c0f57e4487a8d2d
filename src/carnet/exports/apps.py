from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "carnet.exports"
    verbose_name = "Export des données"

    def ready(self):
        from carnet.enrollment.signals import space_purging

        from .services import space_exports_withdraw

        space_purging.connect(space_exports_withdraw, dispatch_uid="exports_space_purging")
