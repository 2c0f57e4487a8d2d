"""Linked profiles: the list and switcher, and attaching a child's profile (two steps)."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from carnet.core import clock
from carnet.core.http import client_address
from carnet.enrollment import services as enrollment
from carnet.enrollment.models import ProvisionalCode, Space
from carnet.enrollment.selectors import own_space
from carnet.registry.models import InsuredPerson

from . import selectors, services
from .forms import ChildDecisionForm, ChildIdentifyForm, InviteForm, LeaveForm

CHILD_KEY = "carnet_child_identified"  # the session's identification, between the two steps


@never_cache
@require_safe
def index(request):
    acting = getattr(request.user, "acting_link", None)
    return render(
        request,
        "family/index.html",
        {
            "links": selectors.linked_profiles(request.user),
            "acting": acting,
            "invitations": services.invitations_waiting(request.user),
            "caregivers": _caregivers(request),
            "caregiver_form": InviteForm(),
        },
    )


def _caregivers(request) -> list | None:
    """The holder's caregivers, shown while acting for one's own profile (None otherwise)."""
    if getattr(request.user, "acting_link", None) is not None:
        return None
    space = own_space(request.user)
    if space is None or space.state != Space.State.ACTIVE:
        return None
    return selectors.caregivers_of(space)


def _holder_space(request):
    space = own_space(request.user)
    if space is None or space.state != Space.State.ACTIVE:
        raise Http404
    return space


@require_POST
def switch(request):
    """The profile switcher: act for a linked profile, or for oneself ("moi")."""
    chosen = request.POST.get("profil", "")
    if chosen == "moi":
        services.acting_profile_set(request.session, None)
        messages.success(request, "Vous agissez pour votre propre profil.")
        return redirect("core:home")
    try:
        link = selectors.link_for(request.user, chosen)
    except Exception:  # noqa: BLE001 (not a valid id: as unknown)
        link = None
    if link is None:
        raise Http404
    services.acting_profile_set(request.session, link)
    messages.success(request, f"Vous agissez pour le profil de {link.space.person.first_name}.")
    return redirect("core:home")


def _identified(request) -> enrollment.Identified | None:
    """The identification of step 1, re-read from the database (a code still usable)."""
    state = request.session.get(CHILD_KEY) or {}
    code = ProvisionalCode.objects.filter(
        pk=state.get("code_id"),
        used_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=clock.now(),
    ).first()
    if code is None:
        return None
    space = Space.objects.filter(person_id=code.person_id).first()
    if space is None:
        return None
    person = InsuredPerson.objects.get(pk=code.person_id)
    return enrollment.Identified(person=person, code=code, space=space)


@never_cache
@require_http_methods(["GET", "POST"])
def add(request):
    """Step 1: the child's code, NIR (the child's or the card's) and birth date."""
    guardian = request.user.person
    failure, children = None, []
    if request.method == "POST":
        form = ChildIdentifyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                identified = enrollment.child_identification_check(
                    guardian=guardian,
                    code=data["code"],
                    nir=data["nir"],
                    birth_date=data["birth_date"],
                    child=data["child"],
                    client=client_address(request),
                )
            except enrollment.ChildChoiceNeeded as choice:
                children = choice.children
            except enrollment.IdentificationError as exc:
                failure = exc
                form = ChildIdentifyForm(
                    initial={"nir": data["nir"], "birth_date": data["birth_date"]}
                )
            else:
                request.session[CHILD_KEY] = {"code_id": identified.code.pk}
                return redirect("family:decide")
    else:
        form = ChildIdentifyForm()
    return render(
        request, "family/add.html", {"form": form, "failure": failure, "children": children}
    )


@never_cache
@require_http_methods(["GET", "POST"])
def decide(request):
    """Step 2: "Je certifie être le représentant légal de …", then activate or oppose."""
    identified = _identified(request)
    if identified is None:
        messages.error(request, "Votre saisie a expiré : recommencez.")
        return redirect("family:add")
    first_name = identified.person.first_name
    if request.method == "POST":
        form = ChildDecisionForm(request.POST, first_name=first_name)
        if form.is_valid():
            try:
                link = services.child_attach(
                    user=request.user,
                    identified=identified,
                    decision=form.cleaned_data["decision"],
                    certified=form.cleaned_data["certified"],
                    client=client_address(request),
                )
            except (services.FamilyError, enrollment.TransitionError) as exc:
                form.add_error(None, str(exc))
            else:
                request.session.pop(CHILD_KEY, None)
                selectors.switcher_refresh(request.session)
                if link is None:
                    messages.success(
                        request,
                        f"Votre opposition à la création de l'espace de {first_name} est "
                        "enregistrée.",
                    )
                    return redirect("family:index")
                messages.success(request, f"Le profil de {first_name} est rattaché à votre compte.")
                return redirect("family:index")
    else:
        form = ChildDecisionForm(first_name=first_name)
    return render(
        request,
        "family/decide.html",
        {"form": form, "child": identified.person, "space": identified.space},
    )


def _own_link(request, public_id):
    link = selectors.own_open_link(request.user, public_id)
    if link is None:
        raise Http404
    return link


@never_cache
@require_http_methods(["GET", "POST"])
def invite(request, public_id):
    """Invite the other legal representative to share the management of the child's space."""
    link = _own_link(request, public_id)
    if link.kind != link.Kind.LEGAL_REPRESENTATIVE:
        raise Http404
    if request.method == "POST":
        form = InviteForm(request.POST)
        if form.is_valid():
            try:
                services.representative_invite(
                    user=request.user,
                    link=link,
                    nir=form.cleaned_data["nir"],
                    client=client_address(request),
                )
            except services.FamilyError as exc:
                form.add_error("nir", str(exc))
            else:
                messages.success(
                    request,
                    "L'invitation est envoyée. Elle expire dans "
                    f"{services.invitation_validity_days()} jours.",
                )
                return redirect("family:index")
    else:
        form = InviteForm()
    return render(request, "family/invite.html", {"form": form, "link": link})


@require_POST
def answer(request, public_id):
    accept = request.POST.get("reponse") == "accepter"
    try:
        link = services.invitation_answer(
            user=request.user, public_id=public_id, accept=accept, client=client_address(request)
        )
    except services.FamilyError as exc:
        messages.error(request, str(exc))
    else:
        if link is not None:
            selectors.switcher_refresh(request.session)
            messages.success(
                request, f"Vous gérez maintenant le profil de {link.space.person.first_name}."
            )
        else:
            messages.success(request, "Vous avez refusé l'invitation.")
    return redirect("family:index")


@never_cache
@require_http_methods(["GET", "POST"])
def leave(request, public_id):
    """End one's own link to a profile, after a confirmation."""
    link = _own_link(request, public_id)
    if request.method == "POST":
        form = LeaveForm(request.POST)
        if form.is_valid():
            services.link_leave(
                user=request.user, link=link, confirmed=True, client=client_address(request)
            )
            messages.success(
                request, f"Vous ne gérez plus le profil de {link.space.person.first_name}."
            )
            return redirect("family:index")
    else:
        form = LeaveForm()
    return render(request, "family/leave.html", {"form": form, "link": link})


@never_cache
@require_http_methods(["GET", "POST"])
def caregiver_add(request):
    """The holder gives a caregiver access to their space."""
    space = _holder_space(request)
    if request.method == "POST":
        form = InviteForm(request.POST)
        if form.is_valid():
            try:
                link = services.caregiver_add(
                    user=request.user,
                    space=space,
                    nir=form.cleaned_data["nir"],
                    client=client_address(request),
                )
            except services.FamilyError as exc:
                form.add_error("nir", str(exc))
            else:
                person = link.user.person
                messages.success(
                    request,
                    f"{person.first_name} {person.last_name} a maintenant accès à votre espace.",
                )
                return redirect("family:index")
    else:
        form = InviteForm()
    form.fields["nir"].label = "Numéro de sécurité sociale de votre aidant"
    return render(request, "family/caregiver_add.html", {"form": form})


@require_POST
def caregiver_revoke(request, public_id):
    space = _holder_space(request)
    try:
        link = services.caregiver_revoke(
            user=request.user, space=space, public_id=public_id, client=client_address(request)
        )
    except services.FamilyError as exc:
        messages.error(request, str(exc))
    else:
        person = link.user.person
        messages.success(
            request, f"{person.first_name} {person.last_name} n'a plus accès à votre espace."
        )
    return redirect("family:index")


@require_safe
def caregiver_certificate(request, public_id):
    space = _holder_space(request)
    try:
        pdf = services.caregiver_certificate_pdf(
            user=request.user, space=space, public_id=public_id
        )
    except services.FamilyError as exc:
        raise Http404 from exc
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="attestation-aidant.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
