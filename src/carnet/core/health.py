"""Liveness and readiness of a web node, for the load balancer and the orchestrator.

`/healthz`: the process answers (no dependency is touched: a database outage must not get
every node restarted). `/readyz`: the database, the cache, the blob store and the task queue
answer; a failure names which one, with the kind of error only (never a URL or a secret).
"""

import os
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from .stores import LocalStore, blob_store

PROBE = "readyz-probe"


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    # A key of this probe's own: probes of other nodes and workers run at the same moment.
    key = f"{PROBE}:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=30)
    try:
        if cache.get(key) != "ok":
            raise RuntimeError("cache sans mémoire")
    finally:
        cache.delete(key)


def _storage() -> None:
    store = blob_store()
    if isinstance(store, LocalStore):
        root = store.root
        root.mkdir(parents=True, exist_ok=True)  # as the first write would
        if not os.access(root, os.W_OK):
            raise PermissionError("dossier en lecture seule")
        return
    store.exists(PROBE)  # one request: reaches the bucket with our credentials


def _queue() -> None:
    backend = settings.TASKS["default"]["BACKEND"]
    if backend.startswith("django_tasks_db."):
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.exists()
    elif backend == "django_tasks_rq.RQBackend":
        import redis

        # A connection of the probe's own, with short timeouts: the queue's connection waits
        # minutes for work by design.
        for name in settings.TASKS["default"]["QUEUES"]:
            url = settings.RQ_QUEUES[name]["URL"]
            redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    elif backend != "django_tasks.backends.immediate.ImmediateBackend":
        # A backend this check does not know how to reach: say so rather than pass.
        raise RuntimeError("file d'attente non vérifiable")
    # the immediate backend (tests) runs tasks in the request: nothing to reach


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "cache": _cache,
    "storage": _storage,
    "queue": _queue,
}


def readiness() -> dict[str, str]:
    """Each dependency's state: "ok", or "erreur : <kind of error>"."""
    states = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 (any failure makes the node not ready)
            states[name] = f"erreur : {type(exc).__name__}"
        else:
            states[name] = "ok"
    return states
