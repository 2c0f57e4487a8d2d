"""« Se connecter avec Pro Santé Connect » against a real OpenID provider on loopback: the RPPS
of the claims designates a directory professional, or nobody logs in."""

from urllib.parse import parse_qs, urlsplit

import pytest

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.federation.models import FederatedIdentity
from carnet.professionals.models import Professional
from tests.accounts.helpers import page
from tests.consent.conftest import make_professional
from tests.federation import flows

START = "/pro/connexion/prosanteconnect/"
CALLBACK = "/pro/connexion/prosanteconnect/retour/"
LOGIN = "/pro/connexion/"
CLIENT_ID = "carnet-psc"


def psc_account(sub: str, rpps: str, acr: str = "eidas1") -> dict:
    claims = {"SubjectNameID": f"8{rpps}", "given_name": "Claire", "family_name": "FICTIF"}
    return {"sub": sub, "acr": acr, "claims": claims}


@pytest.fixture
def doctor(db):
    return make_professional()


@pytest.fixture
def provider(start_oidc_provider, settings, doctor):
    accounts = {
        "claire": psc_account("psc-claire", doctor.rpps),
        "inconnu": psc_account("psc-inconnu", "10000000009"),
        "sans-rpps": {"sub": "psc-sans", "acr": "eidas1", "claims": {"given_name": "X"}},
    }
    started = start_oidc_provider(
        flows.provider_config(
            flows.BASE, accounts, client_id=CLIENT_ID, callback=CALLBACK, login=LOGIN
        )
    )
    flows.configure(settings, "prosanteconnect", started.issuer, CLIENT_ID)
    return started


def round_trip(client, login):
    return flows.round_trip(client, START, login, CALLBACK)


def refused(client, response):
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert "ne figure pas dans l'annuaire" in page(client.get(LOGIN))
    assert "_auth_user_id" not in client.session
    assert client.get("/pro/")["Location"].startswith(LOGIN)


def test_the_pro_login_page_offers_pro_sante_connect(client, provider):
    assert "Se connecter avec Pro Santé Connect" in page(client.get(LOGIN))
    query = parse_qs(urlsplit(client.get(START)["Location"]).query)
    assert query["acr_values"] == ["eidas1"] and query["code_challenge_method"] == ["S256"]


def test_a_directory_professional_logs_in_with_pro_sante_connect(client, provider, doctor):
    response = round_trip(client, "claire")
    assert response["Location"] == "/pro/"
    assert client.get("/pro/").status_code == 200
    assert int(client.session["_auth_user_id"]) == doctor.user_id
    assert FederatedIdentity.objects.get(user=doctor.user).subject == "psc-claire"
    assert Event.objects.filter(action="connexion", detail__moyen="prosanteconnect").exists()
    ending = flows.provider_logout_url(client.post("/deconnexion/"))
    assert ending.startswith(provider.issuer)  # the provider's session ends too


def test_a_directory_professional_without_an_account_gets_one(client, provider, doctor):
    Professional.objects.filter(pk=doctor.pk).update(user=None)
    response = round_trip(client, "claire")
    assert response["Location"] == "/pro/"
    doctor.refresh_from_db()
    user = doctor.user
    assert user.kind == User.Kind.PROFESSIONAL and not user.has_usable_password()
    assert int(client.session["_auth_user_id"]) == user.pk


def test_an_unknown_rpps_gets_no_access(client, provider):
    refused(client, round_trip(client, "inconnu"))
    assert not User.objects.filter(kind=User.Kind.PROFESSIONAL, identifier__startswith="psc-")
    assert Event.objects.get(action="connexion_federee_refusee").detail["motif"] == "rpps_inconnu"


def test_claims_without_an_rpps_get_no_access(client, provider):
    refused(client, round_trip(client, "sans-rpps"))


def test_a_suspended_professional_account_gets_no_access(client, provider, doctor):
    User.objects.filter(pk=doctor.user_id).update(is_active=False)
    response = round_trip(client, "claire")
    assert response["Location"] == LOGIN
    assert "suspendu" in page(client.get(LOGIN))
    assert "_auth_user_id" not in client.session
