"""The link of an identity to an existing account is made when that account logs in with its
password and code (the login's own steps), in the same session."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.urls import reverse

from carnet.core.http import client_address

from . import services


@receiver(user_logged_in)
def link_after_login(sender, request, user, **kwargs):
    if request is None or services.LINK_KEY not in request.session:
        return
    linked = services.link_pending_complete(request.session, user, client=client_address(request))
    if linked:
        services.logout_remember(
            request, linked["provider"], linked["id_token"], login_url=reverse("accounts:login")
        )
