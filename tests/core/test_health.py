"""/healthz and /readyz: the load balancer's view of a node. A dependency that does not
answer makes the node not ready, named, with the kind of error only."""

import pytest

from carnet.core import stores


@pytest.fixture(autouse=True)
def fresh_store():
    stores._store_for.cache_clear()
    yield
    stores._store_for.cache_clear()


def test_healthz_answers_without_touching_anything(client):
    # No database access is allowed in this test: the probe must not need one.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_lists_every_dependency_ready(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "storage": "ok", "queue": "ok"},
    }


@pytest.mark.django_db
def test_readyz_names_a_blob_folder_that_cannot_be(client, settings, tmp_path):
    (tmp_path / "un-fichier").write_bytes(b"")  # a file where the folder should go
    settings.STORAGE_URL = f"file://{tmp_path}/un-fichier/blobs"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "indisponible"
    assert body["checks"]["storage"] in ("erreur : FileExistsError", "erreur : NotADirectoryError")
    assert body["checks"]["database"] == "ok"
    assert str(tmp_path) not in response.content.decode()  # no path, no URL, no secret


@pytest.mark.django_db
def test_readyz_names_an_unreachable_object_store(client, settings):
    # Nothing listens on port 9 of loopback: the bucket cannot be reached.
    settings.STORAGE_URL = "s3://cle:secret-de-test@127.0.0.1:9/carnet?secure=0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"].startswith("erreur : ")
    assert "secret-de-test" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_names_an_unreachable_cache(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    from django.core.cache import caches

    caches._settings = None  # rebuilt from the new setting
    try:
        response = client.get("/readyz")
    finally:
        caches._settings = None
    assert response.status_code == 503
    assert response.json()["checks"]["cache"].startswith("erreur : ")
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_says_so_for_a_queue_it_cannot_check(client, settings):
    settings.TASKS = {"default": {"BACKEND": "un.autre.Backend"}}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["queue"] == "erreur : RuntimeError"


@pytest.mark.django_db
def test_the_cache_probe_is_not_fooled_by_another_probe_at_the_same_moment(monkeypatch):
    """Two probes at once (two nodes, two gunicorn workers, anyone calling /readyz): each
    reads back its own key, so a healthy cache is not reported broken."""
    from django.core.cache import cache

    from carnet.core import health

    real_set = cache.set
    written = []

    def set_then_another_probe(key, value, *args, **kwargs):
        real_set(key, value, *args, **kwargs)
        written.append(key)
        real_set(f"{health.PROBE}", "valeur-d-un-autre-noeud", *args, **kwargs)

    monkeypatch.setattr(cache, "set", set_then_another_probe)  # Django's cache, not ours
    health.readiness()  # no exception, and:
    assert health.readiness()["cache"] == "ok"
    assert written and all(key.startswith(f"{health.PROBE}:") for key in written)
    assert all(cache.get(key) is None for key in written)  # each probe cleans up
