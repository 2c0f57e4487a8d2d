"""Pages of the medical profile: thin views around the selectors and services."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import selectors, services
from .sections import SECTIONS


def _section(slug: str):
    section = SECTIONS.get(slug)
    if section is None:
        raise Http404
    return section


def _birth_date(space):
    return space.person.birth_date


@never_cache
@require_http_methods(["GET"])
def index(request):
    space = selectors.profile_space(request.user)
    overview = [
        (section, selectors.entries(space, section.model).count()) for section in SECTIONS.values()
    ]
    return render(
        request,
        "profile/index.html",
        {"overview": overview, "bmi": selectors.latest_bmi(space)},
    )


@never_cache
@require_http_methods(["GET"])
def section_list(request, slug):
    section = _section(slug)
    space = selectors.profile_space(request.user)  # a 404 first, whatever the section
    if section.single:
        return redirect("profile:single", slug=slug)
    context = {"section": section, "items": selectors.entries(space, section.model)}
    if slug == "mesures":
        from .charts import measurement_panels

        context["panels"] = measurement_panels(space)
        context["bmi"] = selectors.latest_bmi(space)
    return render(request, "profile/section.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def add(request, slug):
    section = _section(slug)
    space = selectors.profile_space(request.user)
    if section.single:
        return redirect("profile:single", slug=slug)
    form = section.form(request.POST or None, birth_date=_birth_date(space))
    if request.method == "POST" and form.is_valid():
        services.entry_create(
            actor=request.user, space=space, model=section.model, values=form.model_values()
        )
        messages.success(request, "L'information a été ajoutée.")
        return redirect("profile:section", slug=slug)
    return render(request, "profile/form.html", {"section": section, "form": form, "adding": True})


@never_cache
@require_http_methods(["GET", "POST"])
def edit(request, slug, public_id):
    section = _section(slug)
    space = selectors.profile_space(request.user)
    obj = selectors.entry(space, section.model, public_id)
    form = section.form(request.POST or None, birth_date=_birth_date(space), instance=obj)
    if request.method == "POST" and form.is_valid():
        services.entry_update(actor=request.user, space=space, obj=obj, values=form.model_values())
        messages.success(request, "L'information a été modifiée.")
        return redirect("profile:section", slug=slug)
    return render(request, "profile/form.html", {"section": section, "form": form, "obj": obj})


@never_cache
@require_http_methods(["GET", "POST"])
def delete(request, slug, public_id):
    section = _section(slug)
    space = selectors.profile_space(request.user)
    obj = selectors.entry(space, section.model, public_id)
    if request.method == "POST":
        services.entry_delete(actor=request.user, space=space, obj=obj)
        messages.success(request, "L'information a été supprimée.")
        return redirect("profile:section", slug=slug)
    return render(request, "profile/delete.html", {"section": section, "obj": obj})


@never_cache
@require_http_methods(["GET", "POST"])
def single(request, slug):
    """Sections with one entry per space: the form itself is the page."""
    section = _section(slug)
    if not section.single:
        raise Http404
    space = selectors.profile_space(request.user)
    obj = selectors.single_entry(space, section.model)
    form = section.form(request.POST or None, birth_date=_birth_date(space), instance=obj)
    if request.method == "POST" and form.is_valid():
        values = form.model_values()
        if obj is None and not any(v not in (None, "") for v in values.values()):
            messages.info(request, "Aucune information saisie : rien n'a été enregistré.")
            return redirect("profile:index")
        if obj is None:
            services.entry_create(
                actor=request.user, space=space, model=section.model, values=form.model_values()
            )
        else:
            services.entry_update(
                actor=request.user, space=space, obj=obj, values=form.model_values()
            )
        messages.success(request, "Vos informations ont été enregistrées.")
        return redirect("profile:index")
    context = {"section": section, "form": form, "obj": obj}
    if slug == "entourage":
        # The advance directives are a document ("Directives anticipées"), one at a time.
        from carnet.documents.models import Category
        from carnet.documents.selectors import current_document

        context["directives"] = current_document(space, Category.DIR_ANT)
        context["directives_category"] = Category.DIR_ANT
    return render(request, "profile/form.html", context)


@never_cache
@require_http_methods(["GET"])
def synthesis(request):
    """Télécharger la synthèse: the PDF of every non-empty section."""
    from django.http import HttpResponse

    from .pdf import synthesis_filename, synthesis_pdf

    space = selectors.profile_space(request.user)
    response = HttpResponse(synthesis_pdf(space), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{synthesis_filename(space)}"'
    return response


@require_http_methods(["POST"])
def synthesis_save(request):
    from carnet.core.http import client_address
    from carnet.documents.files import FileRefused

    space = selectors.profile_space(request.user)
    try:
        doc = services.synthesis_save(
            user=request.user, space=space, client=client_address(request)
        )
    except FileRefused as exc:  # e.g. a synthesis over the 5 Mo of a document
        messages.error(
            request,
            f"La synthèse n'a pas pu être enregistrée dans vos documents : {exc} "
            "Vous pouvez toujours la télécharger.",
        )
        return redirect("profile:index")
    messages.success(
        request, f"Votre synthèse est enregistrée dans vos documents : « {doc.title} »."
    )
    return redirect("documents:detail", public_id=doc.public_id)
