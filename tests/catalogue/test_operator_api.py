"""The operators' catalogue API (/api/operateur/catalogue/), through HTTP: operators only,
French JSON errors, bad input changes nothing, a suspension cuts the app's tokens at once, the
logo is decoded and re-encoded, and every change is in the audit trail."""

import io
import json
import secrets
import struct
import zlib

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.catalogue.models import App, Connection
from tests.enrollment.helpers import space_of

from .conftest import REDIRECT, connect, fhir, register

BASE = "/api/operateur/catalogue/"
SCOPE = "launch/patient openid fhirUser patient/Patient.rs patient/DocumentReference.rs"


class Api:
    """A JSON client on a logged-in session, sending the CSRF token like a browser script."""

    def __init__(self, user: User | None):
        self.client = Client(enforce_csrf_checks=True)
        if user is not None:
            self.client.force_login(user)
        self.token = secrets.token_hex(16)
        self.client.cookies[settings.CSRF_COOKIE_NAME] = self.token

    def _send(self, method, path, body=None, *, csrf=True, raw=None, **extra):
        headers = {"HTTP_X_CSRFTOKEN": self.token} if csrf else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return getattr(self.client, method)(
            path, data, content_type="application/json", **headers, **extra
        )

    def get(self, path, params=None):
        return self.client.get(path, params or {})

    def post(self, path, body=None, **kwargs):
        return self._send("post", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self._send("patch", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self._send("put", path, body, **kwargs)

    def upload(self, path, name: str, content: bytes, *, csrf=True):
        headers = {"HTTP_X_CSRFTOKEN": self.token} if csrf else {}
        return self.client.post(path, {"logo": _file(name, content)}, **headers)


def _file(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


@pytest.fixture
def api(operator):
    return Api(operator)


NEW_APP = {
    "name": "Mon Carnet de Vaccins",
    "editor": "Vaccins & Cie",
    "description": "Suivre ses vaccinations et ses rappels (démonstration).",
    "category": "prevention",
    "website": "https://vaccins.exemple.fr",
    "allowed_scopes": ["launch/patient", "openid", "patient/Immunization.rs"],
    "redirect_uris": ["https://vaccins.exemple.fr/retour"],
}


def image_bytes(fmt: str, size=(64, 64), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` × `height` pixels (a "PNG bomb")."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024, 9))
        + chunk(b"IEND", b"")
    )


def operator_events(operator, action):
    return Event.objects.filter(actor=operator.actor, action=action)


# --- Create, read, list, update ------------------------------------------------------------


def test_an_operator_references_reads_lists_and_updates_an_app(api, operator):
    created = api.post(BASE, NEW_APP)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["client_secret"] is None  # a public client (PKCE): no secret
    entry = body["app"]
    assert entry["status"] == "hors_ligne" and entry["status_label"] == "Hors ligne"
    assert entry["allowed_scopes"] == NEW_APP["allowed_scopes"]
    assert entry["logo_url"] is None and entry["software"] is False
    app = App.objects.get(public_id=entry["id"])
    assert app.client_id == entry["client_id"]

    assert api.get(f"{BASE}{app.public_id}").json() == entry
    listed = api.get(BASE, {"status": "hors_ligne", "category": "prevention"}).json()
    assert [e["id"] for e in listed] == [entry["id"]]
    assert api.get(BASE, {"status": "en_ligne"}).json() == []

    changed = api.patch(
        f"{BASE}{app.public_id}",
        {
            "name": "  Carnet de Vaccins  ",
            "website": "",
            "allowed_scopes": ["launch/patient", "patient/Immunization.rs"],
            "redirect_uris": [REDIRECT],
        },
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["name"] == "Carnet de Vaccins"
    app.refresh_from_db()
    assert (app.name, app.website, app.redirect_uris) == ("Carnet de Vaccins", "", REDIRECT)
    assert app.editor == NEW_APP["editor"]  # what was not sent is kept

    [added] = operator_events(operator, "catalogue_ajout")
    [modified] = operator_events(operator, "catalogue_modification")
    assert added.object_id == modified.object_id == str(app.public_id)
    assert set(modified.detail["champs"]) == {
        "name",
        "website",
        "allowed_scopes",
        "redirect_uris",
    }


def test_a_confidential_client_gets_its_secret_once(api):
    created = api.post(BASE, {**NEW_APP, "confidential": True}).json()
    secret = created["client_secret"]
    assert secret and len(secret) >= 32
    app = App.objects.get(public_id=created["app"]["id"])
    assert app.client_secret != secret and secret not in app.client_secret  # kept hashed
    assert "client_secret" not in api.get(f"{BASE}{app.public_id}").json()


def test_a_professional_software_is_referenced_with_its_finess(api):
    created = api.post(
        BASE,
        {
            **NEW_APP,
            "name": "DPI de l'hôpital",
            "allowed_scopes": ["system/DocumentReference.c"],
            "redirect_uris": [],
            "finess": "750000001",
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["client_secret"]
    assert body["app"]["software"] is True
    assert body["app"]["category"] == "logiciel_pro"


def test_an_empty_update_changes_nothing_and_is_not_audited(api, operator, app):
    response = api.patch(f"{BASE}{app.public_id}", {})
    assert response.status_code == 200
    assert not operator_events(operator, "catalogue_modification").exists()


# --- Bad input: French JSON errors, nothing changes -----------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({k: v for k, v in NEW_APP.items() if k != "name"}, "name", "Champ obligatoire."),
        ({**NEW_APP, "name": "   "}, "name", "Ce champ ne peut pas être vide."),
        ({**NEW_APP, "name": "a\x00b"}, "name", "Format invalide"),
        ({**NEW_APP, "editor": "x" * 101}, "editor", "100 caractères au plus."),
        ({**NEW_APP, "category": "astrologie"}, "category", "Valeur inconnue"),
        ({**NEW_APP, "allowed_scopes": []}, "allowed_scopes", "Au moins 1 élément"),
        ({**NEW_APP, "allowed_scopes": "openid"}, "allowed_scopes", "Liste attendue."),
        ({**NEW_APP, "confidential": "peut-être"}, "confidential", "Booléen attendu"),
        ({**NEW_APP, "finess": "12345"}, "finess", "Format invalide"),
    ],
)
def test_a_malformed_body_is_refused_in_french_and_nothing_is_created(api, body, field, message):
    response = api.post(BASE, body)
    assert response.status_code == 422
    answer = response.json()
    assert answer["detail"].startswith("Données invalides")
    assert any(e["field"] == field and message in e["message"] for e in answer["errors"]), answer
    assert not App.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"allowed_scopes": ["patient/Astrologie.rs"]}, "Donnée inconnue"),
        ({"allowed_scopes": ["system/Patient.rs"]}, "d'un autre contexte"),
        ({"website": "pas une adresse"}, "URL valide"),
        ({"redirect_uris": []}, "au moins une adresse de retour"),
        ({"category": "logiciel_pro"}, "Logiciel de professionnel de santé"),
    ],
)
def test_an_update_the_rules_refuse_changes_nothing(api, operator, app, changes, message):
    before = App.objects.values().get(pk=app.pk)
    response = api.patch(f"{BASE}{app.public_id}", {"name": "Nouveau nom", **changes})
    assert response.status_code == 422
    assert message in response.json()["detail"], response.json()
    assert App.objects.values().get(pk=app.pk) == before
    assert not operator_events(operator, "catalogue_modification").exists()


def test_a_create_the_rules_refuse_is_a_422_in_french(api):
    response = api.post(BASE, {**NEW_APP, "allowed_scopes": ["system/Patient.rs"]})
    assert response.status_code == 422
    assert "Donnée inconnue ou d'un autre contexte" in response.json()["detail"]
    assert not App.objects.exists()


def test_a_body_that_is_not_json_is_a_400_in_french(api):
    response = api.post(BASE, raw="{pas du json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Corps de la requête illisible")


def test_an_unknown_entry_is_a_404_in_json(api):
    response = api.get(f"{BASE}00000000-0000-0000-0000-000000000001")
    assert response.status_code == 404
    assert response.json()["detail"] == "Introuvable."
    assert api.get(f"{BASE}pas-un-uuid").status_code == 404


def test_an_unknown_status_is_refused(api, app):
    response = api.put(f"{BASE}{app.public_id}/statut", {"status": "en_vacances"})
    assert response.status_code == 422
    app.refresh_from_db()
    assert app.status == App.Status.ONLINE


# --- Who may call ---------------------------------------------------------------------------


def _calls(app):
    entry = f"{BASE}{app.public_id}"
    return [
        ("get", BASE, None),
        ("post", BASE, NEW_APP),
        ("get", entry, None),
        ("patch", entry, {"name": "Piraté"}),
        ("put", f"{entry}/statut", {"status": "suspendue"}),
    ]


@pytest.mark.parametrize("kind", ["patient", "professional"])
def test_patients_and_professionals_get_403(kind, app, alice, professional):
    caller = Api(alice if kind == "patient" else professional)
    for method, path, body in _calls(app):
        response = getattr(caller, method)(path, body) if body else getattr(caller, method)(path)
        assert response.status_code == 403, (method, path)
        assert response.json()["detail"] == "Accès refusé : réservé aux opérateurs."
    logo = caller.upload(f"{BASE}{app.public_id}/logo", "logo.png", image_bytes("PNG"))
    assert logo.status_code == 403
    app.refresh_from_db()
    assert (app.name, app.status, bytes(app.logo)) == ("Suivi Tension", "en_ligne", b"")
    assert App.objects.count() == 1


def test_anonymous_callers_get_401(app):
    caller = Api(None)
    for method, path, body in _calls(app):
        response = getattr(caller, method)(path, body) if body else getattr(caller, method)(path)
        assert response.status_code == 401, (method, path)
        assert response.json()["detail"].startswith("Authentification requise")
        assert "Location" not in response  # never a login page
    assert App.objects.count() == 1


def test_an_unsafe_method_without_the_csrf_token_is_refused(api, app):
    for response in (
        api.post(BASE, NEW_APP, csrf=False),
        api.patch(f"{BASE}{app.public_id}", {"name": "Sans jeton"}, csrf=False),
        api.put(f"{BASE}{app.public_id}/statut", {"status": "suspendue"}, csrf=False),
        api.upload(f"{BASE}{app.public_id}/logo", "logo.png", image_bytes("PNG"), csrf=False),
    ):
        assert response.status_code == 403
        assert "CSRF" in response.json()["detail"]
    app.refresh_from_db()
    assert (app.name, app.status, bytes(app.logo)) == ("Suivi Tension", "en_ligne", b"")
    assert App.objects.count() == 1


def test_every_operation_is_documented_with_its_session_authentication(api):
    document = api.get("/api/openapi.json").json()
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) == 6
    for path, method, operation in operations:
        assert operation["security"] == [{"AccountSession": []}], (path, method)
        assert {"401", "403"} <= set(operation["responses"]), (path, method)
    assert document["components"]["securitySchemes"]["AccountSession"]["in"] == "cookie"
    assert Client().get("/api/docs").status_code == 404  # no documentation page


# --- Status: a suspension cuts the app off at once ------------------------------------------


def test_suspending_through_the_api_cuts_the_apps_tokens_at_once(
    api, operator, alice_client, alice, app
):
    token = connect(alice_client, app, SCOPE)
    patient = f"Patient/{space_of(alice.person).public_id}"
    assert fhir(token["access_token"], patient).status_code == 200

    response = api.put(f"{BASE}{app.public_id}/statut", {"status": "suspendue"})
    assert response.status_code == 200
    assert response.json()["status"] == "suspendue"
    assert fhir(token["access_token"], patient).status_code == 401
    assert "Suivi Tension" not in alice_client.get("/catalogue/").content.decode()

    api.put(f"{BASE}{app.public_id}/statut", {"status": "en_ligne"})
    assert fhir(token["access_token"], patient).status_code == 200  # the consent lives on
    [suspended, online] = operator_events(operator, "catalogue_statut").order_by("id")
    assert (suspended.detail["before"], suspended.detail["after"]) == ("en_ligne", "suspendue")
    assert online.detail["after"] == "en_ligne"


def test_narrowing_the_allowed_scopes_ends_connections_asking_for_more(
    api, operator, alice_client, alice, app
):
    token = connect(alice_client, app, SCOPE)
    space = space_of(alice.person)
    response = api.patch(
        f"{BASE}{app.public_id}",
        {"allowed_scopes": ["launch/patient", "openid", "fhirUser", "patient/Patient.rs"]},
    )
    assert response.status_code == 200
    connection = Connection.objects.get(space=space, app=app)
    assert connection.revoked_reason == "perimetre_reduit"
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 401
    [ended] = Event.objects.filter(space_id=space.public_id, action="service_deconnecte")
    assert ended.actor == operator.actor and ended.detail["motif"] == "perimetre_reduit"


def test_widening_the_allowed_scopes_keeps_connections(api, alice_client, alice, app):
    token = connect(alice_client, app, SCOPE)
    scopes = [*app.allowed_scopes.split(), "patient/Immunization.rs"]
    assert api.patch(f"{BASE}{app.public_id}", {"allowed_scopes": scopes}).status_code == 200
    space = space_of(alice.person)
    assert Connection.objects.get(space=space, app=app).revoked_at is None
    assert fhir(token["access_token"], f"Patient/{space.public_id}").status_code == 200


# --- Logo: decoded, re-encoded as PNG, at most 512 × 512 -----------------------------------


@pytest.mark.parametrize(("fmt", "size"), [("PNG", (64, 40)), ("JPEG", (1024, 600))])
def test_a_png_or_jpeg_logo_is_kept_as_a_png_of_at_most_512(api, operator, app, fmt, size):
    response = api.upload(f"{BASE}{app.public_id}/logo", "logo.img", image_bytes(fmt, size))
    assert response.status_code == 200, response.json()
    assert response.json()["logo_url"] == f"/catalogue/{app.public_id}/logo.png"
    app.refresh_from_db()
    kept = Image.open(io.BytesIO(bytes(app.logo)))
    assert kept.format == "PNG"
    assert kept.size == (size if size[0] <= 512 else (512, 300))
    served = Client().get(response.json()["logo_url"])
    assert served["Content-Type"] == "image/png" and served.content == bytes(app.logo)
    [event] = operator_events(operator, "catalogue_logo")
    assert event.object_id == str(app.public_id)


FORGED = {
    "text named .png": ("logo.png", b"Ceci n'est pas une image.\n" * 10, "PNG ou JPEG lisible"),
    "gif": ("logo.gif", None, "PNG ou JPEG lisible"),
    "truncated png": ("logo.png", None, "PNG ou JPEG lisible"),
    "png bomb": ("logo.png", png_declaring(100_000, 100_000), "dimensions démesurées"),
    "too many pixels": ("logo.png", png_declaring(3000, 20), "3000 × 20 pixels"),
    "empty": ("logo.png", b"", ""),
}


@pytest.mark.parametrize("case", FORGED, ids=FORGED)
def test_a_forged_or_oversize_logo_is_refused_and_nothing_changes(api, operator, app, case):
    assert api.upload(f"{BASE}{app.public_id}/logo", "a.png", image_bytes("PNG")).status_code == (
        200
    )
    app.refresh_from_db()
    before = bytes(app.logo)
    name, content, message = FORGED[case]
    if case == "gif":
        content = image_bytes("GIF")
    elif case == "truncated png":
        content = image_bytes("PNG", (300, 300))[:-200]
    response = api.upload(f"{BASE}{app.public_id}/logo", name, content)
    assert response.status_code in (400, 422)
    assert message in response.json()["detail"], response.json()
    app.refresh_from_db()
    assert bytes(app.logo) == before
    assert operator_events(operator, "catalogue_logo").count() == 1


def test_an_oversize_logo_is_refused_before_decoding(api, operator, app, settings):
    limit = settings.CARNET["CATALOGUE_LOGO_MAX_BYTES"]
    noisy = Image.frombytes("RGB", (400, 400), secrets.token_bytes(400 * 400 * 3))
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    assert len(out.getvalue()) > limit
    response = api.upload(f"{BASE}{app.public_id}/logo", "gros.png", out.getvalue())
    assert response.status_code == 422
    assert f"dépasse {limit // 1024} Ko" in response.json()["detail"]
    app.refresh_from_db()
    assert bytes(app.logo) == b""
    assert not operator_events(operator, "catalogue_logo").exists()


def test_api_routes_answer_for_themselves_and_django_checks_their_csrf():
    from tests.security.urlmap import routes

    api_routes = [r for r in routes() if r.name.startswith("api:")]
    assert len(api_routes) >= 7
    assert all(r.public for r in api_routes)  # no login redirect: a 401 in JSON
    assert not any(getattr(r.callback, "csrf_exempt", False) for r in api_routes)


def test_the_root_and_a_wrong_method_answer_in_json(api, app):
    root = api.get("/api/")
    assert root.status_code == 404 and root.json()["detail"] == "Introuvable."
    wrong = api.client.get(f"{BASE}{app.public_id}/statut")
    assert wrong.status_code == 405 and wrong["Allow"] == "PUT"
    assert wrong.json()["detail"] == "Méthode non autorisée pour cette adresse."


def test_the_list_says_which_entries_have_a_logo_without_loading_them(api, operator, app):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api.upload(f"{BASE}{app.public_id}/logo", "logo.png", image_bytes("PNG"))
    register(operator, scopes="launch/patient", name="Sans Logo")
    api.get(BASE)
    with CaptureQueriesContext(connection) as two:
        listed = api.get(BASE).json()
    logos = {e["name"]: e["logo_url"] for e in listed}
    assert logos == {"Sans Logo": None, "Suivi Tension": f"/catalogue/{app.public_id}/logo.png"}
    for n in range(6):
        register(operator, scopes="launch/patient", name=f"Service {n}")
    with CaptureQueriesContext(connection) as eight:
        assert len(api.get(BASE).json()) == 8
    assert len(eight.captured_queries) <= len(two.captured_queries)  # no query per entry
    [entries] = [q["sql"] for q in eight.captured_queries if "catalogue_app" in q["sql"]]
    selected = entries.replace('LENGTH("catalogue_app"."logo")', "")
    assert '"catalogue_app"."logo"' not in selected  # nor the logos themselves
