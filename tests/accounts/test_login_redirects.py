"""After login, a person lands where they were going; each area has its own login page."""

import pytest
from django.test import Client

from carnet.accounts.models import User
from tests.accounts.helpers import log_in


def test_next_page_is_honoured_after_the_last_step(holder):
    client = Client()
    assert client.get("/agenda/")["Location"] == "/connexion/?next=/agenda/"
    client.get("/connexion/?next=/agenda/")
    assert log_in(client, holder.identifier)["Location"] == "/agenda/"


@pytest.mark.parametrize("target", ["https://exemple.org/", "//exemple.org/", "/pro/"])
def test_foreign_or_other_area_next_is_ignored(holder, target):
    client = Client()
    client.get("/connexion/", {"next": target})
    assert log_in(client, holder.identifier)["Location"] in ("/", "/bienvenue/")


@pytest.mark.parametrize(
    ("path", "login"), [("/pro/", "/pro/connexion/"), ("/operateur/", "/operateur/connexion/")]
)
def test_each_area_sends_visitors_to_its_own_login(db, path, login):
    assert Client().get(path)["Location"] == f"{login}?next={path}"


def test_patient_area_uses_the_patient_login(db):
    assert Client().get("/parametres/")["Location"] == "/connexion/?next=/parametres/"
    assert User.Kind.PATIENT == "usager"
