from django.conf import settings


def service(request):
    context = {"SERVICE_NAME": settings.SERVICE_NAME, "DEMO_MODE": settings.DEMO_MODE}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        person = getattr(user, "person", None)
        if person is not None:
            first, last = person.first_name, person.last_name
            context["account_name"] = f"{first} {last[:1]}."
            context["account_initials"] = (first[:1] + last[:1]).upper()
        else:
            context["account_name"] = user.identifier
            context["account_initials"] = user.identifier[:2].upper()
    return context
