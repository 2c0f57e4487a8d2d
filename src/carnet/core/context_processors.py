from django.conf import settings


def service(request):
    """What the header of every page shows, read once here: in the template each lookup on the
    request or the lazy user (`request.resolver_match.namespace`) costs a failed item lookup
    (an exception) per dot, a dozen times a page."""
    match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    context = {
        "SERVICE_NAME": settings.SERVICE_NAME,
        "DEMO_MODE": settings.DEMO_MODE,
        "nav_section": match.namespace if match is not None else "",  # the app: "documents"
        "nav_page": match.url_name if match is not None else "",  # the page: "home"
        "nav_signed_in": signed_in,
        "nav_patient": signed_in and user.kind == user.Kind.PATIENT,
    }
    if signed_in:
        person = getattr(user, "person", None)
        acting = getattr(user, "acting_link", None)
        if person is not None and context["nav_patient"]:
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
