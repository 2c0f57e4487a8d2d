from django.conf import settings


def service(request):
    context = {"SERVICE_NAME": settings.SERVICE_NAME, "DEMO_MODE": settings.DEMO_MODE}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        person = getattr(user, "person", None)
        acting = getattr(user, "acting_link", None)
        if person is not None and user.kind == user.Kind.PATIENT:
            from carnet.family.selectors import switcher_profiles

            context["linked_profiles"] = switcher_profiles(user, request.session)
            context["acting_link"] = acting
        if acting is not None:  # the header names the profile acted for, on every page
            person = acting.space.person
        if person is not None:
            first, last = person.first_name, person.last_name
            context["account_name"] = f"{first} {last[:1]}."
            context["account_initials"] = (first[:1] + last[:1]).upper()
        else:
            context["account_name"] = user.identifier
            context["account_initials"] = user.identifier[:2].upper()
    return context
