"""The operators' catalogue pages (/operateur/catalogue/): the list, referencing an app,
editing an entry, its status (with a confirmation before cutting an app off) and its logo.

/operateur/ is the operators' area (carnet.accounts.middleware); each view calls the same
service as the JSON API (carnet.catalogue.api).
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from carnet.core.http import client_address

from . import selectors, services
from .forms import CreateForm, EntryForm, LogoForm, StatusForm
from .models import App

# What each status that cuts an app off means, said before the operator confirms.
CUT_OFF = {
    App.Status.SUSPENDED: {
        "title": "Suspendre",
        "button": "Suspendre le service",
        "effects": [
            "Le service perd l'accès immédiatement : ses jetons sont refusés dès maintenant, "
            "pour tous les profils connectés.",
            "Il n'est plus proposé dans le catalogue.",
            "Les connexions des usagers sont conservées : remis en ligne, il retrouve l'accès "
            "sans que les usagers aient à le connecter de nouveau.",
        ],
    },
    App.Status.DEREFERENCED: {
        "title": "Déréférencer",
        "button": "Déréférencer le service",
        "effects": [
            "Le service perd l'accès immédiatement : ses jetons sont refusés dès maintenant.",
            "Toutes les connexions des usagers sont terminées, définitivement : chacun devra "
            "le connecter de nouveau s'il revient au catalogue.",
            "Il n'est plus proposé dans le catalogue.",
        ],
    },
}


@never_cache
@require_safe
def index(request):
    status = request.GET.get("statut", "")
    category = request.GET.get("categorie", "")
    status = status if status in App.Status.values else ""
    category = category if category in App.Category.values else ""
    return render(
        request,
        "catalogue/operator/index.html",
        {
            "apps": selectors.operator_apps(status=status, category=category),
            "status": status,
            "category": category,
            "statuses": App.Status.choices,
            "categories": App.Category.choices,
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def create(request):
    form = CreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            app, secret = services.app_register(
                operator=request.user,
                name=data["name"],
                editor=data["editor"],
                description=data["description"],
                category=data["category"],
                allowed_scopes=data["allowed_scopes"],
                redirect_uris=data["redirect_uris"],
                website=data["website"],
                software_finess=data["finess"],
                confidential=data["confidential"],
                status=data["status"],
                client=client_address(request),
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            # Shown in this answer only: the secret is kept hashed, never to be read again.
            return render(
                request, "catalogue/operator/created.html", {"app": app, "secret": secret}
            )
    return render(
        request,
        "catalogue/operator/create.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


def _entry(public_id) -> App:
    return get_object_or_404(App, public_id=public_id)


def _edit_page(request, app: App, *, form=None, status_form=None, logo_form=None, status=200):
    return render(
        request,
        "catalogue/operator/edit.html",
        {
            "app": app,
            "form": form or EntryForm(software=app.is_software, initial=EntryForm.initial_of(app)),
            "status_form": status_form or StatusForm(initial={"status": app.status}),
            "logo_form": logo_form or LogoForm(),
            "connections": selectors.open_connection_count(app),
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def edit(request, public_id):
    app = _entry(public_id)
    if request.method == "GET":
        return _edit_page(request, app)
    form = EntryForm(request.POST, software=app.is_software)
    if form.is_valid():
        try:
            services.app_update(
                operator=request.user, app=app, client=client_address(request), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "Les modifications sont enregistrées.")
            return redirect("catalogue_operator:edit", public_id=app.public_id)
    return _edit_page(request, app, form=form, status=400)


@never_cache
@require_POST
def status(request, public_id):
    app = _entry(public_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _edit_page(request, app, status_form=form, status=400)
    new = form.cleaned_data["status"]
    if new == app.status:
        messages.info(request, f"Le statut est déjà « {app.get_status_display()} ».")
        return redirect("catalogue_operator:edit", public_id=app.public_id)
    if new in CUT_OFF and request.POST.get("confirmer") != "1":
        return render(
            request,
            "catalogue/operator/status_confirm.html",
            {
                "app": app,
                "status": new,
                "cut_off": CUT_OFF[new],
                "connections": selectors.open_connection_count(app),
            },
        )
    services.app_status_set(
        operator=request.user, app=app, status=new, client=client_address(request)
    )
    messages.success(request, f"« {app.name} » est maintenant « {App.Status(new).label.lower()} ».")
    return redirect("catalogue_operator:edit", public_id=app.public_id)


@never_cache
@require_POST
def logo(request, public_id):
    app = _entry(public_id)
    form = LogoForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["logo"]
        data = upload.read(settings.CARNET["CATALOGUE_LOGO_MAX_BYTES"] + 1)
        try:
            services.app_logo_set(
                operator=request.user, app=app, data=data, client=client_address(request)
            )
        except ValidationError as exc:
            form.add_error("logo", exc.messages)
        else:
            messages.success(request, "Le logo est enregistré.")
            return redirect("catalogue_operator:edit", public_id=app.public_id)
    return _edit_page(request, app, logo_form=form, status=400)
