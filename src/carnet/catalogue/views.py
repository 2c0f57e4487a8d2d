"""The catalogue pages, « Services connectés », and the OAuth consent screen."""

from urllib.parse import parse_qs, urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe
from oauth2_provider.forms import AllowForm
from oauth2_provider.views import AuthorizationView

from carnet.core import clock
from carnet.core.http import client_address
from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user
from carnet.family.selectors import manages_sharing

from . import scopes as smart
from . import selectors, services
from .models import App, Connection


@require_safe
def index(request):
    query = request.GET.get("q", "").strip()[:100]
    category = request.GET.get("categorie", "")
    apps = selectors.catalogue_apps(query=query, category=category)
    return render(
        request,
        "catalogue/index.html",
        {
            "apps": apps,
            "query": query,
            "category": category,
            "categories": [c for c in App.Category.choices if c[0] != App.Category.PRO_SOFTWARE],
        },
    )


@require_safe
def detail(request, public_id):
    app = get_object_or_404(selectors.catalogue_apps(), public_id=public_id)
    return render(
        request,
        "catalogue/detail.html",
        {"app": app, "access": smart.describe(app.allowed_scopes.split())},
    )


@login_not_required
@require_safe
def logo(request, public_id):
    app = get_object_or_404(App, public_id=public_id)
    if not app.logo:
        raise Http404
    response = HttpResponse(bytes(app.logo), content_type="image/png")
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _managed_space(request) -> Space:
    space = space_for_user(request.user)
    if space is None or space.state != Space.State.ACTIVE:
        raise Http404
    return space


@never_cache
@require_safe
def connections(request):
    space = _managed_space(request)
    rows = [
        {"connection": c, "access": smart.describe(c.scopes)}
        for c in selectors.open_connections(space)
    ]
    return render(
        request,
        "catalogue/connections.html",
        {"space": space, "rows": rows, "can_manage": manages_sharing(request.user, space)},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def disconnect(request, public_id):
    space = _managed_space(request)
    connection = get_object_or_404(
        Connection.objects.select_related("app"),
        public_id=public_id,
        space=space,
        revoked_at__isnull=True,
    )
    if not manages_sharing(request.user, space):
        raise Http404  # a caregiver: like a missing object
    if request.method == "POST":
        services.connection_revoke(
            user=request.user, connection=connection, client=client_address(request)
        )
        messages.success(request, f"« {connection.app.name} » n'a plus accès à votre profil.")
        return redirect("catalogue_settings:connections")
    return render(request, "catalogue/disconnect.html", {"connection": connection})


class ConsentForm(AllowForm):
    # The profile shown on the screen: consent is given for that one, even if the person
    # switched profile in another tab meanwhile.
    profile = forms.UUIDField(widget=forms.HiddenInput)


class Authorize(AuthorizationView):
    """The consent screen: which data, for which profile, until when, in plain French."""

    template_name = "catalogue/authorize.html"
    form_class = ConsentForm

    def get(self, request, *args, **kwargs):
        if request.GET.get("code_challenge_method") != "S256" or not request.GET.get(
            "code_challenge"
        ):
            return render(
                request,
                "catalogue/authorize_error.html",
                {
                    "reason": "Cette application ne protège pas la connexion comme il le faut "
                    "(PKCE S256 manquant). Elle ne peut pas être connectée."
                },
                status=400,
            )
        client = App.objects.filter(client_id=request.GET.get("client_id", "")).first()
        if client is not None and (client.status != App.Status.ONLINE or client.is_software):
            return render(
                request,
                "catalogue/authorize_error.html",
                {"reason": "Ce service n'est pas proposé dans le catalogue pour le moment."},
                status=400,
            )
        # The consent screen every time: django-oauth-toolkit would let `approval_prompt=auto`
        # answer a GET by itself from any earlier token of the app — for another profile.
        request.GET = request.GET.copy()
        request.GET.pop("approval_prompt", None)
        response = super().get(request, *args, **kwargs)
        redirect_uri = getattr(self, "oauth2_data", {}).get("redirect_uri")
        if redirect_uri:  # the consent form's answer is a redirect to the app (CSP form-action)
            parts = urlsplit(redirect_uri)
            response._csp_update = {"form-action": [f"{parts.scheme}://{parts.netloc}"]}
        return response

    def get_initial(self):
        initial = super().get_initial()
        space = space_for_user(self.request.user)
        initial["profile"] = space.public_id if space is not None else None
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        space = space_for_user(self.request.user)
        scopes = context.get("scopes") or []
        context.update(
            space=space,
            usable=space is not None
            and space.state == Space.State.ACTIVE
            and manages_sharing(self.request.user, space),
            access=smart.describe(scopes),
            until=clock.now() + settings.CARNET["CATALOGUE_CONNECTION_VALIDITY"],
        )
        return context

    def form_valid(self, form):
        space = space_for_user(self.request.user)
        if space is None or space.public_id != form.cleaned_data["profile"]:
            messages.error(self.request, "Le profil a changé : vérifiez à nouveau la demande.")
            return redirect(self.request.get_full_path())
        return super().form_valid(form)

    def create_authorization_response(self, request, scopes, credentials, allow):
        if request.method != "POST" or not allow:  # only the person's "J'autorise" grants
            return super().create_authorization_response(request, scopes, credentials, False)
        app = App.objects.get(client_id=credentials["client_id"])
        # The consent and its code together: a request refused by the OAuth checks after the
        # consent (an error raised below) leaves no connection behind.
        with transaction.atomic():
            try:
                connection = services.connection_grant(
                    user=request.user,
                    space=space_for_user(request.user),
                    app=app,
                    scopes=scopes.split(),
                    client=client_address(request),
                )
            except (PermissionDenied, ValidationError):
                return super().create_authorization_response(request, scopes, credentials, False)
            credentials = {**credentials, "carnet_connection": connection}
            answer = super().create_authorization_response(request, scopes, credentials, True)
            if "code" not in parse_qs(urlsplit(answer[0]).query):
                transaction.set_rollback(True)  # oauthlib answered with an error: no consent
            return answer


@login_not_required
@require_safe
def smart_configuration(request):
    """SMART App Launch discovery (/.well-known/smart-configuration)."""
    base = request.build_absolute_uri("/").rstrip("/")
    return JsonResponse(
        {
            "issuer": base + "/oauth",
            "jwks_uri": base + reverse("oauth2_provider:jwks-info"),
            "authorization_endpoint": base + reverse("oauth2_provider:authorize"),
            "token_endpoint": base + reverse("oauth2_provider:token"),
            "revocation_endpoint": base + reverse("oauth2_provider:revoke-token"),
            "userinfo_endpoint": base + reverse("oauth2_provider:user-info"),
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "scopes_supported": [
                *smart.SPECIAL,
                *(f"patient/{r}.rs" for r in smart.RESOURCES),
                "patient/Observation.cruds",
                "patient/Appointment.cruds",
                "system/DocumentReference.crs",
            ],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "capabilities": [
                "launch-standalone",
                "client-public",
                "client-confidential-symmetric",
                "context-standalone-patient",
                "permission-patient",
                "permission-v2",
                "permission-offline",
                "sso-openid-connect",
            ],
        }
    )
