"""Pages of share links: the owner's (list, create, detail, revoke) and the link's own viewer.

The owner's pages read the acting profile's space and are a 404 for a caregiver, as for an id
that does not exist. The link is shown once, in the answer to the POST that made it: only its
keyed hash is kept. The viewer (/partage/v/<token>/) needs no account: the token is the key,
and every link that does not serve (unknown, expired, revoked) gets the same page "Ce lien de
partage n'est plus valable" (410); such links are counted per client. Its pages are never
indexed, cached or sent as a referrer.
"""

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from carnet.accounts.services import session_key_cycle
from carnet.core import ratelimit
from carnet.core.http import client_address

from . import selectors, services
from .forms import PasscodeForm, ShareForm

UNLOCKED_KEY = "sharing_unlocked"  # the shares whose passcode this browser gave


# --- The owner's pages ----------------------------------------------------------------------


@never_cache
@require_safe
def index(request):
    space = selectors.sharing_space(request.user)
    groups = selectors.shares_of(space)
    return render(
        request,
        "sharing/index.html",
        {
            "groups": [
                ("Liens actifs", "actifs", groups[selectors.Status.ACTIVE]),
                ("Liens expirés", "expires", groups[selectors.Status.EXPIRED]),
                ("Liens révoqués", "revoques", groups[selectors.Status.REVOKED]),
            ],
            "any": any(groups.values()),
            "max_active": settings.CARNET["SHARE_MAX_ACTIVE"],
        },
    )


def _initial(request) -> dict:
    """ "Partager" from a document or the synthesis: what to tick already."""
    initial = {}
    wanted = request.GET.getlist("document")
    if wanted:
        initial["documents"] = wanted[: settings.CARNET["SHARE_MAX_DOCUMENTS"]]
    if request.GET.get("synthese") == "1":
        initial["include_synthesis"] = True
    return initial


def link_of(token: str) -> str:
    return settings.SERVICE_URL.rstrip("/") + reverse("sharing:view", args=[token])


@never_cache
@require_http_methods(["GET", "POST"])
def create(request):
    space = selectors.sharing_space(request.user)
    documents = selectors.shareable_documents(space)
    posted = request.method == "POST"
    form = ShareForm(
        request.POST if posted else None,
        documents=documents,
        initial=None if posted else _initial(request),
    )
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            share, token = services.share_create(
                user=request.user,
                space=space,
                label=data["label"],
                document_ids=data["documents"],
                include_synthesis=data["include_synthesis"],
                validity=data["validity"],
                passcode=data["passcode"],
                client=client_address(request),
            )
        except services.ShareError as exc:
            form.add_error(exc.field, exc.message)
        else:
            url = link_of(token)
            qr = segno.make(url, error="m")
            context = {
                "share": share,
                "url": url,
                "qr_data_uri": qr.svg_data_uri(scale=4, border=4),
                "qr_size": qr.symbol_size(scale=4, border=4)[0],
                "documents": len(data["documents"]),
            }
            return render(request, "sharing/created.html", context)
    status = 400 if form.is_bound else 200
    context = {"form": form, "has_documents": bool(documents)}
    return render(request, "sharing/create.html", context, status=status)


@never_cache
@require_safe
def detail(request, public_id):
    space = selectors.sharing_space(request.user)
    share = selectors.share_of_space(space, public_id)
    page = Paginator(
        selectors.share_events(share, reader_space=space), settings.CARNET["ACTIVITY_PAGE_SIZE"]
    ).get_page(request.GET.get("page"))
    status = selectors.share_status(share)
    return render(
        request,
        "sharing/detail.html",
        {
            "share": share,
            "status": status,
            "status_label": selectors.Status.LABELS[status],
            "active": status == selectors.Status.ACTIVE,
            "documents": list(selectors.shared_documents(share, reader_space=space)),
            "page": page,
            "openings": selectors.openings(page.object_list, space),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def revoke(request, public_id):
    space = selectors.sharing_space(request.user)
    share = selectors.share_of_space(space, public_id)
    if request.method == "POST":
        if services.share_revoke(user=request.user, share=share, client=client_address(request)):
            messages.success(
                request, f"Le lien « {share.label} » est révoqué : il ne s'ouvre plus."
            )
        return redirect("sharing:detail", public_id=share.public_id)
    if selectors.share_status(share) != selectors.Status.ACTIVE:
        return redirect("sharing:detail", public_id=share.public_id)
    return render(request, "sharing/revoke.html", {"share": share})


# --- The link's pages, without an account ---------------------------------------------------


def _private(response, *, referrer: str = "no-referrer"):
    """Never indexed, cached or sent on as a referrer: the address is the key."""
    response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    response["Referrer-Policy"] = referrer
    response["Cache-Control"] = "no-store"
    return response


def _gone(request, *, blocked_minutes: int = 0):
    return _private(
        render(
            request,
            "sharing/gone.html",
            {"blocked_minutes": blocked_minutes},
            status=429 if blocked_minutes else 410,
        )
    )


def _link(request, token: str):
    """(share, None) for a link that serves, else (None, the response to send)."""
    limits = settings.CARNET
    key = f"share-link:{client_address(request)}"
    if ratelimit.blocked_until(key):
        minutes = int(limits["SHARE_LOCKOUT"].total_seconds() // 60)
        return None, _gone(request, blocked_minutes=minutes)
    share = selectors.share_by_token(token)
    if share is None:
        ratelimit.record_failure(
            key,
            limit=limits["SHARE_BAD_LINKS_PER_CLIENT"],
            window=limits["SHARE_FAILURE_WINDOW"],
            lockout=limits["SHARE_LOCKOUT"],
        )
        return None, _gone(request)
    return share, None


def _unlocked(request, share) -> bool:
    return not share.has_passcode or str(share.public_id) in request.session.get(UNLOCKED_KEY, [])


def _passcode_page(request, share, form, *, status=200):
    until = ratelimit.blocked_until(services.passcode_key(share))
    context = {
        "form": form,
        "locked_until": until,
        "max_failures": settings.CARNET["SHARE_PASSCODE_MAX_FAILURES"],
        "lockout_minutes": int(settings.CARNET["SHARE_LOCKOUT"].total_seconds() // 60),
    }
    # "same-origin" here only: under "no-referrer" a browser sends its form with "Origin: null",
    # which the CSRF check refuses. Nothing on this page leads to another site.
    return _private(
        render(request, "sharing/passcode.html", context, status=429 if until else status),
        referrer="same-origin",
    )


@login_not_required
@require_http_methods(["GET", "HEAD", "POST"])
def view(request, token):
    share, refused = _link(request, token)
    if refused:
        return refused
    if not _unlocked(request, share):
        if request.method != "POST":
            return _passcode_page(request, share, PasscodeForm())
        form = PasscodeForm(request.POST)
        if not form.is_valid():
            return _passcode_page(request, share, form, status=400)
        try:
            services.share_unlock(
                share=share,
                passcode=form.cleaned_data["passcode"],
                client=client_address(request),
            )
        except services.PasscodeRefused as exc:
            if exc.locked_until is None:
                form.add_error(
                    "passcode",
                    "Ce code d'accès est incorrect. Vérifiez-le auprès de la personne qui vous "
                    "a envoyé le lien.",
                )
            return _passcode_page(request, share, form, status=400)
        session_key_cycle(request)
        request.session[UNLOCKED_KEY] = [
            *request.session.get(UNLOCKED_KEY, [])[-20:],
            str(share.public_id),
        ]
        return _private(redirect("sharing:view", token=token))
    if request.method == "POST":  # already unlocked: the page itself
        return _private(redirect("sharing:view", token=token))
    services.share_opened(share=share, client=client_address(request))
    return _private(
        render(
            request,
            "sharing/view.html",
            {
                "share": share,
                "person": share.space.person,
                "token": token,
                "documents": list(selectors.shared_documents(share)),
            },
        )
    )


def _not_found(request):
    return _private(render(request, "404.html", status=404))


@login_not_required
@require_safe
def document(request, token, public_id):
    """A shared document: PDF, JPEG and PNG inline in a sandbox unless "telecharger" is
    asked; the other types downloaded."""
    from carnet.documents.responses import file_response
    from carnet.documents.services import DocumentUnreadable

    share, refused = _link(request, token)
    if refused:
        return refused
    if not _unlocked(request, share):
        return _private(redirect("sharing:view", token=token))
    try:
        doc = selectors.shared_document(share, public_id)
    except Http404:
        return _not_found(request)
    download = "telecharger" in request.GET or not doc.inline
    try:
        data = services.share_document_content(
            share=share, doc=doc, download=download, client=client_address(request)
        )
    except DocumentUnreadable:
        return _private(
            render(request, "sharing/unreadable.html", {"doc": doc, "token": token}, status=500)
        )
    return _private(file_response(doc, data, download=download))


@login_not_required
@require_safe
def synthesis(request, token):
    from carnet.profile.pdf import synthesis_filename

    share, refused = _synthesis_share(request, token)
    if refused:
        return refused
    data = services.share_synthesis(share=share, client=client_address(request))
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(
        True, synthesis_filename(share.space)
    )
    response["Content-Length"] = str(len(data))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return _private(response)


@login_not_required
@require_safe
def summary(request, token):
    """The synthesis as an IPS document (FHIR JSON), when the link shares the synthesis."""
    share, refused = _synthesis_share(request, token)
    if refused:
        return refused
    data = services.share_summary(share=share, client=client_address(request))
    response = HttpResponse(data, content_type="application/fhir+json; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, "synthese-ips.json")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return _private(response)


def _synthesis_share(request, token):
    """(share, None) when the link is live, unlocked and shares the synthesis; else (None,
    the answer): the link's own refusal, the passcode page, or a 404."""
    share, refused = _link(request, token)
    if refused:
        return None, refused
    if not _unlocked(request, share):
        return None, _private(redirect("sharing:view", token=token))
    if not share.include_synthesis:
        return None, _not_found(request)
    return share, None
