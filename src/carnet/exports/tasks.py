"""Background work of the exports: a thin wrapper over the service (ids in, state re-read)."""

from django_tasks import task

from .services import export_build


@task()
def build_export(export_pk: int) -> str:
    return export_build(export_pk)
