"""The task queue on Redis (RQ, through django-tasks-rq), as production runs it with REDIS_URL:
a task enqueued after commit waits in Redis, `carnet worker` runs it, /readyz and /metrics
read the queue. A queue of its own per test, on the machine's Redis server."""

import json
import os
import zlib

import pytest
import redis
from django.core.exceptions import SuspiciousOperation

from carnet.core.management.commands.worker import RQ_WORKER_OPTIONS
from carnet.notifications.models import OutboxMessage
from carnet.notifications.services import message_queue, render_email

REDIS_SERVER = os.environ.get("CARNET_TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture
def rq_queue(settings, worker_id):
    """TASKS on RQ, in a Redis database of this test process's own (pytest-xdist runs several
    processes), emptied before and after."""
    index = 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))
    url = f"{REDIS_SERVER}/{11 + index}"
    connection = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        connection.flushdb()
    except redis.RedisError:
        if os.environ.get("CARNET_REQUIRE_SERVICES"):
            pytest.fail(f"Redis ne répond pas sur {REDIS_SERVER} (CARNET_REQUIRE_SERVICES)")
        pytest.skip(f"Redis ne répond pas sur {REDIS_SERVER}")
    import django_rq

    settings.RQ_QUEUES = {"default": {**settings.RQ_QUEUES["default"], "URL": url}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    try:
        yield django_rq.get_queue("default")
    finally:
        connection.flushdb()


def work(queue):
    """`carnet worker`'s RQ worker (its options), until the queue is empty. Built directly:
    the rqworker command first closes the database connections, here the test's own."""
    from django_rq.workers import get_worker

    get_worker(queue.name, **RQ_WORKER_OPTIONS).work(burst=True)


def queue_depth(scrape) -> dict:
    return {
        dict(labels)["status"]: count
        for (name, labels), count in scrape().items()
        if name == "carnet_queue_depth"
    }


@pytest.mark.django_db
def test_a_message_waits_in_redis_until_the_worker_sends_it(
    rq_queue, smtp_server, client, settings, scrape, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = message_queue(
            render_email(
                "mot_de_passe_modifie", {}, to="alice@exemple.fr", kind="mot_de_passe_modifie"
            )
        )
    # Enqueued after commit, in Redis: nothing sent yet, and /metrics says one task waits.
    assert rq_queue.count == 1
    # Stored as JSON (zlib-compressed by rq), never as a pickle.
    [job_id] = rq_queue.job_ids
    stored = rq_queue.connection.hget(f"rq:job:{job_id}", "data")
    assert json.loads(zlib.decompress(stored))[0] == "carnet.notifications.tasks.deliver_outbox"
    assert smtp_server.messages == []
    assert queue_depth(scrape) == {"READY": 1, "RUNNING": 0}

    work(rq_queue)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert [m["to"] for m in smtp_server.messages] == [["alice@exemple.fr"]]
    assert rq_queue.count == 0
    assert rq_queue.finished_job_registry.count == 1
    assert queue_depth(scrape) == {"READY": 0, "RUNNING": 0}


@pytest.mark.django_db
def test_a_second_run_of_the_task_sends_nothing_twice(
    rq_queue, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message_queue(
            render_email(
                "mot_de_passe_modifie", {}, to="bob@exemple.fr", kind="mot_de_passe_modifie"
            )
        )
    from carnet.notifications.tasks import deliver_outbox

    deliver_outbox.enqueue()  # as if a second node had also asked for a delivery
    assert rq_queue.count == 2
    work(rq_queue)
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_readyz_reaches_the_redis_queue(rq_queue, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["queue"] == "ok"


@pytest.mark.django_db
def test_readyz_names_an_unreachable_redis_queue(client, settings):
    settings.RQ_QUEUES = {"injoignable": {"URL": "redis://127.0.0.1:9/0"}}  # nothing listens
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["injoignable"]}
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["queue"] == "erreur : ConnectionError"
    assert "6379" not in response.content.decode() and ":9" not in response.content.decode()


# --- What a job written to Redis by someone else may make the worker do ----------------------

CALLED = []


def gadget(*args):
    """Any importable callable: called, it proves a name read from Redis was imported and run."""
    CALLED.append(len(args))


@pytest.mark.django_db
def test_a_job_cannot_name_its_own_callback(rq_queue):
    from rq.callbacks import Callback

    CALLED.clear()
    job = rq_queue.create_job(
        "carnet.notifications.tasks.deliver_outbox",  # a genuine task…
        meta={"backend_name": "default"},
        on_success=Callback(f"{__name__}.gadget"),  # …with a callback of the writer's choice
    )
    rq_queue.enqueue_job(job)
    work(rq_queue)
    assert CALLED == []


@pytest.mark.django_db
def test_a_job_cannot_name_a_function_outside_our_tasks(rq_queue):
    import sys

    CALLED.clear()
    # `this` (the Zen of Python) prints when imported: a module with a side effect at import.
    assert "this" not in sys.modules
    for name in (f"{__name__}.gadget", "this.s", "os.getcwd"):
        rq_queue.enqueue_job(rq_queue.create_job(name, meta={"backend_name": "default"}))
    work(rq_queue)
    assert CALLED == []
    assert "this" not in sys.modules  # refused before any import
    assert rq_queue.failed_job_registry.count == 3


@pytest.mark.django_db
def test_a_job_cannot_name_its_own_failure_or_stop_callback(rq_queue):
    from rq.callbacks import Callback

    from carnet.core.jobs import CarnetJob

    CALLED.clear()
    job = rq_queue.create_job(
        "os.getcwd",  # refused: the job fails…
        meta={"backend_name": "default"},
        on_failure=Callback(f"{__name__}.gadget"),  # …and its failure would call this
        on_stopped=Callback(f"{__name__}.gadget"),  # (rq calls it when a job is stopped)
    )
    rq_queue.enqueue_job(job)
    work(rq_queue)
    assert CALLED == []
    assert rq_queue.failed_job_registry.count == 1
    read_back = CarnetJob.fetch(
        job.id, connection=rq_queue.connection, serializer=rq_queue.serializer
    )
    for callback in ("stopped_callback", "failure_callback"):
        with pytest.raises(SuspiciousOperation, match="rappel"):
            getattr(read_back, callback)
