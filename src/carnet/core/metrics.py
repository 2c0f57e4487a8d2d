"""Prometheus metrics at `/metrics` (prometheus_client, ADR 0023), behind a bearer token.

Counted in each web process: requests and their latency per view (the URL pattern's name,
never a path: paths carry ids). Read at each scrape from the shared stores, so that every node
gives the same figures: the task queue's depth, the outbox backlog, and the last run of each
sweep (`carnet tick` writes it to the cache). With several gunicorn workers, set
PROMETHEUS_MULTIPROC_DIR (a temporary folder, emptied at start): prometheus_client adds the
workers' counts up.
"""

import hmac
import os
import time

from django.conf import settings
from django.core.cache import cache
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter(
    "carnet_http_requests_total", "Requêtes HTTP traitées", ["view", "method", "status"]
)
LATENCY = Histogram(
    "carnet_http_request_duration_seconds",
    "Durée de traitement des requêtes HTTP",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
)
SWEEP_KEY = "metrics:sweep:{}"
SWEEP_FAILURE_KEY = "metrics:sweep-failure:{}"
# The method label's values: a client chooses the method, and each new one would be a new
# series in every process, for ever.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match else "non_resolu"
        method = request.method if request.method in METHODS else "autre"
        REQUESTS.labels(view, method, f"{response.status_code // 100}xx").inc()
        LATENCY.labels(view).observe(time.perf_counter() - started)
        return response


def sweep_record(name: str, count: int, seconds: float) -> None:
    """Called by `carnet tick` after each sweep (any process: the cache is shared)."""
    cache.set(SWEEP_KEY.format(name), {"count": count, "seconds": seconds, "at": time.time()}, None)


def sweep_failure_record(name: str) -> None:
    """A sweep that raised: its time, for an alert (the error itself is in the worker's log)."""
    cache.set(SWEEP_FAILURE_KEY.format(name), time.time(), None)


class SharedStateCollector:
    """Gauges read from the database and the cache at scrape time."""

    def collect(self):
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult

        from carnet.notifications.models import OutboxMessage
        from carnet.tick import SWEEPS

        queue = GaugeMetricFamily("carnet_queue_depth", "Tâches en attente", labels=["status"])
        if settings.TASKS["default"]["BACKEND"] == "django_tasks_rq.RQBackend":
            import django_rq

            waiting = running = 0
            for name in settings.TASKS["default"]["QUEUES"]:
                rq_queue = django_rq.get_queue(name)
                waiting += rq_queue.count
                running += rq_queue.started_job_registry.count
            queue.add_metric([TaskResultStatus.READY], waiting)
            queue.add_metric([TaskResultStatus.RUNNING], running)
        else:
            for status in (TaskResultStatus.READY, TaskResultStatus.RUNNING):
                queue.add_metric([status], DBTaskResult.objects.filter(status=status).count())
        yield queue
        outbox = GaugeMetricFamily("carnet_outbox_backlog", "E-mails et SMS à envoyer")
        outbox.add_metric([], OutboxMessage.objects.filter(status="pending").count())
        yield outbox
        seconds = GaugeMetricFamily(
            "carnet_sweep_last_duration_seconds", "Durée du dernier passage", labels=["sweep"]
        )
        count = GaugeMetricFamily(
            "carnet_sweep_last_count", "Éléments traités au dernier passage", labels=["sweep"]
        )
        at = GaugeMetricFamily(
            "carnet_sweep_last_run_timestamp_seconds", "Heure du dernier passage", labels=["sweep"]
        )
        failed_at = GaugeMetricFamily(
            "carnet_sweep_last_failure_timestamp_seconds",
            "Heure du dernier passage en échec",
            labels=["sweep"],
        )
        keys = [key.format(name) for name, _ in SWEEPS for key in (SWEEP_KEY, SWEEP_FAILURE_KEY)]
        stored = cache.get_many(keys)
        for name, _ in SWEEPS:
            run = stored.get(SWEEP_KEY.format(name))
            if run:
                seconds.add_metric([name], run["seconds"])
                count.add_metric([name], run["count"])
                at.add_metric([name], run["at"])
            failure = stored.get(SWEEP_FAILURE_KEY.format(name))
            if failure:
                failed_at.add_metric([name], failure)
        yield from (seconds, count, at, failed_at)


def exposition() -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # every worker's counts, added up
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(SharedStateCollector())
    return generate_latest(registry)


def token_valid(header: str) -> bool:
    expected = settings.METRICS_TOKEN
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").encode(), expected.encode())
