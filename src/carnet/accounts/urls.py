from django.urls import path

from . import passkey_views, recovery_views, views
from .models import User

app_name = "accounts"

PATIENT = {"kind": User.Kind.PATIENT}
PRO = {"kind": User.Kind.PROFESSIONAL}
OPERATOR = {"kind": User.Kind.OPERATOR}

urlpatterns = [
    path("connexion/", views.login_view, PATIENT, name="login"),
    path("connexion/mode/", views.channel_view, PATIENT, name="login_channel"),
    path("connexion/code/", views.code_view, PATIENT, name="login_code"),
    path("connexion/cle-d-acces/", passkey_views.login_passkey, PATIENT, name="login_passkey"),
    path(
        "connexion/cle-d-acces/options/",
        passkey_views.login_options,
        PATIENT,
        name="login_passkey_options",
    ),
    path("deconnexion/", views.logout_view, name="logout"),
    path(
        "connexion/identifiant-oublie/",
        recovery_views.forgot_identifier,
        name="forgot_identifier",
    ),
    path(
        "connexion/identifiant-oublie/envoye/",
        recovery_views.forgot_identifier_sent,
        name="forgot_identifier_sent",
    ),
    path("connexion/mot-de-passe-oublie/", recovery_views.forgot_password, name="forgot_password"),
    path(
        "connexion/mot-de-passe-oublie/code/",
        recovery_views.forgot_password_code,
        name="forgot_password_code",
    ),
    path(
        "connexion/mot-de-passe-oublie/nouveau/",
        recovery_views.forgot_password_new,
        name="forgot_password_new",
    ),
    path(
        "connexion/mot-de-passe-oublie/termine/",
        recovery_views.forgot_password_done,
        name="forgot_password_done",
    ),
    path("pro/connexion/", views.login_view, PRO, name="pro_login"),
    path("pro/connexion/mode/", views.channel_view, PRO, name="pro_login_channel"),
    path("pro/connexion/code/", views.code_view, PRO, name="pro_login_code"),
    path("pro/", views.pro_home, name="pro_home"),
    path("operateur/connexion/", views.login_view, OPERATOR, name="operator_login"),
    path("operateur/connexion/mode/", views.channel_view, OPERATOR, name="operator_login_channel"),
    path("operateur/connexion/code/", views.code_view, OPERATOR, name="operator_login_code"),
    path("operateur/", views.operator_home, name="operator_home"),
]
