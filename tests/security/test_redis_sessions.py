"""With REDIS_URL, sessions live in Redis (through the cache): logout and suspension still end
them server-side. Runs against a real redis-server on loopback, skipped where there is none."""

import shutil
import socket
import subprocess
import time

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client

from carnet.accounts import services
from tests.enrollment.helpers import PASSWORD

from .helpers import login, session_exists, session_key

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]

PRIVATE = "/documents/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_sessions(settings, tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            tmp_path,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):  # wait until it accepts connections (not a timing assertion)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        settings.CACHES = {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/0",
            }
        }
        settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
        yield caches["default"]
    finally:
        server.terminate()
        server.wait()


def test_sessions_are_in_redis_and_logout_deletes_them(client, patient, redis_sessions):
    login(client, patient, PASSWORD)
    key = session_key(client)
    assert redis_sessions.get(f"django.contrib.sessions.cache{key}")["_auth_user_id"]
    assert client.get(PRIVATE).status_code == 200
    client.post("/deconnexion/")
    assert not session_exists(key)
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert replay.get(PRIVATE).status_code == 302


def test_suspension_deletes_the_redis_sessions(client, patient, operator, redis_sessions):
    login(client, patient, PASSWORD)
    key = session_key(client)
    assert services.account_suspend(operator=operator, user=patient) == 1
    assert not session_exists(key)
    assert client.get(PRIVATE)["Location"].startswith("/connexion/?next=")
