"""Reads about the logged-in person's own account: sessions and activity trail."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils.module_loading import import_string

from carnet.audit.models import Event
from carnet.core import clock

from .models import OneTimeCode, SessionRecord, User
from .services import space_id_of


def sessions_active(user: User) -> list[SessionRecord]:
    """The account's sessions still open: not ended, within their absolute lifetime, and still
    known to the session store (an idle session expires there without telling us)."""
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    since = clock.now() - settings.CARNET["SESSION_ABSOLUTE_LIFETIME"]
    records = SessionRecord.objects.filter(
        user=user, ended_at__isnull=True, created_at__gte=since
    ).order_by("-last_seen_at", "-id")
    # One store read per session: a person has a handful of them.
    return [r for r in records if store(session_key=r.session_key).load()]


# "Qui a consulté mes documents ?" and the other subjects the trail can be narrowed to.
SUBJECTS = {"documents": "Documents"}


def activity_events(user: User, *, subject: str = ""):
    """The person's own trail, newest first: their space's chain and the events about them;
    with `subject`, only the events about that kind of object in their space."""
    about_me = Q(object_type="user", object_id=str(user.public_id))
    space_id = space_id_of(user)
    if subject == "documents":
        if not space_id:
            return Event.objects.none()
        events = Event.objects.filter(space_id=space_id, object_type="document")
    else:
        where = about_me | Q(space_id=space_id) if space_id else about_me
        events = Event.objects.filter(where)
    if space_id:
        from carnet.documents.selectors import withheld_document_ids

        withheld = withheld_document_ids(space_id)
        if withheld:  # a result withheld until the announcement consultation stays unsaid
            events = events.exclude(object_type="document", object_id__in=withheld)
    return events.order_by("-at", "-id")


# --- The trail in French words ----------------------------------------------------------------

ACTIONS = {
    # Connected apps (catalogue) and their calls to the FHIR API
    "service_connecte": "Connexion d'un service du catalogue",
    "service_deconnecte": "Désynchronisation d'un service",
    "service_rappel": "Rappel des services connectés",
    "application_lecture": "Lecture par un service connecté",
    "application_recherche": "Recherche par un service connecté",
    "application_synthese": "Synthèse lue par un service connecté",
    "application_ajout": "Ajout par un service connecté",
    "application_modification": "Modification par un service connecté",
    "application_annulation": "Annulation par un service connecté",
    "catalogue_ajout": "Référencement d'un service",
    "catalogue_statut": "Changement de statut d'un service",
    "catalogue_modification": "Modification d'un service du catalogue",
    "catalogue_logo": "Nouveau logo d'un service du catalogue",
    # Linked profiles (family)
    "profil_rattache": "Rattachement du profil à un représentant légal",
    "invitation_envoyee": "Invitation d'un second représentant légal",
    "invitation_acceptee": "Invitation acceptée par le second représentant légal",
    "invitation_refusee": "Invitation refusée",
    "lien_termine": "Fin de la gestion du profil par un représentant ou un aidant",
    "mesure_de_protection": "Mesure de protection enregistrée",
    "mesure_de_protection_modifiee": "Mesure de protection modifiée",
    "mesure_de_protection_levee": "Mesure de protection levée",
    "connexion": "Connexion",
    "cle_acces_ajoutee": "Ajout d'une clé d'accès",
    "cle_acces_supprimee": "Suppression d'une clé d'accès",
    "cle_acces_clone_suspecte": "Clé d'accès refusée (compteur incohérent : copie possible)",
    "identite_federee_liee": "Identité FranceConnect+ ou Pro Santé Connect associée au compte",
    "connexion_echouee": "Connexion échouée (identifiant ou mot de passe incorrect)",
    "connexion_bloquee": "Blocage temporaire après trop de tentatives de connexion",
    "deconnexion": "Déconnexion",
    "code_refuse": "Code refusé",
    "session_terminee": "Session terminée",
    "sessions_terminees": "Sessions terminées",
    "mot_de_passe_modifie": "Changement de mot de passe",
    "mot_de_passe_refuse": "Mot de passe actuel refusé",
    "mot_de_passe_reinitialise": "Réinitialisation du mot de passe",
    "reinitialisation_demandee": "Demande de réinitialisation du mot de passe",
    "rappel_identifiant": "Envoi de l'identifiant oublié",
    "identifiant_modifie": "Changement d'identifiant",
    "email_modifie": "Changement d'adresse e-mail",
    "mobile_modifie": "Changement de numéro de mobile",
    "preferences_modifiees": "Modification des préférences de notification",
    "identite_confirmee": "Confirmation d'identité",
    "compte_cree": "Création du compte",
    "suppression_demandee": "Demande de suppression des données",
    "suppression_annulee": "Annulation de la demande de suppression",
    "espace_purge": "Suppression définitive des données",
    "code_provisoire_envoye": "Envoi du code provisoire",
    "code_provisoire_renvoye": "Envoi d'un nouveau code provisoire",
    "document_ajout": "Ajout d'un document",
    "document_consultation": "Consultation d'un document",
    "document_telechargement": "Téléchargement d'un document",
    "document_modification": "Modification d'un document",
    "document_epingle": "Document épinglé",
    "document_desepingle": "Document désépinglé",
    "document_masque": "Document masqué aux professionnels de santé",
    "document_affiche": "Document de nouveau visible par les professionnels de santé",
    "document_suppression": "Suppression d'un document",
    "document_restauration": "Restauration d'un document",
    "document_purge": "Suppression définitive d'un document",
    "document_remplace": "Document remplacé par une nouvelle version",
    "document_illisible": "Document endommagé (non présenté)",
    "document_libere": "Document retenu rendu visible au patient",
    "documents_parametres": "Modification des préférences des documents",
    "soin_masque": "Soin masqué aux professionnels de santé",
    "soin_affiche": "Soin de nouveau visible par les professionnels de santé",
    "consentement_atteste": "Premier accès d'un professionnel (consentement attesté)",
    "acces_documents_liste": "Consultation de la liste des documents par un professionnel",
    "acces_document_lecture": "Consultation d'un document par un professionnel",
    "acces_document_ajout": "Ajout d'un document par un professionnel",
    "acces_vaccinations_lecture": "Consultation des vaccinations par un professionnel",
    "acces_entourage_lecture": "Consultation de « Entourage et volontés » par un professionnel",
    "acces_synthese_lecture": "Consultation de la synthèse par un professionnel",
    "acces_urgence": "Accès en urgence autorisé",
    "acces_urgence_ouvert": "Accès en urgence à votre dossier",
    "professionnel_bloque": "Professionnel bloqué",
    "professionnel_debloque": "Professionnel débloqué",
    "medecin_traitant_designe": "Désignation du médecin traitant",
    "administrateur_donne": "Professionnel désigné administrateur",
    "administrateur_retire": "Professionnel retiré des administrateurs",
    "urgence_parametres": "Modification des paramètres d'accès en urgence",
    "historique_exporte": "Export de l'historique d'activité",
    "export_demande": "Demande d'un export de toutes les données (« Télécharger mes données »)",
    "export_telechargement": "Téléchargement de l'export de toutes les données",
    "rendez_vous_ajout": "Ajout d'un rendez-vous à l'agenda",
    "rendez_vous_modification": "Modification d'un rendez-vous",
    "rendez_vous_suppression": "Suppression d'un rendez-vous",
    "rendez_vous_retire": "Rendez-vous retiré de l'agenda",
    "conversation_lue_professionnel": "Lecture d'un échange de messagerie par un professionnel",
    "rappel_ajout": "Ajout d'un rappel à l'agenda",
    "rappel_modification": "Modification d'un rappel",
    "rappel_suppression": "Suppression d'un rappel",
    "agenda_parametres": "Modification du délai des rappels de l'agenda",
    "agenda_import": "Import d'un fichier d'agenda (.ics)",
    "agenda_abonnement_cree": "Création de l'adresse d'abonnement à l'agenda",
    "agenda_abonnement_revoque": "Désactivation de l'adresse d'abonnement à l'agenda",
    "prevention_statut": "Suivi d'une recommandation de prévention",
    "prevention_rappels": "Modification des rappels de prévention",
    "acces_rendez_vous_ajout": "Ajout d'un rendez-vous par un professionnel",
    "message_recu": "Message reçu d'un professionnel de santé",
    "message_envoye": "Message envoyé à un professionnel de santé",
    "message_non_remis": "Message non remis au professionnel de santé",
    "conversation_close": "Échange clos par le professionnel de santé",
    "conversation_archivee": "Conversation archivée",
    "conversation_desarchivee": "Conversation sortie des archives",
    "conversation_supprimee": "Suppression d'une conversation",
    "conversation_purge": "Effacement définitif d'une conversation supprimée",
    "piece_jointe_consultation": "Consultation d'une pièce jointe",
    "piece_jointe_telechargement": "Téléchargement d'une pièce jointe",
    "piece_jointe_enregistree": "Pièce jointe enregistrée dans les documents",
    # Share links (carnet.sharing)
    "partage_cree": "Création d'un lien de partage",
    "partage_revoque": "Révocation d'un lien de partage",
    "partage_ouverture": "Ouverture d'un lien de partage",
    "partage_synthese": "Téléchargement de la synthèse médicale par un lien de partage",
    "partage_synthese_fhir": "Synthèse (FHIR) lue par un lien de partage",
    "partage_code_refuse": "Code d'accès d'un lien de partage refusé",
    "partage_verrouille": "Lien de partage verrouillé après trop de codes refusés",
}
TRANSITIONS = {
    "active": "Activation de l'espace",
    "opposed": "Opposition à la création de l'espace",
    "closed": "Fermeture de l'espace",
    "purged": "Suppression définitive des données",
}
CHANNELS = {"email": "par e-mail", "sms": "par SMS", "letter": "par courrier"}
PURPOSES = dict(OneTimeCode.Purpose.choices)


@dataclass
class Activity:
    at: datetime
    label: str
    detail: str
    client: str
    who: str = ""


def _who(event: Event, user: User | None) -> str:
    """Who acted, in words: the person, the service, or another actor (named by issue 6)."""
    if user is not None and event.actor == user.actor:
        return "Vous"
    kind = event.actor.split(":", 1)[0]
    return {
        "systeme": "Le service",
        "operateur": "L'Assurance Maladie",
        "professionnel": "Un professionnel de santé",
        "anonyme": "Personne de connecté",
        "partage": "Un lien de partage",
    }.get(kind, "Vous" if kind == "usager" and user is None else "Une autre personne")


LOGIN_MEANS = {
    "cle_acces": "avec une clé d'accès",
    "franceconnect": "avec FranceConnect+",
    "prosanteconnect": "avec Pro Santé Connect",
}


def _describe(event: Event) -> tuple[str, str]:
    detail = event.detail or {}
    action = event.action
    if action == "espace_transition":
        if detail.get("motif") == "reouverture":
            return "Réouverture de l'espace", ""
        if "automatique" in str(detail.get("motif", "")):
            return "Création automatique de l'espace", ""
        return TRANSITIONS.get(detail.get("vers"), "Changement d'état de l'espace"), ""
    label = ACTIONS.get(action, action.replace("_", " ").capitalize())
    parts = []
    if "canal" in detail:
        parts.append(CHANNELS.get(detail["canal"], ""))
    if "usage" in detail:
        parts.append(PURPOSES.get(detail["usage"], ""))
    if "motif" in detail:
        parts.append(f"motif : {detail['motif']}")
    if "categorie" in detail:
        from carnet.documents.models import Category

        parts.append(dict(Category.choices).get(detail["categorie"], ""))
    if "nombre" in detail:
        parts.append(f"{detail['nombre']} session(s)")
    if "moyen" in detail:
        parts.append(LOGIN_MEANS.get(detail["moyen"], ""))
    return label, " — ".join(p for p in parts if p)


def activities_describe(events, user: User | None = None) -> list[Activity]:
    described = []
    for event in events:
        label, detail = _describe(event)
        described.append(
            Activity(
                at=event.at,
                label=label,
                detail=detail,
                client=event.client,
                who=_who(event, user),
            )
        )
    return described
