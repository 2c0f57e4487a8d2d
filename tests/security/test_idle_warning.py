"""The idle warning's server side: the timing in the page and the "Rester connecté" endpoint."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from carnet.core import clock
from tests.enrollment.helpers import PASSWORD

from .helpers import login, page

pytestmark = pytest.mark.django_db

KEEPALIVE = "/session/prolonger/"


def _box(client, url="/documents/") -> str:
    return re.search(r'<div id="session-warning"[^>]*></div>', page(client.get(url))).group(0)


def test_keepalive_renews_the_session_and_says_when_it_ends(client, patient):
    login(client, patient, PASSWORD)
    response = client.post(KEEPALIVE)
    assert response.status_code == 200
    assert response.json() == {"expires_in": 30 * 60, "extendable": True}
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 30 * 60
    assert "no-cache" in response["Cache-Control"]


def test_near_the_absolute_end_keepalive_cannot_extend(client, patient):
    login(client, patient, PASSWORD)
    with clock.travel(timedelta(hours=12) - timedelta(minutes=10)):
        answer = client.post(KEEPALIVE).json()
        box = _box(client)
    # ten minutes left (less the seconds the test itself took), not the 30 of the idle timeout
    assert answer["extendable"] is False
    assert 9 * 60 < answer["expires_in"] <= 10 * 60
    assert 'data-extendable="0"' in box
    assert 9 * 60 < int(re.search(r'data-expires-in="(\d+)"', box).group(1)) <= 10 * 60


def test_after_the_absolute_end_keepalive_answers_with_the_login_page(client, patient):
    login(client, patient, PASSWORD)
    with clock.travel(timedelta(hours=12, seconds=1)):
        response = client.post(KEEPALIVE)
    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/?next=")


def test_keepalive_is_post_only(client, patient):
    login(client, patient, PASSWORD)
    assert client.get(KEEPALIVE).status_code == 405


def test_without_javascript_the_warning_box_stays_empty(client, patient):
    login(client, patient, PASSWORD)
    box = _box(client)
    assert 'role="alert"' in box
    assert f'data-keepalive-url="{KEEPALIVE}"' in box
    assert 'data-expires-in="1800"' in box and 'data-extendable="1"' in box


def test_the_script_is_a_static_file_with_the_button():
    path = finders.find("carnet/session.js")
    assert path
    text = open(path, encoding="utf-8").read()  # noqa: SIM115
    assert "Rester connecté" in text
    assert "X-CSRFToken" in text
