"""The profile a patient acts for: their own, or a linked profile chosen with the switcher.

Checked again at every request (`link_for`): a link that ended, or a space that is no longer
active, sends the account back to its own profile at once. The rest of the code asks
`enrollment.selectors.space_for_user(user)`, which answers with the acting profile's space.
"""

from django.contrib import messages

from .selectors import link_for
from .services import ACTING_KEY


class ActingProfileMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        chosen = request.session.get(ACTING_KEY) if user.is_authenticated else None
        if chosen:
            link = link_for(user, chosen) if user.kind == user.Kind.PATIENT else None
            if link is None:
                request.session.pop(ACTING_KEY, None)
                messages.info(request, "Vous agissez de nouveau pour votre propre profil.")
            else:
                user.acting_link = link
        return self.get_response(request)
