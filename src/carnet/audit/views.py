"""« Historique d'activité » (/historique/): tabs, filters, pages of 50, and the CSV export.

GET only: the tab, the period, the kind and the page are in the query string, so that every
link and the form work without JavaScript and a page can be bookmarked.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from carnet.core import clock
from carnet.core.http import client_address

from . import selectors, services
from .forms import HistoryFilterForm
from .history_csv import csv_lines


def _tab(request) -> str:
    tab = request.GET.get("onglet", "")
    return tab if tab in selectors.TABS else selectors.DEFAULT_TAB


@never_cache
@require_safe
def history(request):
    space = selectors.history_space(request.user)
    tab = _tab(request)
    form = HistoryFilterForm(request.GET)
    valid = form.is_valid()
    filters = {k: request.GET.get(k, "") for k in ("du", "au", "type") if request.GET.get(k)}
    if valid:
        events = selectors.history_events(
            request.user,
            space,
            tab,
            since=form.cleaned_data["du"],
            until=form.cleaned_data["au"],
            kind=form.cleaned_data["type"],
        )
        if request.GET.get("format") == "csv":
            return _export(request, space, tab, form.cleaned_data, events)
        page = Paginator(events, settings.CARNET["ACTIVITY_PAGE_SIZE"]).get_page(
            request.GET.get("page")
        )
        rows = selectors.history_rows(page.object_list, request.user, space)
    else:
        page, rows = None, []
    query = urlencode({"onglet": tab, **filters})
    return render(
        request,
        "audit/history.html",
        {
            "tabs": [
                (key, label, urlencode({"onglet": key, **filters}))
                for key, label in selectors.TABS.items()
            ],
            "tab": tab,
            "tab_label": selectors.TABS[tab],
            "form": form,
            "page": page,
            "rows": rows,
            "query": query,
        },
    )


def _export(request, space, tab, cleaned, events):
    services.history_exported(
        user=request.user,
        space=space,
        tab=tab,
        filters={"du": cleaned["du"], "au": cleaned["au"], "type": cleaned["type"]},
        client=client_address(request),
    )
    rows = selectors.history_rows_all(events, request.user, space)
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in csv_lines(rows)),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"historique-{tab}-{clock.today():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
