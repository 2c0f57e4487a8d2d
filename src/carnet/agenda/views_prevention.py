"""Pages of the prevention calendar: the calendar, following one item, the reminders per kind.
Thin views around `prevention_services`; they work without JavaScript."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from carnet.core.http import client_address

from . import prevention
from . import prevention_services as services
from .forms_prevention import PreventionRemindersForm, PreventionStatusForm
from .services import AgendaError


def _day(value) -> str:
    return formats.date_format(value, "j F Y", use_l10n=True)


def _reminders_form(calendar, data=None) -> PreventionRemindersForm:
    return PreventionRemindersForm(data, initial={"kinds": calendar.opt_out})


@never_cache
@require_http_methods(["GET"])
def calendar(request):
    space = services.prevention_space(request.user)
    found = services.prevention_calendar(space)
    return render(
        request,
        "agenda/prevention.html",
        {
            "calendar": found,
            "groups": found.groups,
            "reminders_form": _reminders_form(found),
            "children": services.children_calendars(request.user),
        },
    )


def _confirmation(item: prevention.Item, added: bool) -> str:
    text = f"Suivi enregistré pour « {item.label} » : {item.status_label.lower()}"
    if item.status == prevention.REALISE and item.done_on:
        text += f" le {_day(item.done_on)}"
    elif item.status == prevention.PLANIFIE and item.planned_on:
        text += f" pour le {_day(item.planned_on)}"
    text += "."
    if added:
        text += " La vaccination a aussi été ajoutée à votre profil médical."
    return text


@never_cache
@require_http_methods(["GET", "POST"])
def item(request, item_key):
    space = services.prevention_space(request.user)
    found = services.prevention_item(space, item_key)
    if found is None:
        raise Http404
    vaccination = found.kind == "vaccination"
    initial = {"status": found.status, "planned_on": found.planned_on, "done_on": found.done_on}
    posted = request.method == "POST"
    form = PreventionStatusForm(
        request.POST if posted else None, initial=initial, vaccination=vaccination
    )
    if posted and form.is_valid():
        if found.satisfied_by_vaccination:
            form.add_error(None, "Une vaccination de votre profil correspond déjà à cet élément.")
        else:
            data = form.cleaned_data
            added = bool(data.get("add_to_profile"))
            try:
                updated = services.prevention_status_set(
                    user=request.user,
                    space=space,
                    item_key=found.key,
                    status=data["status"],
                    planned_on=data["planned_on"],
                    done_on=data["done_on"],
                    add_to_profile=added,
                    client=client_address(request),
                )
            except services.PreventionError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            except AgendaError as exc:  # the space is no longer active
                raise Http404 from exc
            else:
                messages.success(request, _confirmation(updated, added))
                return redirect(f"{reverse('agenda:prevention')}#{updated.key}")
    status = 400 if posted else 200
    return render(
        request,
        "agenda/prevention_item.html",
        {"item": found, "form": form, "vaccination": vaccination},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def reminders(request):
    space = services.prevention_space(request.user)
    found = services.prevention_calendar(space)
    posted = request.method == "POST"
    form = _reminders_form(found, request.POST if posted else None)
    if posted and form.is_valid():
        try:
            chosen = services.prevention_opt_out_set(
                user=request.user,
                space=space,
                kinds=form.cleaned_data["kinds"],
                client=client_address(request),
            )
        except services.PreventionError as exc:
            form.add_error("kinds", exc.message)
        except AgendaError as exc:
            raise Http404 from exc
        else:
            if chosen:
                names = ", ".join(prevention.RULES.kinds[kind].lower() for kind in chosen)
                messages.success(request, f"Vous ne recevrez plus de rappels pour : {names}.")
            else:
                messages.success(request, "Vous recevrez tous les rappels de prévention.")
            return redirect(f"{reverse('agenda:prevention')}#rappels")
    return render(
        request,
        "agenda/prevention_reminders.html",
        {"reminders_form": form},
        status=400 if posted else 200,
    )
