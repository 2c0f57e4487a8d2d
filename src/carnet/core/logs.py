"""Structured logs: one JSON object per line, each carrying the id of the request it belongs to.

The request id comes from our proxy (`X-Request-ID`, when it is a plain token and
CARNET_PROXY_COUNT says there is one) or is made here;
it is sent back in the response so that a person's report ("erreur à 14 h 02") can be found.
Log lines carry ids and facts, never health content (DESIGN invariant 7): what a record says is
decided where it is written; this module adds only time, level, logger and request id.
"""

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_ACCEPTED = re.compile(r"[A-Za-z0-9._-]{8,64}")  # a proxy's id; anything else is replaced
HEADER = "X-Request-ID"


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Only our own proxy's id is kept: without one, a client would choose how its
        # requests appear in the logs.
        given = request.headers.get(HEADER, "") if settings.CARNET_PROXY_COUNT > 0 else ""
        request_id = given if _ACCEPTED.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id
        # Kept until the response is closed: Django logs a 4xx/5xx after the middleware.
        _request_id.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


@receiver(request_finished)
def _request_done(sender, **kwargs):
    _request_id.set("")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (empty outside a request)."""

    def filter(self, record):
        record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
