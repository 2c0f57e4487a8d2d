"""« Historique d'activité » (/historique/): the patient reads their trail, tab by tab.

Every read is scoped to the owner's own space (active or closed). A page costs a constant number
of queries whatever its length: the events, then one query each for the professionals named on
the page, the titles of its documents and the reasons of its emergency accesses.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from uuid import UUID

from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from carnet.accounts.selectors import _describe, _who, activity_events
from carnet.core import clock

from .models import Event

# The tabs, in the order shown.
TABS = {
    "professionnels": "Professionnels",
    "mes-activites": "Mes activités",
    "representants": "Représentants légaux et aidants",
    "services": "Services connectés",
    "partages": "Liens de partage",
}
DEFAULT_TAB = "professionnels"

# "Filtrer par type": each kind is a set of action names, defined here only.
KINDS = {
    "consultations": (
        "Consultations",
        {
            "document_consultation",
            "document_telechargement",
            "acces_documents_liste",
            "acces_document_lecture",
            "acces_vaccinations_lecture",
            "acces_entourage_lecture",
            "acces_synthese_lecture",
            "conversation_lue_professionnel",
            "piece_jointe_consultation",
            "piece_jointe_telechargement",
            "acces_urgence",
            "acces_urgence_ouvert",
            "historique_exporte",
            "application_lecture",
            "application_recherche",
            "application_synthese",
            "partage_ouverture",
            "partage_synthese",
            "partage_synthese_fhir",
            "export_telechargement",
        },
    ),
    "ajouts": (
        "Ajouts",
        {
            "document_ajout",
            "acces_document_ajout",
            "rendez_vous_ajout",
            "rappel_ajout",
            "acces_rendez_vous_ajout",
            "agenda_import",
            "application_ajout",
        },
    ),
    "modifications": (
        "Modifications",
        {
            "document_modification",
            "document_remplace",
            "document_epingle",
            "document_desepingle",
            "document_suppression",
            "document_restauration",
            "document_purge",
            "conversation_supprimee",
            "conversation_purge",
            "documents_parametres",
            "mot_de_passe_modifie",
            "mot_de_passe_reinitialise",
            "identifiant_modifie",
            "email_modifie",
            "mobile_modifie",
            "preferences_modifiees",
            "rendez_vous_modification",
            "rendez_vous_suppression",
            "rendez_vous_retire",
            "rappel_modification",
            "rappel_suppression",
            "agenda_parametres",
            "agenda_abonnement_cree",
            "agenda_abonnement_revoque",
            "prevention_statut",
            "prevention_rappels",
            "application_modification",
            "application_annulation",
        },
    ),
    "autorisations": (
        "Blocages et autorisations",
        {
            "consentement_atteste",
            "professionnel_bloque",
            "professionnel_debloque",
            "medecin_traitant_designe",
            "administrateur_donne",
            "administrateur_retire",
            "document_masque",
            "document_affiche",
            "soin_masque",
            "soin_affiche",
            "urgence_parametres",
            "service_connecte",
            "service_deconnecte",
            "partage_cree",
            "partage_revoque",
        },
    ),
    "connexions": (
        "Connexions",
        {
            "connexion",
            "connexion_echouee",
            "connexion_bloquee",
            "deconnexion",
            "code_refuse",
            "session_terminee",
            "sessions_terminees",
            "partage_code_refuse",
            "partage_verrouille",
        },
    ),
}

PROFESSIONAL_PREFIX = "professionnel:"
SHARE_PREFIX = "partage:"  # a share link's openings and downloads (carnet.sharing)
APP_PREFIX = "application:"  # a connected app's calls (carnet.catalogue)
CHANNEL_PORTAL = "Portail"
CHANNEL_API = "API (service connecté)"
CHANNEL_EMERGENCY = "Accès en urgence"
DELETED_DOCUMENT = "document supprimé"
# The emergency access row and its "acces_urgence_ouvert" event are written in the same
# transaction, a few milliseconds apart: a row started this close to the event is its own.
EMERGENCY_MATCH_WINDOW = timedelta(minutes=1)
EXPORT_CHUNK = 500  # events read, and looked up, at a time by the CSV export


@dataclass
class Row:
    at: datetime
    who: str
    label: str
    detail: str
    document: str
    channel: str


def history_space(user):
    """The space whose history `user` may read: their own, active or closed; else a 404."""
    from carnet.enrollment.models import Space
    from carnet.enrollment.selectors import space_for_user

    space = space_for_user(user)
    if space is None or space.state not in (Space.State.ACTIVE, Space.State.CLOSED):
        raise Http404
    return space


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def history_events(user, space, tab: str, *, since=None, until=None, kind: str = ""):
    """The events of one tab, newest first, narrowed to a period (days, both included, in
    local time) and a kind."""
    if tab == "professionnels":
        from carnet.documents.selectors import unsaid_document_ids

        events = Event.objects.filter(
            space_id=space.public_id, actor__startswith=PROFESSIONAL_PREFIX
        )
        withheld = unsaid_document_ids(space)
        if withheld:  # a result withheld until the announcement consultation stays unsaid
            events = events.exclude(object_type="document", object_id__in=withheld)
    elif tab == "mes-activites":
        # The account's trail as "Mes activités" reads it, less what others did in the space.
        events = activity_events(user).filter(
            Q(actor=user.actor) | Q(object_type="user", object_id=str(user.public_id))
        )
    elif tab == "representants":
        # What the accounts linked to the space (legal representatives, guardians under a
        # protection measure, caregivers; links open or ended) did in it.
        from carnet.documents.selectors import unsaid_document_ids

        events = Event.objects.filter(
            space_id=space.public_id, actor__in=_linked_actors(space)
        ).exclude(actor=user.actor)
        unsaid = unsaid_document_ids(space)
        if unsaid:
            events = events.exclude(object_type="document", object_id__in=unsaid)
    elif tab == "services":
        # What the connected apps (catalogue) did in the space, call by call.
        events = Event.objects.filter(space_id=space.public_id, actor__startswith=APP_PREFIX)
    elif tab == "partages":
        # The space's share links (carnet.sharing): made and revoked by whom, and what was
        # opened or downloaded through them.
        from carnet.documents.selectors import unsaid_document_ids

        events = Event.objects.filter(space_id=space.public_id).filter(
            Q(actor__startswith=SHARE_PREFIX) | Q(object_type="partage")
        )
        unsaid = unsaid_document_ids(space)
        if unsaid:
            events = events.exclude(object_type="document", object_id__in=unsaid)
    else:
        return Event.objects.none()
    if since is not None:
        events = events.filter(at__gte=_day_start(since))
    if until is not None:
        events = events.filter(at__lt=_day_start(until + timedelta(days=1)))
    if kind in KINDS:
        events = events.filter(action__in=sorted(KINDS[kind][1]))
    return events.order_by("-at", "-id")


def _linked_actors(space) -> list[str]:
    from carnet.family.models import Link

    return [
        f"usager:{public_id}"
        for public_id in Link.objects.filter(space=space)
        .values_list("user__public_id", flat=True)
        .distinct()
    ]


def _linked_names(events, space) -> dict[str, str]:
    """ "Prénom Nom (représentant légal)" by actor, for the linked accounts of `events`."""
    from carnet.family.models import Link

    actors = {e.actor for e in events if e.actor.startswith("usager:")}
    if not actors:
        return {}
    names = {}
    for link in Link.objects.filter(space=space).select_related("user__person"):
        actor = link.user.actor
        if actor in actors and link.user.person is not None:
            person = link.user.person
            names[actor] = f"{person.first_name} {person.last_name} ({link.get_kind_display()})"
    return names


def _share_names(events, space) -> dict[str, str]:
    """ "Lien de partage « label »" by actor, for the share links of `events`."""
    from carnet.sharing.selectors import share_names

    return share_names((e.actor for e in events), space)


def _professionals(events) -> dict[str, str]:
    """ "Prénom Nom, Profession (spécialité)" by actor, for the professionals of `events`."""
    from carnet.professionals.models import Professional

    ids = _uuids(e.actor.removeprefix(PROFESSIONAL_PREFIX) for e in events if _is_pro(e))
    if not ids:
        return {}
    professions = dict(Professional.Profession.choices)
    names = {}
    for p in Professional.objects.filter(user__public_id__in=ids).values(
        "user__public_id", "first_name", "last_name", "profession", "specialty"
    ):
        profession = professions.get(p["profession"], p["profession"])
        if p["specialty"]:
            profession = f"{profession} ({p['specialty']})"
        names[f"{PROFESSIONAL_PREFIX}{p['user__public_id']}"] = (
            f"{p['first_name']} {p['last_name']}, {profession}"
        )
    return names


def _apps(events) -> dict[str, str]:
    """The connected apps' names by actor, for the apps of `events` (one query)."""
    from carnet.catalogue.models import App

    ids = _uuids(e.actor.removeprefix(APP_PREFIX) for e in events if e.actor.startswith(APP_PREFIX))
    if not ids:
        return {}
    return {
        f"{APP_PREFIX}{public_id}": name
        for public_id, name in App.objects.filter(public_id__in=ids).values_list(
            "public_id", "name"
        )
    }


def _uuids(values) -> set[UUID]:
    """The well-formed ids among `values` (an actor or object id is a free string)."""
    found = set()
    for value in values:
        try:
            found.add(UUID(value))
        except (TypeError, ValueError):
            continue
    return found


def _is_pro(event) -> bool:
    return event.actor.startswith(PROFESSIONAL_PREFIX)


def _titles(events, space) -> dict[str, str]:
    from carnet.documents.models import Document

    ids = _uuids(e.object_id for e in events if e.object_type == "document")
    if not ids:
        return {}
    # A withheld document's title is not shown until it is released (announcement consultation).
    rows = Document.objects.filter(space=space, public_id__in=ids).exclude(
        withheld_until__gt=clock.now()
    )
    if getattr(space, "seen_by_representative", False):  # a minor's confidential acts
        rows = rows.exclude(confidential=True)
    rows = rows.values_list("public_id", "title")
    return {str(public_id): title for public_id, title in rows}


def _emergencies(events, space) -> dict[int, str]:
    """The reason of each "acces_urgence_ouvert" event, from the emergency access started by
    the same professional at (nearly) the same moment."""
    from carnet.consent.models import EmergencyAccess

    opened = [e for e in events if e.action == "acces_urgence_ouvert"]
    if not opened:
        return {}
    accesses = list(
        EmergencyAccess.objects.filter(
            space=space,
            started_at__gte=min(e.at for e in opened) - EMERGENCY_MATCH_WINDOW,
            started_at__lte=max(e.at for e in opened) + EMERGENCY_MATCH_WINDOW,
        ).values_list("professional__user__public_id", "started_at", "reason")
    )
    reasons = {}
    for event in opened:
        candidates = [
            (abs(started - event.at), reason)
            for user_id, started, reason in accesses
            if event.actor == f"{PROFESSIONAL_PREFIX}{user_id}"
            and abs(started - event.at) <= EMERGENCY_MATCH_WINDOW
        ]
        if candidates:
            reasons[event.pk] = min(candidates)[1]
    return reasons


def history_rows(events, user, space) -> list[Row]:
    """The lines of one page in words: six queries at most, whatever the page's length."""
    events = list(events)
    professionals = _professionals(events)
    linked = _linked_names(events, space)
    titles = _titles(events, space)
    reasons = _emergencies(events, space)
    shares = _share_names(events, space)
    apps = _apps(events)
    rows = []
    for event in events:
        label, detail = _describe(event)
        if _is_pro(event):
            # The professional's basis of access ("motif : autorise") is for the service.
            detail = ""
            who = professionals.get(event.actor) or _who(event, user)
        elif event.actor.startswith(APP_PREFIX):
            who = apps.get(event.actor) or "Service connecté"
        elif event.actor in shares:
            who = shares[event.actor]
        elif event.actor in linked and event.actor != user.actor:
            who = linked[event.actor]
        else:
            who = _who(event, user)
        document = ""
        if event.object_type == "document":
            document = titles.get(event.object_id, DELETED_DOCUMENT)
        channel = CHANNEL_API if event.actor.startswith(APP_PREFIX) else CHANNEL_PORTAL
        if event.action == "acces_urgence_ouvert" or (event.detail or {}).get("motif") == "urgence":
            channel = CHANNEL_EMERGENCY
            if event.pk in reasons:
                channel = f"{CHANNEL_EMERGENCY} — motif : {reasons[event.pk]}"
        rows.append(Row(event.at, who, label, detail, document, channel))
    return rows


def space_trail(space):
    """Every event of a space, newest first, less what its reader may not be told (the
    documents still withheld; for a representative, a minor's confidential ones): the history
    in the full export (« Télécharger mes données »)."""
    from carnet.documents.selectors import unsaid_document_ids

    events = Event.objects.filter(space_id=space.public_id)
    unsaid = unsaid_document_ids(space)
    if unsaid:
        events = events.exclude(object_type="document", object_id__in=unsaid)
    return events.order_by("-at", "-id")


def history_rows_all(events, user, space):
    """Every line of a history, read and looked up EXPORT_CHUNK events at a time."""
    stream = events.iterator(chunk_size=EXPORT_CHUNK)
    while chunk := list(islice(stream, EXPORT_CHUNK)):
        yield from history_rows(chunk, user, space)
