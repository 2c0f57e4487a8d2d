"""« S'identifier avec FranceConnect+ » and « Se connecter avec Pro Santé Connect »: the
departure to the provider, the return, and the one-time link of an existing account."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from carnet.accounts import services as accounts
from carnet.accounts.forms import PasswordOnlyForm
from carnet.accounts.models import User
from carnet.core.http import client_address
from carnet.enrollment import services as enrollment

from . import oidc, services

LOGIN_PAGE = {User.Kind.PATIENT: "accounts:login", User.Kind.PROFESSIONAL: "accounts:pro_login"}
HOME = {User.Kind.PATIENT: "core:home", User.Kind.PROFESSIONAL: "accounts:pro_home"}


def _configured(provider: str) -> dict:
    config = oidc.provider_config(provider)
    if config is None:
        raise Http404
    return config


@login_not_required
@never_cache
@require_safe
def start(request, provider):
    config = _configured(provider)
    redirect_uri = request.build_absolute_uri(reverse(f"federation:{provider}_callback"))
    try:
        return oidc.authorize_redirect(request, provider, redirect_uri)
    except oidc.FederationError as exc:
        messages.error(request, exc.message)
        return redirect(LOGIN_PAGE[config["kind"]])


def _refused(request, provider: str, kind: str, exc: oidc.FederationError):
    """No login: the reason in French for the person, the fact (no identity) in the trail."""
    if exc.record:
        services.refusal_record(
            provider=provider, reason=exc.reason, client=client_address(request)
        )
    messages.error(request, exc.message)
    return redirect(LOGIN_PAGE[kind])


@login_not_required
@never_cache
@require_safe
def callback(request, provider):
    config = _configured(provider)
    kind = config["kind"]
    client = client_address(request)
    patient = kind == User.Kind.PATIENT
    try:
        identity = oidc.callback(
            request, provider, needed=services.PIVOT if patient else (config["rpps_claim"],)
        )
        if patient:
            outcome = services.patient_identity_resolve(identity)
            if outcome.step == "link":
                services.link_pending_start(request.session, identity, outcome.user)
                return redirect("federation:franceconnect_link")
            if outcome.step == "activate":
                refusal = enrollment.activation_start_federated(
                    request.session, outcome.person, provider=provider
                )
                if refusal:
                    raise oidc.FederationError(
                        enrollment.FEDERATED_REFUSALS[refusal], reason=refusal
                    )
                messages.info(
                    request,
                    f"Vous êtes identifié(e) par {config['name']} : vous n'avez pas besoin de "
                    "votre code provisoire.",
                )
                return redirect("enrollment:decision")
            user = outcome.user
        else:
            user = services.professional_identity_resolve(
                identity, rpps_claim=config["rpps_claim"], client=client
            )
    except oidc.FederationError as exc:
        return _refused(request, provider, kind, exc)
    services.identity_used(identity, user)
    first = accounts.login_complete(request=request, user=user, client=client, method=provider)
    login_url = reverse(LOGIN_PAGE[kind])
    services.logout_remember(request, provider, identity.id_token, login_url=login_url)
    if first and patient:
        return redirect("core:welcome")
    return redirect(HOME[kind])


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def link(request):
    """The identity designates an account that exists: its password, then a code (the usual
    login steps), once; the link is made when that login completes (signals.py)."""
    user = services.link_pending_user(request.session)
    if user is None:
        messages.error(request, "Votre identification a expiré : recommencez.")
        return redirect("accounts:login")
    form = PasswordOnlyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            checked = accounts.password_check(
                request=request,
                identifier=user.identifier,
                password=form.cleaned_data["password"],
                client=client_address(request),
                kind=User.Kind.PATIENT,
            )
        except accounts.LoginBlocked as blocked:
            form.add_error(
                None,
                "Trop de tentatives infructueuses. Par sécurité, réessayez dans "
                f"{blocked.minutes} minutes.",
            )
        else:
            if checked is None:
                form.add_error("password", "Mot de passe incorrect.")
            else:
                accounts.pending_login_start(request.session, user, kind=User.Kind.PATIENT)
                return redirect("accounts:login_channel")
    return render(request, "federation/link.html", {"form": form, "account": user})
