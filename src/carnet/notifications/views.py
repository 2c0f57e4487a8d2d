"""The outbox, readable only in demo mode, so a newcomer can read their codes."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .models import OutboxMessage


@login_not_required
@require_safe
def outbox(request):
    if not settings.DEMO_MODE:
        raise Http404
    return render(
        request,
        "notifications/outbox.html",
        {"messages_list": OutboxMessage.objects.order_by("-created_at", "-id")[:50]},
    )
