from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "carnet.sharing"
    verbose_name = "Liens de partage"

    def ready(self):
        from carnet.enrollment.signals import space_purging

        from .services import space_shares_erase

        space_purging.connect(space_shares_erase, dispatch_uid="sharing_space_purging")
