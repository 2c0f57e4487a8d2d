"""The professional portal (/pro/patients/…): find a patient, attest consent or open an
emergency access, list and open the documents the rules allow, add a document.

Thin views: `consent` decides and audits every access (`services.access`), and every denial is
the same 404 as an id that does not exist. The patient found by a search is kept in the session
by the public id of their space, so that no URL carries the NIR.
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from carnet.consent import rules
from carnet.consent.models import Action
from carnet.consent.services import Denied, access, consent_attest, emergency_start
from carnet.core import clock
from carnet.core.http import client_address
from carnet.documents import selectors as documents
from carnet.documents.models import Category
from carnet.documents.responses import file_response
from carnet.documents.services import (
    DocumentUnreadable,
    SpaceNotWritable,
    document_content,
    document_release,
)
from carnet.enrollment.services import is_minor

from . import selectors, services
from .forms import ConsentAttestForm, EmergencyForm, PatientSearchForm, ProfessionalUploadForm

FOUND = "pro_patient_trouve"  # the public id of the space the last search found
NOT_FOUND = "Aucun dossier accessible avec ces informations."
TEMPLATES = "professionals/portal/"


def _professional(request):
    professional = selectors.professional_of(request.user)
    if professional is None:  # an account not linked to the directory reaches no record
        raise Http404
    return professional


def _patient(request, space_id):
    """(professional, space, facts) for a patient page; 404 for an unknown space."""
    professional = _professional(request)
    space = selectors.patient_space(space_id)
    if space is None:
        raise Http404
    return professional, space, rules.professional_facts(space, professional)


def _found(request, space_id) -> None:
    """Attesting consent and breaking the glass need the patient found by a search first."""
    if request.session.get(FOUND) != str(space_id):
        raise Http404


def _open(request, space, action, obj=None, *, facts, record=True):
    """consent.services.access: audited when allowed (by the caller when `record` is False),
    the 404 of a missing id when not."""
    try:
        return access(
            request.user,
            space,
            action,
            obj,
            facts=facts,
            client=client_address(request),
            record=record,
        )
    except Denied as exc:
        raise Http404 from exc


@never_cache
@require_http_methods(["GET", "POST"])
def patient_search(request):
    professional = _professional(request)
    posted = request.method == "POST"
    form = PatientSearchForm(request.POST if posted else None)
    context = {"form": form, "not_found": "", "locked_until": ""}
    status = 400 if posted else 200
    if posted and form.is_valid():
        try:
            found = services.patient_find(
                professional=professional,
                nir=form.cleaned_data["nir"],
                birth_date=form.cleaned_data["birth_date"],
            )
        except services.SearchLocked as exc:
            found, status = None, 429
            context["locked_until"] = clock.localtime_fr(exc.until)
        else:
            status = 200
            if found is None:
                context["not_found"] = NOT_FOUND
        if found is not None:
            space, facts = found
            request.session[FOUND] = str(space.public_id)
            if rules.decide(request.user, space, Action.DOCUMENT_LIST, facts=facts):
                return redirect("professionals:patient", space_id=space.public_id)
            return redirect("professionals:consent", space_id=space.public_id)
        # The same empty form whatever was typed: nothing on the page depends on the person.
        request.session.pop(FOUND, None)
        context["form"] = PatientSearchForm()
    return render(request, f"{TEMPLATES}search.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def consent(request, space_id):
    """ "J'atteste avoir recueilli le consentement du patient", or the emergency access."""
    _found(request, space_id)
    professional, space, facts = _patient(request, space_id)
    if space.state != space.State.ACTIVE or facts.blocked:
        raise Http404
    if rules.decide(request.user, space, Action.DOCUMENT_LIST, facts=facts):
        return redirect("professionals:patient", space_id=space.public_id)
    posted = request.method == "POST"
    form = ConsentAttestForm(request.POST if posted else None)
    if posted and form.is_valid():
        try:
            consent_attest(
                user=request.user,
                professional=professional,
                space=space,
                client=client_address(request),
            )
        except Denied as exc:
            raise Http404 from exc
        messages.success(request, "Votre attestation du consentement du patient est enregistrée.")
        return redirect("professionals:patient", space_id=space.public_id)
    return render(
        request,
        f"{TEMPLATES}consent.html",
        {"form": form, "space": space, "person": space.person},
        status=400 if form.is_bound else 200,
    )


@never_cache
@require_http_methods(["GET"])
def patient(request, space_id):
    _, space, facts = _patient(request, space_id)
    decision = _open(request, space, Action.DOCUMENT_LIST, facts=facts)
    query = documents.ListQuery.from_params(request.GET)
    page = documents.documents_for_professional(space, facts, query)
    return render(
        request,
        f"{TEMPLATES}patient.html",
        {
            "space": space,
            "person": space.person,
            "basis": decision.reason,
            "emergency": facts.emergency,
            "page": page,
            "query": query,
            "sorts": [(key, label) for key, (label, _) in documents.SORTS.items()],
            "categories": [(c, label) for c, label in Category.choices if c in facts.categories],
            "search_max": settings.CARNET["DOCUMENT_SEARCH_MAX_LENGTH"],
        },
    )


@never_cache
@require_http_methods(["GET"])
def document_file(request, space_id, doc_id):
    _, space, facts = _patient(request, space_id)
    doc = selectors.portal_document(space, doc_id)
    if doc is None:
        raise Http404
    # One event for the reading: the consultation's, with the reason consent allowed it.
    decision = _open(request, space, Action.DOCUMENT_READ, doc, facts=facts, record=False)
    download = "telecharger" in request.GET or not doc.inline
    try:
        data = document_content(
            user=request.user,
            doc=doc,
            download=download,
            client=client_address(request),
            basis=decision.reason,
        )
    except DocumentUnreadable:
        return render(
            request, f"{TEMPLATES}unreadable.html", {"space": space, "doc": doc}, status=500
        )
    return file_response(doc, data, download=download)


@never_cache
@require_http_methods(["GET", "POST"])
def document_add(request, space_id):
    _, space, facts = _patient(request, space_id)
    if not rules.decide(request.user, space, Action.DOCUMENT_ADD, facts=facts):
        raise Http404
    posted = request.method == "POST"
    form = ProfessionalUploadForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        minor=is_minor(space.person),
    )
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            doc = services.document_add_by_professional(
                user=request.user,
                space=space,
                facts=facts,
                checked=data["file"],
                title=data["title"],
                category=data["category"],
                document_date=data["document_date"],
                withheld=data["withhold"],
                confidential=data.get("confidential", False),
                client=client_address(request),
            )
        except (Denied, SpaceNotWritable) as exc:  # refused, or closed meanwhile
            raise Http404 from exc
        messages.success(request, f"Le document « {doc.title} » a été ajouté au dossier.")
        return redirect("professionals:patient", space_id=space.public_id)
    return render(
        request,
        f"{TEMPLATES}add.html",
        {
            "form": form,
            "space": space,
            "person": space.person,
            "max_bytes": settings.CARNET["DOCUMENT_MAX_BYTES"],
        },
        status=400 if form.is_bound else 200,
    )


@never_cache
@require_POST
def document_release_view(request, space_id, doc_id):
    """ "Rendre visible au patient": the author of a withheld document, after the announcement
    consultation. Anyone else, or a document no longer withheld, gets the 404 of a missing id."""
    _, space, facts = _patient(request, space_id)
    doc = selectors.portal_document(space, doc_id)
    if (
        doc is None
        or doc.withheld_until is None
        or doc.author_id != request.user.pk
        or not rules.decide(request.user, space, Action.DOCUMENT_LIST, facts=facts)
    ):
        raise Http404
    document_release(actor=request.user.actor, doc=doc, client=client_address(request))
    messages.success(request, f"Le document « {doc.title} » est maintenant visible par le patient.")
    return redirect("professionals:patient", space_id=space.public_id)


@never_cache
@require_http_methods(["GET", "POST"])
def emergency(request, space_id):
    """ "Accès en urgence": a stated reason, 24 hours, traced and notified."""
    _found(request, space_id)
    professional, space, facts = _patient(request, space_id)
    if space.state != space.State.ACTIVE or facts.blocked:
        raise Http404
    posted = request.method == "POST"
    form = EmergencyForm(
        request.POST if posted else None, choices=selectors.emergency_kinds(professional)
    )
    status = 400 if posted else 200
    if posted and form.is_valid():
        try:
            started = emergency_start(
                user=request.user,
                professional=professional,
                space=space,
                kind=form.cleaned_data["kind"],
                reason=form.cleaned_data["reason"],
                client=client_address(request),
            )
        except Denied as exc:
            if exc.decision.reason != rules.EMERGENCY_REFUSED:
                raise Http404 from exc
            status = 403
            form.add_error(
                None,
                "Le patient n'autorise pas l'accès en urgence à son dossier dans cette "
                "situation : l'accès est refusé.",
            )
        except ValueError as exc:
            form.add_error("reason", str(exc))
        else:
            messages.success(
                request,
                "Accès en urgence ouvert jusqu'au "
                f"{clock.localtime_fr(started.expires_at)}. Le patient en est informé.",
            )
            return redirect("professionals:patient", space_id=space.public_id)
    duration = settings.CARNET["EMERGENCY_ACCESS_DURATION"]
    return render(
        request,
        f"{TEMPLATES}emergency.html",
        {
            "form": form,
            "space": space,
            "person": space.person,
            "hours": int(duration.total_seconds() // 3600),
        },
        status=status,
    )
