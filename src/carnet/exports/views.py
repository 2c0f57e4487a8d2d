"""« Télécharger mes données » (/export/): the state of the account's exports, the request
(a confirmation page saying what the file holds), and the download, behind a fresh
re-authentication. Plain pages: a link reloads the state, no script needed."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from carnet.accounts import services as account_services
from carnet.core.http import client_address

from . import selectors, services
from .forms import ExportRequestForm

# Where the settings' re-authentication leads back to once the code is accepted (the session
# key `accounts.settings_views` reads, and a name it lists in REAUTH_TARGETS).
REAUTH_NEXT_KEY = "reauth_next"
REAUTH_BACK_TO = "exports:index"


def reauth_required(view):
    """A download needs a re-authentication younger than REAUTH_VALIDITY: the whole record
    leaves the service, a session left open on a shared computer must not be enough."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not account_services.reauth_fresh(request.session):
            request.session[REAUTH_NEXT_KEY] = REAUTH_BACK_TO
            messages.info(request, "Pour télécharger vos données, confirmez votre identité.")
            return redirect("parametres:reauth")
        return view(request, *args, **kwargs)

    return wrapper


def _validity_days() -> int:
    return settings.CARNET["EXPORT_VALIDITY"].days


@never_cache
@require_safe
def index(request):
    spaces = selectors.exportable_spaces(request.user)
    return render(
        request,
        "exports/index.html",
        {
            "rows": selectors.export_rows(request.user),
            "can_request": bool(spaces),
            "refusal": services.request_refusal(request.user) if spaces else "",
            "validity_days": _validity_days(),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def request_export(request):
    user = request.user
    spaces = selectors.exportable_spaces(user)
    if not spaces:
        raise Http404
    if request.method == "POST":
        allowed = {str(space.public_id) for space in spaces}
        if set(request.POST.getlist("profiles")) - allowed:
            raise Http404  # a space that is not theirs to export: like one that does not exist
        form = ExportRequestForm(request.POST, spaces=spaces, user=user)
        if form.is_valid():
            try:
                services.export_request(
                    user=user, spaces=form.chosen_spaces(), client=client_address(request)
                )
            except PermissionDenied as exc:
                raise Http404 from exc
            except services.ExportRefused as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    "Votre demande est enregistrée : l'export est en préparation. Vous recevrez "
                    "un e-mail dès qu'il sera prêt.",
                )
                return redirect("exports:index")
    else:
        form = ExportRequestForm(spaces=spaces, user=user)
    return render(
        request,
        "exports/request.html",
        {
            "form": form,
            "refusal": services.request_refusal(user),
            "validity_days": _validity_days(),
            "linked": any(getattr(s, "seen_by_representative", False) for s in spaces),
        },
        status=400 if form.errors else 200,
    )


@never_cache
@require_GET  # not HEAD: every request of the file is a download, audited
@reauth_required
def download(request, public_id):
    export = selectors.export_for_download(request.user, public_id)
    try:
        chunks = services.export_download(
            user=request.user, export=export, client=client_address(request)
        )
    except services.ExportUnreadable:
        return render(request, "exports/unreadable.html", status=500)
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    # No name nor title in the file's name: it may be seen in a downloads list.
    day = timezone.localdate(export.ready_at)
    response["Content-Disposition"] = f'attachment; filename="carnet-export-{day:%Y-%m-%d}.zip"'
    response["Content-Length"] = str(export.blob.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private"
    response["Content-Security-Policy"] = "sandbox"
    return response
