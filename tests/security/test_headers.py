"""Browser security: headers on every page, no inline script or style, cookie flags, HSTS."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.test import Client

from carnet.accounts.middleware import SHARED_VIEWS, area_kind
from carnet.settings import cookie_settings
from tests.enrollment.helpers import PASSWORD

from .helpers import login
from .pages import header_problems, inline_problems
from .urlmap import route_ids, routes

ROUTES = routes()
PUBLIC = [r for r in ROUTES if r.public]
PRIVATE_PLAIN = [r for r in ROUTES if not r.public and not r.params]
ANONYMOUS_EXTRA = {
    "not found": "/cette-page-n-existe-pas/",
    "stylesheet": "/static/carnet/carnet.css",
    "script": "/static/carnet/session.js",
}


def _check(response, where: str):
    problems = header_problems(response) + inline_problems(response)
    assert not problems, f"{where} ({response.status_code}): {problems}"


# --- Every page an anonymous visitor can reach --------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("route", PUBLIC, ids=route_ids(PUBLIC))
def test_public_pages_carry_the_headers_and_no_inline_code(client, route):
    response = client.get(route.url)
    _check(response, route.url)
    if response.status_code == 302:
        _check(client.get(response["Location"]), response["Location"])


@pytest.mark.django_db
@pytest.mark.parametrize("route", PRIVATE_PLAIN, ids=route_ids(PRIVATE_PLAIN))
def test_the_login_redirect_of_private_pages_carries_the_headers(client, route):
    _check(client.get(route.url), route.url)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ANONYMOUS_EXTRA.values(), ids=ANONYMOUS_EXTRA.keys())
def test_error_pages_and_static_files_carry_the_headers(client, url):
    _check(client.get(url), url)


@pytest.mark.django_db
def test_the_csrf_failure_page_is_ours_in_french_with_the_headers():
    response = Client(enforce_csrf_checks=True).post("/connexion/", {"identifier": "x"})
    assert response.status_code == 403
    assert "Le formulaire n'a pas pu être envoyé" in response.content.decode()
    _check(response, "CSRF failure")


# --- Logged-in pages ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["patient", "professional", "operator"])
def test_logged_in_pages_carry_the_headers_and_no_inline_code(client, request, passwords, who):
    user = request.getfixturevalue(who)
    home = login(client, user, passwords[user.kind])["Location"]
    _check(client.get(home), home)
    own = [r for r in PRIVATE_PLAIN if area_kind(r.url) == user.kind and r.name not in SHARED_VIEWS]
    assert own
    for route in own:
        _check(client.get(route.url, follow=True), route.url)


@pytest.mark.django_db
def test_the_idle_warning_script_is_on_logged_in_pages_only(client, patient):
    visitor = client.get("/").content.decode()
    assert "session.js" not in visitor and "session-warning" not in visitor
    login(client, patient, PASSWORD)
    page = client.get("/documents/").content.decode()
    assert '<script src="/static/carnet/session.js" defer></script>' in page
    assert 'id="session-warning"' in page and 'role="alert"' in page
    assert 'data-expires-in="1800"' in page and 'data-warn-before="120"' in page


# --- Cookies ------------------------------------------------------------------------------


def _cookie(response, name):
    assert name in response.cookies, (name, list(response.cookies))
    return response.cookies[name]


@pytest.mark.django_db
def test_cookies_are_httponly_and_samesite_lax(client, patient):
    login(client, patient, PASSWORD)
    response = client.get("/connexion/")  # renders a form: sets the CSRF cookie
    session = _cookie(response, django_settings.SESSION_COOKIE_NAME)
    csrf = _cookie(client.get("/connexion/"), django_settings.CSRF_COOKIE_NAME)
    for cookie in (session, csrf):
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert not cookie["domain"]


@pytest.mark.django_db
def test_with_secure_cookies_they_are_secure_and_host_prefixed(client, patient, settings):
    for name, value in cookie_settings(secure=True).items():
        setattr(settings, name, value)
    login(client, patient, PASSWORD)
    response = client.get("/connexion/")
    session = _cookie(response, "__Host-sessionid")
    csrf = _cookie(response, "__Host-csrftoken")
    for cookie in (session, csrf):
        # what a browser demands of a "__Host-" cookie: Secure, path /, no Domain
        assert cookie["secure"] is True
        assert cookie["path"] == "/"
        assert not cookie["domain"]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
    assert client.get("/documents/").status_code == 200


def _settings_with(tmp_path, **environ) -> dict:
    """Import carnet.settings in a fresh interpreter with these environment variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CARNET_", "REDIS_URL", "DJANGO_SETTINGS"))
    }
    env.update(CARNET_VAR_DIR=str(tmp_path), **environ)
    names = [
        "SECURE_COOKIES",
        "SESSION_COOKIE_NAME",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_NAME",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_PROXY_SSL_HEADER",
        "SESSION_ENGINE",
        "CACHES",
        "SESSION_COOKIE_AGE",
        "SESSION_SAVE_EVERY_REQUEST",
    ]
    code = (
        "import json, carnet.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {names!r}}}, default=str))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_production_defaults(tmp_path):
    values = _settings_with(tmp_path)
    assert values["SESSION_COOKIE_NAME"] == "__Host-sessionid"
    assert values["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert values["SESSION_COOKIE_SECURE"] is values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SESSION_ENGINE"] == "django.contrib.sessions.backends.db"
    assert values["SESSION_COOKIE_AGE"] == 30 * 60
    assert values["SESSION_SAVE_EVERY_REQUEST"] is False  # renewed by accounts.middleware
    assert values["SECURE_PROXY_SSL_HEADER"] is None


@pytest.mark.parametrize("environ", [{"CARNET_DEMO": "1"}, {"CARNET_SECURE_COOKIES": "0"}])
def test_without_secure_cookies_the_names_are_plain(tmp_path, environ):
    values = _settings_with(tmp_path, **environ)
    assert values["SESSION_COOKIE_NAME"] == "sessionid"
    assert values["CSRF_COOKIE_NAME"] == "csrftoken"
    assert values["SESSION_COOKIE_SECURE"] is values["CSRF_COOKIE_SECURE"] is False


def test_demo_mode_sends_no_hsts(tmp_path):
    assert _settings_with(tmp_path, CARNET_DEMO="1")["SECURE_HSTS_SECONDS"] == 0


def test_with_redis_sessions_go_to_the_redis_cache(tmp_path):
    values = _settings_with(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")
    assert values["SESSION_ENGINE"] == "django.contrib.sessions.backends.cache"
    assert values["CACHES"]["default"]["BACKEND"] == "django_redis.cache.RedisCache"


def test_behind_our_proxy_https_is_read_from_x_forwarded_proto(tmp_path):
    values = _settings_with(tmp_path, CARNET_PROXY_COUNT="1")
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.django_db
def test_hsts_is_sent_over_https_for_a_year_with_subdomains_and_preload(client, settings):
    settings.SECURE_HSTS_SECONDS = 365 * 24 * 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "Strict-Transport-Security" not in client.get("/")  # never over plain HTTP


def test_the_test_settings_run_without_secure_cookies_like_the_demo():
    assert django_settings.SESSION_COOKIE_NAME == "sessionid"
    assert django_settings.SESSION_COOKIE_SECURE is False


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        '<script src="/x.js">alert(1)</script>',
        "<style>p {}</style>",
        '<p style="color: red">x</p>',
        '<button onclick="go()">x</button>',
        '<a href="javascript:go()">x</a>',
    ],
)
def test_the_inline_check_catches_inline_code(body):
    assert inline_problems(HttpResponse(f"<!doctype html><body>{body}</body>"))
    assert not inline_problems(HttpResponse('<script src="/x.js" defer></script><p>x</p>'))
