"""Response headers Django has no setting for: Permissions-Policy (settings.PERMISSIONS_POLICY)."""

import re

from django.conf import settings


def permissions_policy(features: dict[str, list[str]]) -> str:
    """{"camera": [], "fullscreen": ["self"]} → 'camera=(), fullscreen=(self)'."""
    return ", ".join(f"{name}=({' '.join(allow)})" for name, allow in features.items())


class PermissionsPolicyMiddleware:
    """Turns off the browser features no page of ours uses (camera, microphone, location…)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = permissions_policy(getattr(settings, "PERMISSIONS_POLICY", {}))
        if policy and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = policy
        return response


class BodySizeLimitMiddleware:
    """Refuses a request whose Content-Length exceeds the largest document plus the form around
    it, before a byte of the body is read (413, in French, with a way back)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.shortcuts import render

        limit = settings.DOCUMENT_MAX_BYTES
        if re.match(settings.MESSAGE_BODY_PATHS, request.path_info):
            limit = settings.MESSAGE_BODY_MAX_BYTES
        limit += settings.UPLOAD_BODY_OVERHEAD
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            from carnet.documents.files import megabytes

            max_size = megabytes(limit - settings.UPLOAD_BODY_OVERHEAD)
            response = render(request, "413.html", {"max_size": max_size}, status=413)
            response["Connection"] = "close"  # the unread body must not be taken for a request
            return response
        return self.get_response(request)
