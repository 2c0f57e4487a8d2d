"""The RQ job class of `carnet worker`: what a job read from Redis may make the worker import.

Jobs are JSON (settings.RQ_SERIALIZER), so reading one runs no code; but a job names the
function to run and its callbacks, which rq imports and calls. Whoever can write to Redis must
not choose them: the function must be one of our tasks (`carnet.<app>.tasks.<name>`, checked
before any import; django-tasks-rq then checks it is a Task), the callbacks django-tasks-rq's.
"""

import re

from django.core.exceptions import SuspiciousOperation
from django_tasks_rq import Job

TASK_PATH = re.compile(r"carnet\.[a-z_]+\.tasks\.[a-z_]+")
CALLBACKS = frozenset(
    {"django_tasks_rq.backend.success_callback", "django_tasks_rq.backend.failed_callback"}
)


def _refused(what: str, name) -> SuspiciousOperation:
    return SuspiciousOperation(f"tâche refusée : {what} {name!r} n'est pas des nôtres")


class CarnetJob(Job):
    @property
    def func(self):
        if self.instance is not None or not TASK_PATH.fullmatch(self.func_name or ""):
            raise _refused("fonction", self.func_name)
        return super().func

    def _callback_checked(self, name: str | None) -> None:
        if name and name not in CALLBACKS:
            raise _refused("rappel", name)

    @property
    def success_callback(self):
        self._callback_checked(self._success_callback_name)
        return super().success_callback

    @property
    def failure_callback(self):
        self._callback_checked(self._failure_callback_name)
        return super().failure_callback

    @property
    def stopped_callback(self):
        self._callback_checked(self._stopped_callback_name)
        return super().stopped_callback
