from django.db.models import Q
from django.db.models.functions import Length

from .models import App, Connection


def catalogue_apps(*, query: str = "", category: str = ""):
    """The entries offered to patients: online apps, not professionals' software."""
    apps = App.objects.filter(status=App.Status.ONLINE).exclude(
        authorization_grant_type=App.GRANT_CLIENT_CREDENTIALS
    )
    if query:
        apps = apps.filter(
            Q(name__icontains=query) | Q(editor__icontains=query) | Q(description__icontains=query)
        )
    if category:
        apps = apps.filter(category=category)
    return apps.order_by("name")


def open_connections(space):
    return (
        Connection.objects.filter(space=space, revoked_at__isnull=True)
        .select_related("app", "granted_by")
        .order_by("app__name")
    )


def operator_apps(*, status: str = "", category: str = ""):
    """Every entry, as operators manage them (any status, professionals' software too). The
    logos stay in the database: `logo_size` says whether there is one."""
    apps = App.objects.defer("logo").annotate(logo_size=Length("logo"))
    if status:
        apps = apps.filter(status=status)
    if category:
        apps = apps.filter(category=category)
    return apps.order_by("name", "pk")


def open_connection_count(app: App) -> int:
    """How many profiles the app is connected to now (what suspending it would cut off)."""
    return Connection.objects.filter(app=app, revoked_at__isnull=True).count()
