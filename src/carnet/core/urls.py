from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("cgu/", views.legal_page("cgu"), name="cgu"),
    path("donnees-personnelles/", views.legal_page("privacy"), name="privacy"),
    path("accessibilite/", views.legal_page("accessibility"), name="accessibility"),
    path("mentions-legales/", views.legal_page("legal"), name="legal"),
]
