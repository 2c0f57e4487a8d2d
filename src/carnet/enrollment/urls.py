from django.urls import path

from . import views

app_name = "enrollment"
urlpatterns = [
    path("activer/", views.identify, name="identify"),
    path("activer/decision/", views.decision, name="decision"),
    path("activer/coordonnees/", views.contacts, name="contacts"),
    path("activer/coordonnees/confirmer/", views.contact_confirm, name="contact_confirm"),
    path("activer/coordonnees/suite/", views.contacts_next, name="contacts_next"),
    path("activer/identifiant/", views.credentials, name="credentials"),
    path("activer/termine/", views.done, name="done"),
    path("activer/opposition/", views.oppose, name="oppose"),
    path("activer/opposition/confirmee/", views.opposed, name="opposed"),
    path("activer/opposition/attestation.pdf", views.opposition_pdf, name="opposition_pdf"),
    path("activer/nouveau-code/", views.new_code, name="new_code"),
    path("activer/nouveau-code/envoye/", views.new_code_sent, name="new_code_sent"),
    path("activer/aide-numero-de-serie/", views.serial_help, name="serial_help"),
]
