from django.urls import path

from . import views

app_name = "professionals"

# Included under "pro/" (next to accounts' /pro/, /pro/connexion/…, which it does not shadow).
urlpatterns = [
    path("activer/<str:token>/", views.activate, name="activate"),
    path("activer/<str:token>/authentificateur/", views.activate_totp, name="activate_totp"),
]
