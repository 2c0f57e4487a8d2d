from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "carnet.messaging"
    label = "messaging"
    verbose_name = "Messagerie de santé"

    def ready(self):
        from carnet.enrollment.signals import space_activated, space_purging

        from .services import space_messages_erase, welcome_send

        space_purging.connect(space_messages_erase, dispatch_uid="messaging_space_purging")
        space_activated.connect(
            lambda space_ids, **_: welcome_send(space_ids),
            dispatch_uid="messaging_welcome",
            weak=False,
        )
