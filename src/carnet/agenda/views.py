"""Pages of the agenda: the lists, the month, appointments, reminders and the reminder delay;
thin views around the selectors and services."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from carnet.core import clock
from carnet.core.http import client_address

from . import selectors, services
from .forms import AgendaSettingsForm, AppointmentForm, ReminderForm
from .models import AgendaSettings

# Paths of the pages other parts of the agenda serve (linked by path: their URL names come
# with their own modules).
PREVENTION_PATH = "/agenda/prevention/"
FEED_PATH = "/agenda/abonnement/"


def _context(tab: str, **extra) -> dict:
    return {"tab": tab, "prevention_path": PREVENTION_PATH, "feed_path": FEED_PATH, **extra}


# --- Lists and month ----------------------------------------------------------------------


@never_cache
@require_safe
def index(request):
    """À venir: the default page of the agenda."""
    return _list(request, past=False)


@never_cache
@require_safe
def past(request):
    """Passés: the history, latest first."""
    return _list(request, past=True)


def _list(request, *, past: bool):
    space = selectors.agenda_space(request.user)
    page = selectors.agenda_page(space, past=past, page=request.GET.get("page", 1))
    return render(
        request,
        "agenda/list.html",
        _context(
            "past" if past else "upcoming",
            page=page,
            days=selectors.by_day(page.items),
            past=past,
        ),
    )


@never_cache
@require_safe
def month_current(request):
    today = clock.today()
    return redirect("agenda:month", year=f"{today.year:04d}", month=f"{today.month:02d}")


@never_cache
@require_safe
def month(request, year, month):
    space = selectors.agenda_space(request.user)
    view = selectors.month_view(space, int(year), int(month))
    today = clock.today()
    return render(
        request,
        "agenda/month.html",
        _context(
            "month",
            month=view,
            day_names=selectors.DAY_NAMES,
            this_month=(view.year, view.month) == (today.year, today.month),
        ),
    )


# --- Appointments ---------------------------------------------------------------------------


def _appointment_data(cleaned) -> services.AppointmentData:
    return services.AppointmentData(
        starts_at=cleaned["starts_at"],
        ends_at=cleaned["ends_at"],
        title=cleaned["title"],
        professional=cleaned["directory_entry"],
        professional_name=cleaned["professional_name"],
        place=cleaned["place"],
        notes=cleaned["notes"],
    )


def _candidates(results: list, chosen: str, current=None) -> list:
    """The directory entries offered: the search's results, then the one chosen (or, before any
    choice, the appointment's own) when the results do not hold it."""
    offered = list(results)
    keys = {str(pro.public_id) for pro in offered}
    if chosen and chosen not in keys:
        entry = selectors.directory_entry(chosen)
        if entry is not None:
            offered.append(entry)
    elif not chosen and current is not None and str(current.public_id) not in keys:
        offered.append(current)
    return offered


def _appointment_form(request, *, space, appointment=None):
    """Add or change: a POST either searches the directory (the form comes back with the
    entries to choose from, every typed value kept) or saves."""
    template = "agenda/appointment_form.html"
    current = appointment.professional if appointment and appointment.professional_id else None
    if request.method != "POST":
        initial = AppointmentForm.initial_for(appointment) if appointment else {}
        form = AppointmentForm(initial=initial, candidates=_candidates([], "", current))
        context = {"form": form, "appointment": appointment, "searched": "", "results": None}
        return render(request, template, context)
    data = request.POST
    query = " ".join(data.get("search", "").split())[: selectors.SEARCH_MAX]
    chosen = data.get("professional", "")
    # "Rechercher dans l'annuaire", or Enter in the search field after typing a new query.
    searching = data.get("action") == "rechercher" or (query and query != data.get("searched"))
    results = selectors.directory_search(query) if query else []
    candidates = _candidates(results, chosen)
    context = {"appointment": appointment, "searched": query, "results": None}
    if searching:
        # Unbound, the typed values as initial ones: no error is shown for fields not filled
        # in yet, only the search's own.
        initial = {name: data.get(name, "") for name in AppointmentForm.base_fields}
        form = AppointmentForm(initial=initial, candidates=candidates)
        if not selectors.search_words(query):
            form.search_refused()
        context["results"] = results
        return render(request, template, {**context, "form": form})
    form = AppointmentForm(data, candidates=candidates)
    if form.is_valid():
        try:
            if appointment is None:
                appointment = services.appointment_add(
                    user=request.user,
                    space=space,
                    data=_appointment_data(form.cleaned_data),
                    client=client_address(request),
                )
                messages.success(request, "Le rendez-vous a été ajouté à votre agenda.")
            else:
                services.appointment_update(
                    user=request.user,
                    appointment=appointment,
                    data=_appointment_data(form.cleaned_data),
                    client=client_address(request),
                )
                messages.success(request, "Le rendez-vous a été modifié.")
        except services.NotWritable:
            return _read_only(request, appointment)
        except (services.AgendaError, ValidationError) as exc:
            form.add_error(None, _message(exc))
        else:
            return redirect("agenda:appointment", public_id=appointment.public_id)
    return render(request, template, {**context, "form": form}, status=400)


def _message(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def _read_only(request, appointment):
    """The appointment came from a professional or a booking service: changed there, not
    here; the page says where."""
    return render(request, "agenda/read_only.html", {"appointment": appointment}, status=403)


@never_cache
@require_http_methods(["GET", "POST"])
def appointment_add(request):
    space = selectors.agenda_space(request.user)
    return _appointment_form(request, space=space)


@never_cache
@require_safe
def appointment_detail(request, public_id):
    space = selectors.agenda_space(request.user)
    appointment = selectors.appointment_of_space(space, public_id)
    return render(
        request,
        "agenda/appointment_detail.html",
        {"appointment": appointment, "item": selectors.appointment_item(appointment)},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def appointment_edit(request, public_id):
    space = selectors.agenda_space(request.user)
    appointment = selectors.appointment_of_space(space, public_id)
    if appointment.read_only:
        return _read_only(request, appointment)
    return _appointment_form(request, space=space, appointment=appointment)


def _withdraw(request, appointment):
    """A professional's or a service's appointment: not deleted there, but the person may take
    it out of their own agenda, after a confirmation that says so."""
    if request.method == "POST":
        try:
            services.appointment_withdraw(
                user=request.user, appointment=appointment, client=client_address(request)
            )
        except services.AgendaError as exc:
            messages.error(request, str(exc))
            return redirect("agenda:appointment", public_id=appointment.public_id)
        messages.success(request, "Le rendez-vous a été retiré de votre agenda.")
        return redirect("agenda:index")
    return render(
        request,
        "agenda/appointment_delete.html",
        {
            "appointment": appointment,
            "item": selectors.appointment_item(appointment),
            "withdraw": True,
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def appointment_delete(request, public_id):
    space = selectors.agenda_space(request.user)
    appointment = selectors.appointment_of_space(space, public_id)
    if appointment.read_only:
        return _withdraw(request, appointment)
    if request.method == "POST":
        try:
            services.appointment_delete(
                user=request.user, appointment=appointment, client=client_address(request)
            )
        except services.NotWritable:
            return _read_only(request, appointment)
        messages.success(request, "Le rendez-vous a été supprimé de votre agenda.")
        return redirect("agenda:index")
    return render(
        request,
        "agenda/appointment_delete.html",
        {"appointment": appointment, "item": selectors.appointment_item(appointment)},
    )


# --- Reminders ------------------------------------------------------------------------------


def _reminder_form(request, *, space, reminder=None):
    posted = request.method == "POST"
    initial = ReminderForm.initial_for(reminder) if reminder else {}
    form = ReminderForm(request.POST if posted else None, initial=initial)
    context = {
        "form": form,
        "reminder": reminder,
        "max_per_day": settings.CARNET["AGENDA_REMINDERS_PER_DAY"],
    }
    if not posted:
        return render(request, "agenda/reminder_form.html", context)
    if form.is_valid():
        data = services.ReminderData(**form.cleaned_data)
        try:
            if reminder is None:
                reminder = services.reminder_add(
                    user=request.user, space=space, data=data, client=client_address(request)
                )
                messages.success(request, "Le rappel a été ajouté à votre agenda.")
            else:
                services.reminder_update(
                    user=request.user, reminder=reminder, data=data, client=client_address(request)
                )
                messages.success(request, "Le rappel a été modifié.")
        except (services.AgendaError, ValidationError) as exc:
            # The one refusal the form cannot know: the date already holds its 10 reminders.
            form.add_error("date", _message(exc))
        else:
            return redirect("agenda:reminder", public_id=reminder.public_id)
    return render(request, "agenda/reminder_form.html", context, status=400)


@never_cache
@require_http_methods(["GET", "POST"])
def reminder_add(request):
    space = selectors.agenda_space(request.user)
    return _reminder_form(request, space=space)


@never_cache
@require_safe
def reminder_detail(request, public_id):
    space = selectors.agenda_space(request.user)
    reminder = selectors.reminder_of_space(space, public_id)
    return render(
        request,
        "agenda/reminder_detail.html",
        {"reminder": reminder, "item": selectors.reminder_item(reminder)},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def reminder_edit(request, public_id):
    space = selectors.agenda_space(request.user)
    reminder = selectors.reminder_of_space(space, public_id)
    return _reminder_form(request, space=space, reminder=reminder)


@never_cache
@require_http_methods(["GET", "POST"])
def reminder_delete(request, public_id):
    space = selectors.agenda_space(request.user)
    reminder = selectors.reminder_of_space(space, public_id)
    if request.method == "POST":
        services.reminder_delete(
            user=request.user, reminder=reminder, client=client_address(request)
        )
        messages.success(request, "Le rappel a été supprimé de votre agenda.")
        return redirect("agenda:index")
    return render(
        request,
        "agenda/reminder_delete.html",
        {"reminder": reminder, "item": selectors.reminder_item(reminder)},
    )


# --- The reminder delay ---------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request):
    space = selectors.agenda_space(request.user)
    current = services.agenda_settings(space).reminder_delay
    posted = request.method == "POST"
    # Bound on every POST: a form sent without a choice is refused, never ignored.
    form = AgendaSettingsForm(request.POST if posted else None, initial={"reminder_delay": current})
    if posted and form.is_valid():
        delay = form.cleaned_data["reminder_delay"]
        services.reminder_delay_set(
            user=request.user, space=space, delay=delay, client=client_address(request)
        )
        label = AgendaSettings.Delay(delay).label
        messages.success(request, f"Vous serez prévenu {label} chaque rendez-vous et rappel.")
        return redirect("agenda:index")
    return render(request, "agenda/preferences.html", {"form": form}, status=400 if posted else 200)
