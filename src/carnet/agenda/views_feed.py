"""Pages of the agenda's iCalendar side: the subscription address, its public feed, the import.

The address is shown once, in the answer to the POST that made it: only its keyed hash is
kept (not even in the session), so a later visit says since when it works and how to get a new
one. The feed itself (`feed_ics`) is public, since calendar apps cannot log in: the secret token
is the only key, and every address that does not serve answers the same 404.
"""

from urllib.parse import urlsplit, urlunsplit

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from carnet.core.forms import CarnetForm
from carnet.core.http import client_address

from . import feed_services, ical
from .selectors import agenda_space
from .services import AgendaError

ACCEPT = ".ics,text/calendar"


def _feed_urls(token: str) -> dict:
    path = reverse("agenda:feed_ics", kwargs={"token": token})
    url = settings.SERVICE_URL.rstrip("/") + path
    parts = urlsplit(url)
    # webcal://: phones and desktop calendars offer to subscribe to it directly
    webcal = urlunsplit(("webcal", *parts[1:]))
    qr = segno.make(url, error="m")
    return {
        "feed_url": url,
        "webcal_url": webcal,
        "qr_data_uri": qr.svg_data_uri(scale=4, border=4),
        "qr_size": qr.symbol_size(scale=4, border=4)[0],
    }


@never_cache
@require_safe
def feed(request):
    space = agenda_space(request.user)
    return render(
        request, "agenda/feed.html", {"active_since": feed_services.feed_active_since(space)}
    )


@never_cache
@require_POST
def feed_create(request):
    """Makes the address (or, confirmed, a new one) and shows it, this once."""
    space = agenda_space(request.user)
    active_since = feed_services.feed_active_since(space)
    if active_since is not None and request.POST.get("confirmer") != "1":
        return redirect("agenda:feed_renew")
    try:
        token = feed_services.feed_token_create(
            user=request.user, space=space, client=client_address(request)
        )
    except AgendaError as exc:  # closed meanwhile
        raise Http404 from exc
    context = {"renewed": active_since is not None, **_feed_urls(token)}
    return render(request, "agenda/feed_created.html", context)


@never_cache
@require_safe
def feed_renew(request):
    """ "Générer une nouvelle adresse": says that the current one will stop, then posts."""
    space = agenda_space(request.user)
    if feed_services.feed_active_since(space) is None:
        return redirect("agenda:feed")
    return render(request, "agenda/feed_renew.html")


@never_cache
@require_http_methods(["GET", "POST"])
def feed_revoke(request):
    space = agenda_space(request.user)
    if request.method == "POST":
        if feed_services.feed_revoke(
            user=request.user, space=space, client=client_address(request)
        ):
            messages.success(
                request,
                "Votre adresse d'abonnement est désactivée : votre agenda n'y est plus publié.",
            )
        return redirect("agenda:feed")
    if feed_services.feed_active_since(space) is None:
        return redirect("agenda:feed")
    return render(request, "agenda/feed_revoke.html")


@login_not_required
@require_safe
def feed_ics(request, token):
    """The feed, for calendar apps (no login, no session: the token is the key)."""
    space = feed_services.feed_space(token)
    if space is None:
        response = HttpResponse(
            "Cette adresse d'abonnement n'existe pas ou a été désactivée.\n",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    else:
        response = HttpResponse(
            ical.feed_calendar(space), content_type="text/calendar; charset=utf-8"
        )
        response["Content-Disposition"] = 'inline; filename="carnet-agenda.ics"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


class IcsImportForm(CarnetForm):
    file = forms.FileField(
        label="Fichier .ics",
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
        error_messages={
            "required": "Choisissez le fichier .ics à importer.",
            "empty": "Le fichier est vide.",
            "invalid": "Le fichier n'a pas pu être reçu : recommencez.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limits = settings.CARNET
        size = ical.size_label(limits["AGENDA_ICS_MAX_BYTES"])
        self.fields["file"].help_text = (
            "Un fichier iCalendar exporté de votre service de prise de rendez-vous ou de votre "
            f"application d'agenda. Taille maximale : {size}, "
            f"{ical.count_label(limits['AGENDA_ICS_MAX_EVENTS'])} événements au plus."
        )
        self._describe()

    def clean_file(self):
        getlist = getattr(self.files, "getlist", None)
        if getlist and len(getlist(self.add_prefix("file"))) > 1:
            raise forms.ValidationError("Un seul fichier peut être importé à la fois.")
        upload = self.cleaned_data["file"]
        limit = settings.CARNET["AGENDA_ICS_MAX_BYTES"]
        if upload.size > limit:  # refused before it is read
            raise forms.ValidationError(
                f"Le fichier est trop volumineux : {ical.size_label(limit)} au plus."
            )
        return upload


@never_cache
@require_http_methods(["GET", "POST"])
def ics_import(request):
    space = agenda_space(request.user)
    posted = request.method == "POST"
    form = IcsImportForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        upload = form.cleaned_data["file"]
        upload.seek(0)
        try:
            result = feed_services.ics_import(
                user=request.user,
                space=space,
                data=upload.read(),
                filename=upload.name or "",
                client=client_address(request),
            )
        except ical.IcsError as exc:
            form.add_error("file", str(exc))
        except AgendaError as exc:  # the space closed meanwhile
            raise Http404 from exc
        else:
            messages.success(request, result.summary())
            return redirect("agenda:ics_import")
    status = 400 if form.is_bound else 200
    return render(request, "agenda/import.html", {"form": form}, status=status)
