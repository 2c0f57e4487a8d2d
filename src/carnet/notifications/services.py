"""Queueing and delivering emails and SMS through the outbox."""

import json
import logging
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string

from carnet.core import clock

from .models import OutboxMessage

log = logging.getLogger(__name__)


@dataclass
class Draft:
    channel: str
    to: str
    kind: str
    subject: str
    body: str


def render_email(template: str, context: dict, *, to: str, kind: str) -> Draft:
    """Render `notifications/<template>.txt`: first line is the subject, the rest the body."""
    text = render_to_string(f"notifications/{template}.txt", context)
    subject, _, body = text.partition("\n")
    return Draft(OutboxMessage.Channel.EMAIL, to, kind, subject.strip(), body.strip() + "\n")


def sms(text: str, *, to: str, kind: str) -> Draft:
    return Draft(OutboxMessage.Channel.SMS, to, kind, "", text)


def _channel_configured(channel: str) -> bool:
    return bool(settings.EMAIL_URL if channel == OutboxMessage.Channel.EMAIL else settings.SMS_URL)


def messages_queue(drafts: list[Draft]) -> list[OutboxMessage]:
    """Write messages in the caller's transaction; delivery is scheduled after commit."""
    now = clock.now()
    rows = [
        OutboxMessage(
            channel=d.channel,
            to=d.to,
            kind=d.kind,
            subject=d.subject,
            body=d.body,
            created_at=now,
            next_attempt_at=now,
            status=(
                OutboxMessage.Status.PENDING
                if _channel_configured(d.channel)
                else OutboxMessage.Status.HELD
            ),
        )
        for d in drafts
    ]
    OutboxMessage.objects.bulk_create(rows, batch_size=2000)
    if any(r.status == OutboxMessage.Status.PENDING for r in rows):
        transaction.on_commit(_enqueue_delivery)
    return rows


def message_queue(draft: Draft) -> OutboxMessage:
    return messages_queue([draft])[0]


def _enqueue_delivery():
    from .tasks import deliver_outbox

    deliver_outbox.enqueue()


def _send(message: OutboxMessage) -> None:
    if message.channel == OutboxMessage.Channel.EMAIL:
        EmailMessage(
            message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.to]
        ).send()
    else:
        payload = json.dumps({"to": message.to, "text": message.body}).encode()
        if not settings.SMS_URL.startswith(("https://", "http://")):
            raise ValueError("SMS_URL doit être une adresse http(s)")
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            settings.SMS_URL, data=payload, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (configured URL)
            response.read()


def outbox_deliver(*, limit: int = 500) -> int:
    """Send due messages; each one is claimed first so two workers never send it twice."""
    sent = 0
    now = clock.now()
    due = list(
        OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    for message_id in due:
        lease = clock.now() + settings.CARNET["OUTBOX_RETRY_DELAY"]
        claimed = OutboxMessage.objects.filter(
            id=message_id, status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now
        ).update(attempts=F("attempts") + 1, next_attempt_at=lease)
        if not claimed:
            continue
        message = OutboxMessage.objects.get(id=message_id)
        try:
            _send(message)
        except Exception as exc:  # any transport failure: retry later, bounded
            final = message.attempts >= settings.CARNET["OUTBOX_MAX_ATTEMPTS"]
            OutboxMessage.objects.filter(id=message_id).update(
                status=OutboxMessage.Status.FAILED if final else OutboxMessage.Status.PENDING,
                last_error=f"{exc.__class__.__name__}"[:300],
            )
            log.warning(
                "outbox message %s not sent (attempt %s)", message.public_id, message.attempts
            )
            continue
        OutboxMessage.objects.filter(id=message_id).update(
            status=OutboxMessage.Status.SENT, sent_at=clock.now(), body="", last_error=""
        )
        sent += 1
    return sent
