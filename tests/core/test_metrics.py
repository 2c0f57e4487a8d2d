"""/metrics for Prometheus: behind a bearer token; requests counted per view (the pattern's
name, never a path), the queue depth, the outbox backlog and each sweep's last run."""

import pytest

from carnet.core import clock
from carnet.notifications.models import OutboxMessage
from carnet.tick import run_tick
from tests.core.prometheus import TOKEN, value


@pytest.mark.django_db
def test_metrics_are_off_without_a_token(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_metrics_need_the_bearer_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer pas-le-bon")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_requests_are_counted_per_view_name_never_per_path(client, scrape):
    before = scrape()
    for _ in range(3):
        client.get("/healthz")
    client.get("/documents/00000000-0000-0000-0000-000000000000/")  # a path with an id
    after = scrape()
    counted = "carnet_http_requests_total"
    healthz = {"view": "core:healthz", "method": "GET", "status": "2xx"}
    assert value(after, counted, **healthz) - value(before, counted, **healthz) == 3
    text = str(after)
    assert "00000000-0000" not in text  # ids stay out of the labels
    assert value(after, "carnet_http_request_duration_seconds_count", view="core:healthz") >= 3


@pytest.mark.django_db
def test_queue_outbox_and_sweeps_are_read_from_the_shared_stores(scrape):
    assert value(scrape(), "carnet_outbox_backlog") == 0
    now = clock.now()
    for n in range(2):  # two messages waiting for delivery (as with EMAIL_URL set)
        OutboxMessage.objects.create(
            channel="email", to=f"p{n}@exemple.fr", kind="activation", created_at=now,
            next_attempt_at=now, status=OutboxMessage.Status.PENDING,
        )  # fmt: skip
    samples = scrape()
    assert value(samples, "carnet_outbox_backlog") == 2
    # The tests' tasks run at once: none waits, and the gauge says so (it is there, at 0).
    assert samples[("carnet_queue_depth", (("status", "READY"),))] == 0
    run_tick()
    samples = scrape()
    assert value(samples, "carnet_sweep_last_run_timestamp_seconds", sweep="envoi_messages") > 0
    assert ("carnet_sweep_last_duration_seconds", (("sweep", "purge"),)) in samples


@pytest.mark.django_db
def test_a_method_a_client_makes_up_is_not_a_new_series(client, scrape):
    """gunicorn lets through any 3-20 letter method: each would be a series, for ever."""
    for n in range(20):
        client.generic(f"ZZ{n:04d}", "/")
    samples = scrape()
    methods = {
        dict(labels).get("method")
        for (name, labels) in samples
        if name == "carnet_http_requests_total"
    }
    assert "autre" in methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "autre"}
