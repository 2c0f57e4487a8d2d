from django.core.management.base import BaseCommand

from carnet.notifications.models import OutboxMessage
from carnet.notifications.services import outbox_deliver


class Command(BaseCommand):
    help = "Affiche les derniers e-mails et SMS de la boîte d'envoi, ou les envoie (--deliver)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=10, help="nombre de messages affichés")
        parser.add_argument("--to", default="", help="seulement les messages à ce destinataire")
        parser.add_argument("--deliver", action="store_true", help="envoyer les messages dus")

    def handle(self, *args, limit, to, deliver, **options):
        if deliver:
            self.stdout.write(f"{outbox_deliver()} message(s) envoyé(s)")
            return
        messages = OutboxMessage.objects.order_by("-created_at", "-id")
        if to:
            messages = messages.filter(to=to)
        for m in messages[:limit]:
            self.stdout.write(
                f"--- {m.get_channel_display()} à {m.to} · {m.created_at:%d/%m/%Y %H:%M}"
                f" · {m.get_status_display()}"
            )
            if m.subject:
                self.stdout.write(f"Objet : {m.subject}")
            self.stdout.write(m.body or "(contenu effacé après envoi)")
