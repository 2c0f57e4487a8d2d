"""Background delivery of the outbox."""

from django_tasks import task

from .services import outbox_deliver


@task()
def deliver_outbox() -> int:
    return outbox_deliver()
