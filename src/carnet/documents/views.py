"""Pages of "Mes documents": thin views around the selectors and services."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from carnet.core.http import client_address
from carnet.core.reversal import links_by_public_id

from . import selectors, services
from .forms import DocumentSettingsForm, EditForm, UploadForm
from .models import Category
from .responses import file_response


@never_cache
@require_http_methods(["GET"])
def index(request):
    space = selectors.documents_space(request.user)
    query = selectors.ListQuery.from_params(request.GET)
    listed = selectors.documents_list(space, query)
    page = listed.page
    links = links_by_public_id("documents:detail", [doc["public_id"] for doc in page])
    return render(
        request,
        "documents/index.html",
        {
            "page": page,
            "rows": zip(page, links, strict=True),
            "query": query,
            "sorts": [(key, label) for key, (label, _) in selectors.SORTS.items()],
            # The filters after « Tous les documents »: the pinned ones, then each category.
            "filters": [(selectors.PINNED, "Épinglés"), *Category.choices],
            "search_max": settings.CARNET["DOCUMENT_SEARCH_MAX_LENGTH"],
            "waiting": listed.waiting,
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def add(request):
    space = selectors.documents_space(request.user)
    posted = request.method == "POST"
    # ?categorie=DIR_ANT: the profile's "Entourage et volontés" links here for the directives.
    wanted = request.GET.get("categorie", "")
    initial = {"category": wanted} if wanted in Category.values else {}
    form = UploadForm(
        request.POST if posted else None, request.FILES if posted else None, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            doc = services.document_add(
                user=request.user,
                space=space,
                checked=data["file"],
                title=data["title"],
                category=data["category"],
                document_date=data["document_date"],
                client=client_address(request),
            )
        except services.SpaceNotWritable as exc:  # closed while the file was on its way
            raise Http404 from exc
        messages.success(request, f"Le document « {doc.title} » a été ajouté.")
        return redirect("documents:detail", public_id=doc.public_id)
    status = 400 if form.is_bound else 200
    context = {"form": form, "max_bytes": settings.CARNET["DOCUMENT_MAX_BYTES"]}
    return render(request, "documents/add.html", context, status=status)


@never_cache
@require_http_methods(["GET"])
def detail(request, public_id):
    space = selectors.documents_space(request.user)
    doc = selectors.document_of_space(space, public_id)
    return render(request, "documents/detail.html", {"doc": doc})


@never_cache
@require_http_methods(["GET"])
def content(request, public_id):
    """The file itself: PDF, JPEG and PNG inline in a sandbox; the other types downloaded."""
    space = selectors.documents_space(request.user)
    doc = selectors.document_of_space(space, public_id)
    download = "telecharger" in request.GET or not doc.inline
    try:
        data = services.document_content(
            user=request.user, doc=doc, download=download, client=client_address(request)
        )
    except services.DocumentUnreadable:
        return render(request, "documents/unreadable.html", {"doc": doc}, status=500)
    return file_response(doc, data, download=download)


@never_cache
@require_http_methods(["GET", "POST"])
def edit(request, public_id):
    space = selectors.documents_space(request.user)
    doc = selectors.document_of_space(space, public_id)
    initial = {"title": doc.title, "category": doc.category, "document_date": doc.document_date}
    # Bound on every POST, even an empty one: an empty form is refused, never ignored.
    form = EditForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.document_update(
            user=request.user, doc=doc, client=client_address(request), **form.cleaned_data
        )
        messages.success(request, "Le document a été modifié.")
        return redirect("documents:detail", public_id=doc.public_id)
    return render(request, "documents/edit.html", {"form": form, "doc": doc})


def _wanted(request) -> bool:
    """The state the form asks for ("1" or "0"), never a toggle: a double click or a resent
    form must not undo a privacy choice."""
    value = request.POST.get("valeur")
    if value not in ("0", "1"):
        raise SuspiciousOperation("valeur attendue : 0 ou 1")
    return value == "1"


@require_POST
def pin(request, public_id):
    space = selectors.documents_space(request.user)
    doc = selectors.document_of_space(space, public_id)
    pinned = _wanted(request)
    services.document_pin(user=request.user, doc=doc, pinned=pinned, client=client_address(request))
    messages.success(
        request, "Le document est épinglé." if pinned else "Le document n'est plus épinglé."
    )
    return redirect("documents:detail", public_id=doc.public_id)


@require_POST
def hide(request, public_id):
    space = selectors.documents_space(request.user)
    doc = selectors.document_of_space(space, public_id)
    hidden = _wanted(request)
    services.document_hide(
        user=request.user, doc=doc, hidden=hidden, client=client_address(request)
    )
    messages.success(
        request,
        "Le document est masqué aux professionnels de santé."
        if hidden
        else "Le document est de nouveau visible par les professionnels de santé autorisés.",
    )
    return redirect("documents:detail", public_id=doc.public_id)


@never_cache
@require_http_methods(["GET", "POST"])
def delete(request, public_id):
    space = selectors.documents_space(request.user)
    doc = selectors.document_of_space(space, public_id)
    if request.method == "POST":
        services.document_delete(user=request.user, doc=doc, client=client_address(request))
        messages.success(
            request,
            f"Le document « {doc.title} » a été supprimé. Vous pouvez le restaurer depuis "
            f"« Documents supprimés » pendant {selectors.retention_days()} jours.",
        )
        return redirect("documents:index")
    return render(
        request,
        "documents/delete.html",
        {"doc": doc, "retention_days": selectors.retention_days()},
    )


@never_cache
@require_http_methods(["GET"])
def deleted(request):
    space = selectors.documents_space(request.user)
    docs = [(doc, selectors.purge_date(doc)) for doc in selectors.deleted_documents(space)]
    return render(
        request,
        "documents/deleted.html",
        {"docs": docs, "retention_days": selectors.retention_days()},
    )


@require_POST
def restore(request, public_id):
    space = selectors.documents_space(request.user)
    doc = selectors.deleted_document(space, public_id)
    try:
        services.document_restore(user=request.user, doc=doc, client=client_address(request))
    except services.DocumentGone as exc:
        raise Http404 from exc  # purged meanwhile: like any id that does not exist
    messages.success(request, f"Le document « {doc.title} » a été restauré.")
    return redirect("documents:detail", public_id=doc.public_id)


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request):
    space = selectors.documents_space(request.user)
    initial = {"hide_new_documents": services.hide_new_documents(space)}
    # Bound on every POST: an unticked box alone sends nothing, and still means "off".
    form = DocumentSettingsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.settings_update(
            user=request.user,
            space=space,
            hide_new_documents=form.cleaned_data["hide_new_documents"],
            client=client_address(request),
        )
        messages.success(request, "Vos préférences pour les documents sont enregistrées.")
        return redirect("documents:index")
    return render(request, "documents/preferences.html", {"form": form})


@never_cache
@require_http_methods(["GET"])
def care_history(request):
    space = selectors.documents_space(request.user)
    context = {
        "months": selectors.care_history(space),
        "window_months": settings.CARNET["CARE_HISTORY_MONTHS"],
    }
    return render(request, "documents/care_history.html", context)


@require_POST
def care_hide(request, pk):
    space = selectors.documents_space(request.user)
    event = selectors.care_event_of_space(space, pk)
    hidden = _wanted(request)
    services.care_event_hide(
        user=request.user, space=space, event=event, hidden=hidden, client=client_address(request)
    )
    messages.success(
        request,
        "Ce soin est masqué aux professionnels de santé."
        if hidden
        else "Ce soin est de nouveau visible par les professionnels de santé autorisés.",
    )
    return redirect("documents:care_history")
