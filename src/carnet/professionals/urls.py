from django.urls import path

from . import portal_agenda, portal_messaging, portal_record, portal_views, views

app_name = "professionals"

# Included under "pro/" (next to accounts' /pro/, /pro/connexion/…, which it does not shadow).
urlpatterns = [
    path("activer/<str:token>/", views.activate, name="activate"),
    path("activer/<str:token>/authentificateur/", views.activate_totp, name="activate_totp"),
    # The portal: a patient is named by the public id of their space, never by the NIR.
    path("patients/", portal_views.patient_search, name="patient_search"),
    path("patients/<uuid:space_id>/", portal_views.patient, name="patient"),
    # The other sections of the record, one page (one decision, one audit event) each.
    path(
        "patients/<uuid:space_id>/vaccinations/",
        portal_record.vaccinations,
        name="vaccinations",
    ),
    path("patients/<uuid:space_id>/entourage/", portal_record.circle, name="circle"),
    path("patients/<uuid:space_id>/synthese/", portal_record.synthesis, name="synthesis"),
    # The appointments this professional adds to the patient's agenda.
    path(
        "patients/<uuid:space_id>/rendez-vous/",
        portal_agenda.appointments,
        name="appointments",
    ),
    path(
        "patients/<uuid:space_id>/rendez-vous/<uuid:appointment_id>/modifier/",
        portal_agenda.appointment_edit,
        name="appointment_edit",
    ),
    path(
        "patients/<uuid:space_id>/rendez-vous/<uuid:appointment_id>/annuler/",
        portal_agenda.appointment_cancel,
        name="appointment_cancel",
    ),
    # This professional's conversations with the patient (secure messaging).
    path(
        "patients/<uuid:space_id>/messages/",
        portal_messaging.conversations,
        name="conversations",
    ),
    path(
        "patients/<uuid:space_id>/messages/<uuid:conversation_id>/",
        portal_messaging.conversation,
        name="conversation",
    ),
    path(
        "patients/<uuid:space_id>/messages/<uuid:conversation_id>/pieces-jointes/"
        "<uuid:attachment_id>/",
        portal_messaging.attachment,
        name="conversation_attachment",
    ),
    path(
        "patients/<uuid:space_id>/messages/<uuid:conversation_id>/clore/",
        portal_messaging.conversation_close,
        name="conversation_close",
    ),
    # The password of the SMTP messaging gateway (shown once).
    path("messagerie/acces-smtp/", portal_messaging.smtp_access, name="smtp_access"),
    path("patients/<uuid:space_id>/consentement/", portal_views.consent, name="consent"),
    path("patients/<uuid:space_id>/urgence/", portal_views.emergency, name="emergency"),
    path("patients/<uuid:space_id>/ajouter/", portal_views.document_add, name="document_add"),
    path(
        "patients/<uuid:space_id>/documents/<uuid:doc_id>/fichier/",
        portal_views.document_file,
        name="document_file",
    ),
    path(
        "patients/<uuid:space_id>/documents/<uuid:doc_id>/rendre-visible/",
        portal_views.document_release_view,
        name="document_release",
    ),
]
