"""Public pages (home, legal pages) and the logged-in landing page."""

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.views.decorators.http import require_safe

from carnet.enrollment.selectors import space_for_user

LEGAL_PAGES = {
    "cgu": "Conditions générales d'utilisation",
    "privacy": "Politique de protection des données personnelles",
    "accessibility": "Déclaration d'accessibilité",
    "legal": "Mentions légales",
}


@login_not_required
@require_safe
def home(request):
    if request.user.is_authenticated:
        return render(request, "core/space_home.html", {"space": space_for_user(request.user)})
    return render(request, "core/home.html")


def legal_page(name):
    @login_not_required
    @require_safe
    def view(request):
        return render(request, f"core/{name}.html", {"title": LEGAL_PAGES[name]})

    view.__name__ = f"legal_{name}"
    return view
