from django.urls import path

from . import views

app_name = "catalogue"
urlpatterns = [
    path("", views.index, name="index"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/logo.png", views.logo, name="logo"),
]
