"""Fail closed: walk the URL map; every view needs a login unless it is listed here as public.

New routes are found by walking the resolver (tests/security/urlmap.py): a new private view is
checked without anyone listing it, and a new public one fails until it is added below.
"""

import pytest
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import resolve_url

from carnet.accounts.middleware import LOGINS, area_kind
from tests.security.urlmap import route_ids, routes

# The only views reachable without a login, by URL name. Adding one is a decision: say why.
PUBLIC = {
    # the agenda's iCalendar feed: calendar apps cannot log in, its secret token is the key
    "agenda:feed_ics",
    # a share link and its files (carnet.sharing): for someone without an account, the token
    # is the key
    "sharing:view",
    "sharing:document",
    "sharing:synthesis",
    "sharing:summary",
    # a professional's activation link (from the invitation email)
    "professionals:activate",
    "professionals:activate_totp",
    # liveness and readiness, for the load balancer (no personal data)
    "core:healthz",
    "core:readyz",
    # Prometheus's scrape: its bearer token is the key (404 when none is configured)
    "core:metrics",
    # home for visitors, and the legal pages
    "core:home",
    "core:cgu",
    "core:privacy",
    "core:accessibility",
    "core:legal",
    # the three login steps of each kind (logout is not public: it needs a session to end)
    "accounts:login",
    "accounts:login_channel",
    "accounts:login_code",
    "accounts:pro_login",
    "accounts:pro_login_channel",
    "accounts:pro_login_code",
    "accounts:operator_login",
    "accounts:operator_login_channel",
    "accounts:operator_login_code",
    # login with a passkey alone (POST only: the options, then the authenticator's answer)
    "accounts:login_passkey",
    "accounts:login_passkey_options",
    # login through an identity provider (carnet.federation): departure, return, and the
    # one-time link of an existing account
    "federation:franceconnect",
    "federation:franceconnect_callback",
    "federation:franceconnect_link",
    "federation:prosanteconnect",
    "federation:prosanteconnect_callback",
    # recovery: "Identifiant oublié ?" and "Mot de passe oublié ?"
    "accounts:forgot_identifier",
    "accounts:forgot_identifier_sent",
    "accounts:forgot_password",
    "accounts:forgot_password_code",
    "accounts:forgot_password_new",
    "accounts:forgot_password_done",
    # the activation wizard, "J'ai besoin d'un code" and opposition
    "enrollment:identify",
    "enrollment:decision",
    "enrollment:contacts",
    "enrollment:contact_confirm",
    "enrollment:contacts_next",
    "enrollment:credentials",
    "enrollment:done",
    "enrollment:oppose",
    "enrollment:opposed",
    "enrollment:opposition_pdf",
    "enrollment:new_code",
    "enrollment:new_code_sent",
    "enrollment:serial_help",
    # demo outbox: public, but a 404 unless DEMO_MODE (tested below)
    "notifications:outbox",
    # a catalogue entry's logo (shown on the public consent and catalogue pages)
    "catalogue:logo",
    # OAuth 2.0 / OpenID Connect / SMART (carnet.catalogue): called by apps, which have no
    # session; discovery documents and keys are public by nature
    "smart-configuration",
    "fhir:smart-configuration",
    "fhir:metadata",
    "oauth2_provider:token",
    "oauth2_provider:revoke-token",
    "oauth2_provider:oidc-connect-discovery-info",
    "oauth2_provider:jwks-info",
    "oauth2_provider:user-info",
    # the JSON API (django-ninja): answers 401 in JSON itself, never a login redirect; its
    # OpenAPI document is public
    "api:openapi-json",
    "api:api-root",
    "api:app_list",
    "api:app_create",
    "api:app_detail",
    "api:app_update",
    "api:app_status",
    "api:app_logo",
    # the FHIR API: a bearer token is the key (401 without one, tested below)
    "fhir:read",
    "fhir:search",
    "fhir:binary",
    "fhir:summary",
}
# Called with a bearer token or client credentials: 401 (405 for a GET of a POST-only
# endpoint) without one, never a login page.
TOKEN_REQUIRED = {
    "api:api-root",
    "api:app_list",
    "api:app_create",
    "api:app_detail",
    "api:app_update",
    "api:app_status",
    "api:app_logo",
    "fhir:read",
    "fhir:search",
    "fhir:binary",
    "fhir:summary",
    "oauth2_provider:token",
    "oauth2_provider:revoke-token",
    "oauth2_provider:user-info",
}
# Public pages that answer 404 to a bare GET: the opposition pages need the session of a fresh
# opposition.
# The agenda's feed answers 404 to any token but a live one.
NOT_FOUND_WITHOUT_CONTEXT = {
    "enrollment:opposed",
    "enrollment:opposition_pdf",
    "agenda:feed_ics",
    "catalogue:logo",  # an entry without a logo
    "core:metrics",  # no CARNET_METRICS_TOKEN in the tests' settings
    # an identity provider that is not configured (the tests' default)
    "federation:franceconnect",
    "federation:franceconnect_callback",
    "federation:prosanteconnect",
    "federation:prosanteconnect_callback",
}
# Public endpoints that take only POST: a GET is refused (405), never a login page.
POST_ONLY = {"accounts:login_passkey", "accounts:login_passkey_options"}
GONE_WITHOUT_CONTEXT = {
    "professionals:activate",
    "professionals:activate_totp",
    "sharing:view",
    "sharing:document",
    "sharing:synthesis",
    "sharing:summary",
}
NEED_CONTEXT = NOT_FOUND_WITHOUT_CONTEXT | GONE_WITHOUT_CONTEXT | TOKEN_REQUIRED | POST_ONLY

ROUTES = routes()
PRIVATE = [r for r in ROUTES if not r.public]
PUBLIC_ROUTES = [r for r in ROUTES if r.public]


def _to_login(response) -> bool:
    login_url = resolve_url(LOGINS[area_kind(response.request["PATH_INFO"])])
    return response.status_code == 302 and response["Location"].startswith(f"{login_url}?next=")


def test_every_route_is_named():
    assert all(not r.name.endswith("None") for r in ROUTES), route_ids(ROUTES)


def test_public_views_are_exactly_the_listed_ones():
    assert {r.name for r in PUBLIC_ROUTES} == PUBLIC


def test_there_are_private_views_to_check():
    names = set(route_ids(PRIVATE))
    assert {"documents:index", "accounts:logout", "accounts:pro_home"} <= names
    assert any(r.params for r in PRIVATE), "routes with parameters are walked too"


@pytest.mark.django_db
@pytest.mark.parametrize("route", PRIVATE, ids=route_ids(PRIVATE))
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitor_of_a_private_view_goes_to_login(client, route, method):
    response = getattr(client, method)(route.url)
    assert response.status_code == 302
    # each area has its own login page: /pro/… → /pro/connexion/, /operateur/… → …
    login_url = resolve_url(LOGINS[area_kind(route.url)])
    assert response["Location"] == redirect_to_login(route.url, login_url)["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route",
    [r for r in PUBLIC_ROUTES if r.name not in NEED_CONTEXT],
    ids=route_ids(r for r in PUBLIC_ROUTES if r.name not in NEED_CONTEXT),
)
def test_public_views_answer_anonymous_get_without_login_redirect(client, route):
    response = client.get(route.url)
    assert response.status_code in (200, 302)
    assert not _to_login(response)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(NOT_FOUND_WITHOUT_CONTEXT))
def test_opposition_pages_need_a_fresh_opposition(client, name):
    [route] = [r for r in ROUTES if r.name == name]
    assert client.get(route.url).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(POST_ONLY))
def test_post_only_public_endpoints_refuse_a_get(client, name):
    [route] = [r for r in ROUTES if r.name == name]
    assert client.get(route.url).status_code == 405


@pytest.mark.django_db
def test_outbox_is_public_only_in_demo(client, settings):
    assert client.get("/outbox/").status_code == 200
    settings.DEMO_MODE = False
    assert client.get("/outbox/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(GONE_WITHOUT_CONTEXT))
def test_activation_links_need_a_valid_token(client, name):
    [route] = [r for r in ROUTES if r.name == name]
    assert client.get(route.url).status_code == 410


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(TOKEN_REQUIRED))
def test_api_endpoints_need_a_token_not_a_session(client, name):
    [route] = [r for r in ROUTES if r.name == name]
    response = client.get(route.url)
    assert response.status_code in (400, 401, 404, 405)
    assert not _to_login(response)
