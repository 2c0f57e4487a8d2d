from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from carnet.core.http import client_address

from .forms import LoginForm
from .services import LoginBlocked, login_check


@login_not_required
@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.method == "POST":
        form = LoginForm(request.POST)
        if form.is_valid():
            try:
                user = login_check(
                    request=request,
                    identifier=form.cleaned_data["identifier"].strip().lower(),
                    password=form.cleaned_data["password"],
                    client=client_address(request),
                )
            except LoginBlocked as blocked:
                form.add_error(
                    None,
                    f"Trop de tentatives. Par sécurité, réessayez dans {blocked.minutes} minutes.",
                )
            else:
                if user is None:
                    form.add_error(None, "Identifiant ou mot de passe incorrect.")
                else:
                    login(request, user)
                    return redirect("core:home")
    else:
        form = LoginForm()
    return render(request, "accounts/login.html", {"form": form})


@require_POST
def logout_view(request):
    logout(request)
    return redirect("core:home")
