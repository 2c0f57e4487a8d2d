from django.apps import AppConfig


class AgendaConfig(AppConfig):
    name = "carnet.agenda"
    label = "agenda"
    verbose_name = "Agenda médical"

    def ready(self):
        from carnet.enrollment.signals import space_purging

        from .services import space_agenda_erase

        space_purging.connect(space_agenda_erase, dispatch_uid="agenda_space_purging")
