"""Structured logs: every request gets an id (ours, or a plain one from our proxy), sent back
in the response and carried by every log line written while it runs; the JSON format is one
object per line."""

import json
import logging

import pytest

from carnet.core.logs import JsonFormatter, RequestIdFilter


@pytest.fixture
def lines():
    """The records of the request, as the console handler formats them in JSON."""
    written = []

    class Keep(logging.Handler):
        def emit(self, record):
            written.append(json.loads(self.format(record)))

    handler = Keep()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield written
    logger.removeHandler(handler)


@pytest.mark.django_db
def test_each_response_carries_a_fresh_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.django_db
def test_a_plain_id_from_our_proxy_is_kept_anything_else_replaced(client, settings):
    settings.CARNET_PROXY_COUNT = 1
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c2e-0001")
    assert kept["X-Request-ID"] == "lb-7f3a9c2e-0001"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID="x\r\nSet-Cookie: a=b")
    assert forged["X-Request-ID"] != "x\r\nSet-Cookie: a=b"
    assert len(forged["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_without_our_proxy_a_client_cannot_choose_its_request_id(client, settings):
    settings.CARNET_PROXY_COUNT = 0
    response = client.get("/healthz", HTTP_X_REQUEST_ID="id-choisi-par-le-client")
    assert response["X-Request-ID"] != "id-choisi-par-le-client"
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_log_lines_of_a_request_carry_its_id_in_json(client, lines):
    response = client.get("/page-qui-n-existe-pas/")  # Django logs the 404
    assert response.status_code == 404
    [line] = [entry for entry in lines if entry["logger"] == "django.request"]
    assert line["request_id"] == response["X-Request-ID"]
    assert line["level"] == "WARNING"
    assert line["message"].startswith("Not Found: /page-qui-n-existe-pas/")
    assert set(line) == {"time", "level", "logger", "message", "request_id"}


def test_outside_a_request_the_id_is_empty():
    record = logging.LogRecord("carnet.tick", logging.INFO, __file__, 1, "sweep %s", ("x",), None)
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "" and entry["message"] == "sweep x"
