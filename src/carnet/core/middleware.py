"""Response headers Django has no setting for: Permissions-Policy (settings.PERMISSIONS_POLICY)."""

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
