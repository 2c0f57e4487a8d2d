"""« S'identifier avec FranceConnect+ » against a real OpenID provider on loopback (panva's
oidc-provider): the round trip through Carnet's views, the identity pivot matched to the
registry, the one-time link of an existing account, activation, logout; and every answer that
must not log anyone in: wrong state, wrong nonce, tampered ID token, wrong acr, unknown or
ambiguous identity, a replayed answer."""

from datetime import date, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from django.conf import settings as django_settings

from carnet.accounts.models import SessionRecord
from carnet.audit.models import Event
from carnet.core import clock
from carnet.enrollment import services as enrollment
from carnet.enrollment.models import ProvisionalCode, Space
from carnet.federation import services as federation
from carnet.federation.models import FederatedIdentity
from tests.accounts.helpers import code_sent_to, is_logged_in, page
from tests.conftest import Issued
from tests.enrollment.helpers import PASSWORD, activate
from tests.enrollment.wizard import post_credentials
from tests.factories import make_nir
from tests.federation import flows

START = "/connexion/franceconnect/"
CALLBACK = "/connexion/franceconnect/retour/"
LINK = "/connexion/franceconnect/associer/"
HOME = ("/", "/bienvenue/")  # the welcome page on the very first login
CLIENT_ID = "carnet-franceconnect"
REFUSED = "n'a pas pu être vérifiée"
NOT_FOUND = "pas pu vous identifier de façon certaine"
NOT_FOUND_MESSAGE = federation.NOT_FOUND
CHILD_BIRTH = date(2015, 3, 1)

ACCOUNTS = {
    "alice": {"sub": "fc-alice", "acr": "eidas2", "claims": flows.fc_claims()},
    "alice-faible": {"sub": "fc-alice-faible", "acr": "eidas1", "claims": flows.fc_claims()},
    "inconnue": {
        "sub": "fc-inconnue",
        "acr": "eidas2",
        "claims": flows.fc_claims(family_name="DURAND"),
    },
    "nee-ailleurs": {
        "sub": "fc-nee-ailleurs",
        "acr": "eidas2",
        "claims": flows.fc_claims(birthplace="75056"),
    },
    "mineure": {
        "sub": "fc-mineure",
        "acr": "eidas2",
        "claims": flows.fc_claims(birthdate=CHILD_BIRTH.isoformat()),
    },
}


@pytest.fixture
def provider(start_oidc_provider, settings, db):
    started = start_oidc_provider(
        flows.provider_config(
            flows.BASE, ACCOUNTS, client_id=CLIENT_ID, callback=CALLBACK, login="/connexion/"
        )
    )
    flows.configure(settings, "franceconnect", started.issuer, CLIENT_ID)
    return started


def issued_alice(**overrides) -> Issued:
    person = flows.registry_alice(**overrides)
    [(person, code, _)] = enrollment.codes_issue([person])
    return Issued(person=person, code=code)


@pytest.fixture
def alice(provider):
    return activate(issued_alice(), identifier="alice.martin")


def round_trip(client, login="alice"):
    return flows.round_trip(client, START, login, CALLBACK)


def refused(client, response, message=REFUSED, reason=None):
    """No login, the message on the login page; the reason in the trail (None: an answer no
    departure of ours started, which anyone can send, goes to no trail)."""
    assert response.status_code == 302 and response["Location"] == "/connexion/"
    assert message in page(client.get("/connexion/"))
    assert "_auth_user_id" not in client.session
    assert not is_logged_in(client)
    refusals = Event.objects.filter(action="connexion_federee_refusee")
    if reason:
        assert refusals.last().detail["motif"] == reason
    else:
        assert not refusals.exists()


# --- The button --------------------------------------------------------------------------


def test_the_login_page_offers_franceconnect_only_when_it_is_configured(client, db, settings):
    assert "S'identifier avec FranceConnect+" not in page(client.get("/connexion/"))
    assert client.get(START).status_code == 404
    flows.configure(settings, "franceconnect", "https://fc.example", CLIENT_ID)
    assert "S'identifier avec FranceConnect+" in page(client.get("/connexion/"))


def test_the_authorization_request_asks_for_the_substantial_level_with_pkce_state_nonce(
    client, provider
):
    response = client.get(START)
    url = urlsplit(response["Location"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}" == provider.issuer
    assert query["acr_values"] == ["eidas2"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [flows.BASE + CALLBACK]
    assert query["state"][0] and query["nonce"][0] and query["code_challenge"][0]
    assert set(query["scope"][0].split()) >= {"openid", "family_name", "birthplace"}


# --- An existing account: linked once, then FranceConnect+ alone -------------------------


def test_first_login_links_the_existing_account_after_its_password_and_a_code(client, alice):
    response = round_trip(client)
    assert response["Location"] == LINK
    assert "_auth_user_id" not in client.session
    link_page = page(client.get(LINK))
    assert "alice.martin" in link_page and "Associer FranceConnect+" in link_page

    wrong = client.post(LINK, {"password": "pas-le-bon-mot-de-passe"})
    assert wrong.status_code == 200 and "Mot de passe incorrect." in page(wrong)
    assert not FederatedIdentity.objects.exists()

    response = client.post(LINK, {"password": PASSWORD})
    assert response["Location"] == "/connexion/mode/"
    client.post("/connexion/mode/", {"channel": "email"})
    response = client.post("/connexion/code/", {"code": code_sent_to(alice.email)})
    assert response.status_code == 302 and is_logged_in(client)
    link = FederatedIdentity.objects.get(user=alice)
    assert (link.provider, link.subject) == ("franceconnect", "fc-alice")
    assert Event.objects.filter(action="identite_federee_liee").count() == 1

    # Then FranceConnect+ alone logs in: no password, no code.
    client.post("/deconnexion/")
    fresh = type(client)()
    response = round_trip(fresh)
    assert response["Location"] in HOME
    assert is_logged_in(fresh)
    assert Event.objects.filter(action="connexion", detail__moyen="franceconnect").count() == 1
    assert "avec FranceConnect+" in page(fresh.get("/parametres/activites/"))


def test_a_link_left_waiting_too_long_expires(client, alice):
    assert round_trip(client)["Location"] == LINK
    late = django_settings.CARNET["PENDING_LOGIN_VALIDITY"] + timedelta(seconds=1)
    with clock.travel(late):
        response = client.get(LINK)
        assert response["Location"] == "/connexion/"
        assert "Votre identification a expiré" in page(client.get("/connexion/"))
        response = client.post(LINK, {"password": PASSWORD})
        assert response["Location"] == "/connexion/"
    assert not FederatedIdentity.objects.exists()
    assert not is_logged_in(client)


def test_the_link_page_locks_after_too_many_wrong_passwords(client, alice, settings):
    settings.CARNET = {**settings.CARNET, "LOGIN_MAX_FAILURES_PER_IDENTIFIER": 2}
    round_trip(client)
    for _ in range(2):
        client.post(LINK, {"password": "pas-le-bon-mot-de-passe"})
    response = client.post(LINK, {"password": PASSWORD})  # even the right one, now
    assert response.status_code == 200
    assert "Trop de tentatives infructueuses" in page(response)
    assert "_auth_user_id" not in client.session
    assert client.get("/connexion/mode/")["Location"] == "/connexion/"  # no login step opened


def test_the_link_needs_the_code_too(client, alice):
    round_trip(client)
    client.post(LINK, {"password": PASSWORD})
    client.post("/connexion/mode/", {"channel": "email"})
    response = client.post("/connexion/code/", {"code": "000000"})
    assert response.status_code == 200
    assert not FederatedIdentity.objects.exists()
    assert not is_logged_in(client)


def test_a_federated_session_follows_the_session_rules_and_logout_ends_the_provider_session(
    client, alice, provider
):
    FederatedIdentity.objects.create(
        user=alice, provider="franceconnect", subject="fc-alice", created_at=clock.now()
    )
    before = client.cookies.get(django_settings.SESSION_COOKIE_NAME)
    client.get(START)
    anonymous_key = client.session.session_key
    response = round_trip(client)
    assert response["Location"] in HOME
    key = client.session.session_key
    assert key != anonymous_key and (before is None or before.value != key)  # rotated
    record = SessionRecord.objects.get(session_key=key)
    assert record.user == alice

    lifetime = django_settings.CARNET["SESSION_ABSOLUTE_LIFETIME"]
    with clock.travel(lifetime + timedelta(seconds=1)):
        assert not is_logged_in(client)  # the twelve hours hold as for any login
    record.refresh_from_db()
    assert record.ended_at is not None

    response = round_trip(client)
    ending = urlsplit(flows.provider_logout_url(client.post("/deconnexion/")))
    assert f"{ending.scheme}://{ending.netloc}" == provider.issuer  # the provider's session too
    query = parse_qs(ending.query)
    assert query["post_logout_redirect_uri"] == [flows.BASE + "/connexion/"]
    assert query["id_token_hint"][0].count(".") == 2
    assert not is_logged_in(client)


# --- Activation instead of the provisional code -----------------------------------------


def test_a_pending_space_is_activated_through_franceconnect_without_the_code(client, provider):
    issued = issued_alice()
    response = round_trip(client)
    assert response["Location"] == "/activer/decision/"
    assert "vous n'avez pas besoin de votre code provisoire" in page(
        client.get(response["Location"])
    )
    response = client.post("/activer/decision/", {"decision": "activer", "accept_cgu": "on"})
    assert response["Location"] == "/activer/coordonnees/"
    person = issued.person
    client.post("/activer/coordonnees/", {"email": person.email, "mobile": person.mobile})
    response = post_credentials(client)
    assert response["Location"] == "/activer/termine/"
    assert Space.objects.get(person=person).state == Space.State.ACTIVE
    assert ProvisionalCode.objects.get(person=person).used_at is not None  # the code is spent


def test_a_minors_space_is_not_activated_that_way(client, provider):
    person = flows.registry_alice(
        birth_date=CHILD_BIRTH, nir=make_nir(2, CHILD_BIRTH, 7, dept="69", commune=123)
    )
    enrollment.codes_issue([person])
    refused(client, round_trip(client, "mineure"), message="représentant légal", reason="minor")
    assert Space.objects.get(person=person).state == Space.State.PENDING


def test_without_a_valid_provisional_code_the_space_is_not_activated_that_way(client, provider):
    issued = issued_alice()
    ProvisionalCode.objects.filter(person=issued.person).update(
        expires_at=clock.now() - timedelta(days=1)
    )
    refused(client, round_trip(client), message="n'est plus valable", reason="no_code")
    assert Space.objects.get(person=issued.person).state == Space.State.PENDING


def test_an_opposed_space_is_not_activated_that_way(client, provider):
    issued = issued_alice()
    space = Space.objects.get(person=issued.person)
    enrollment.space_oppose(
        identified=enrollment.Identified(
            person=issued.person,
            code=ProvisionalCode.objects.get(person=issued.person),
            space=space,
        )
    )
    refused(client, round_trip(client), message="opposé(e) à la création", reason="opposed")


# --- Refusals: nobody logs in ----------------------------------------------------------------


def test_an_unknown_identity_is_refused_with_a_pointer_to_the_code_login(client, alice, provider):
    response = round_trip(client, "inconnue")
    refused(client, response, message=NOT_FOUND, reason="aucun")
    assert "votre identifiant, votre mot de passe et un code" in NOT_FOUND_MESSAGE


def test_a_birthplace_that_is_not_the_nir_one_is_refused(client, alice, provider):
    refused(client, round_trip(client, "nee-ailleurs"), message=NOT_FOUND, reason="aucun")


def test_two_persons_matching_the_pivot_are_refused(client, provider):
    activate(issued_alice(order=1), identifier="alice.martin")
    flows.registry_alice(order=2, email="homonyme@exemple.fr")  # same pivot, another NIR
    refused(client, round_trip(client), message=NOT_FOUND, reason="plusieurs")


def test_a_lower_acr_than_asked_is_refused(client, alice, provider):
    refused(client, round_trip(client, "alice-faible"), reason="InvalidClaimError")


def test_a_wrong_state_is_refused(client, alice, provider):
    back = urlsplit(flows.provider_answer(client, START, "alice", CALLBACK))
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    query["state"] = "etat-qui-ne-vient-pas-de-nous"
    response = client.get(urlunsplit(("", "", back.path, urlencode(query), "")))
    refused(client, response)


def test_a_wrong_nonce_is_refused(client, alice, provider):
    back = flows.provider_answer(client, START, "alice", CALLBACK)
    state = parse_qs(urlsplit(back).query)["state"][0]
    session = client.session
    key = f"_state_franceconnect_{state}"
    stored = session[key]
    stored["data"]["nonce"] = "un-autre-nonce"  # the ID token carries the one we sent
    session[key] = stored
    session.save()
    refused(client, client.get(back.removeprefix(flows.BASE)), reason="InvalidClaimError")


def test_a_tampered_id_token_is_refused(client, alice, provider, tampering_proxy, settings):
    proxy = tampering_proxy(provider)
    flows.configure(settings, "franceconnect", proxy.url, CLIENT_ID)
    refused(client, round_trip(client), reason="BadSignatureError")
    assert proxy.tampered  # the answer did go through the forger


def test_a_replayed_answer_is_refused(client, alice, provider):
    FederatedIdentity.objects.create(
        user=alice, provider="franceconnect", subject="fc-alice", created_at=clock.now()
    )
    back = flows.provider_answer(client, START, "alice", CALLBACK)
    assert client.get(back.removeprefix(flows.BASE))["Location"] in HOME
    client.post("/deconnexion/")
    refused(client, client.get(back.removeprefix(flows.BASE)))


def test_an_answer_that_comes_back_too_late_is_refused(client, alice, provider):
    back = flows.provider_answer(client, START, "alice", CALLBACK)
    late = django_settings.CARNET["FEDERATION_STATE_VALIDITY"] + timedelta(seconds=1)
    with clock.travel(late):
        refused(client, client.get(back.removeprefix(flows.BASE)), reason="etat_expire")


def test_an_unsigned_id_token_is_refused_even_if_the_provider_lists_none(
    client, alice, provider, tampering_proxy, settings
):
    proxy = tampering_proxy(provider, unsigned=True)
    flows.configure(settings, "franceconnect", proxy.url, CLIENT_ID)
    refused(client, round_trip(client), reason="UnsupportedAlgorithmError")
    assert proxy.tampered and proxy.tampered[0].endswith(".")


def test_anonymous_answers_without_a_departure_write_nothing(client, provider):
    for _ in range(3):
        refused(client, client.get(CALLBACK + "?code=x&state=y"))
    refused(client, client.get(CALLBACK))


def test_a_provider_that_does_not_answer_gives_a_clear_message(client, db, settings):
    flows.configure(settings, "franceconnect", "http://127.0.0.1:9", CLIENT_ID)
    response = client.get(START)
    assert response["Location"] == "/connexion/"
    assert "ne répond pas" in page(client.get("/connexion/"))
