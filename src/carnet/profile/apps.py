from django.apps import AppConfig


class ProfileConfig(AppConfig):
    name = "carnet.profile"
    label = "profile"
    verbose_name = "Profil médical"

    def ready(self):
        from carnet.enrollment.signals import space_purging

        from .services import space_profile_erase

        space_purging.connect(space_profile_erase, dispatch_uid="profile_space_purging")
