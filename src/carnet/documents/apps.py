from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "carnet.documents"
    label = "documents"
    verbose_name = "Documents"

    def ready(self):
        from carnet.enrollment.signals import space_purging

        from .services import space_documents_erase

        space_purging.connect(space_documents_erase, dispatch_uid="documents_space_purging")
