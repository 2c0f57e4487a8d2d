"""« Carnet Démo — Suivi tension » : une application du catalogue, jouée par ce script.

Elle se connecte au profil d'une personne par SMART on FHIR avec `fhirclient` (le client
SMART en Python, qui n'est pas de Carnet) : autorisation OAuth 2.0 avec PKCE S256, client
public sans secret, retour sur http://127.0.0.1:8765/retour. Puis elle lit l'identité, les
documents et les dernières mesures, ajoute une tension (fictive) et la relit. Une fois
l'application désynchronisée (Paramètres › Services connectés), `--verifier` montre que le
serveur répond 401. Voir examples/README.md.

    .venv/bin/python examples/smart_app.py [http://127.0.0.1:8000] [--verifier]
"""

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import webbrowser
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from itertools import islice
from pathlib import Path
from urllib.parse import urlsplit

from fhirclient import client
from fhirclient.models.documentreference import DocumentReference
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.server import FHIRUnauthorizedException

CLIENT_ID = "demo-suivi-tension"  # fixed by `carnet seed_demo`
# fhirclient adds `launch/patient` itself: the person chooses the profile on the consent screen.
SCOPE = "openid fhirUser offline_access patient/Patient.rs patient/Observation.crs "
SCOPE += "patient/DocumentReference.rs"
MARKER = "Adresse d'autorisation :"  # the line a test (or you) reads the URL from
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
WAIT_SECONDS = 300
PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Carnet Démo — Suivi tension</title></head><body><main><h1>{title}</h1>
<p>Vous pouvez fermer cet onglet et revenir au terminal.</p></main></body></html>"""


class Callback(BaseHTTPRequestHandler):
    """The browser comes back to /retour?code=…&state=… : kept, and a page says so."""

    def do_GET(self):  # the name http.server calls
        if urlsplit(self.path).path != "/retour":
            self.send_error(404)
            return
        self.server.callback = f"http://127.0.0.1:{self.server.server_port}{self.path}"
        title = "Accès refusé" if "error=" in self.path else "Autorisation reçue"
        body = PAGE.format(title=title).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet: the terminal is for the person
        pass


def wait_for_callback(server: HTTPServer) -> str:
    """One request after another until the callback came (or 5 minutes went by)."""
    server.callback, server.timeout = None, 1
    deadline = time.monotonic() + WAIT_SECONDS
    while server.callback is None and time.monotonic() < deadline:
        server.handle_request()
    if server.callback is None:
        sys.exit("Pas de retour du navigateur : abandon.")
    return server.callback


def when(value) -> str:
    """A FHIR date or dateTime, the French way (in local time)."""
    text = value.as_json() if value is not None else ""
    if len(text) == 10:
        return date.fromisoformat(text).strftime("%d/%m/%Y")
    return datetime.fromisoformat(text).astimezone().strftime("%d/%m/%Y %H:%M") if text else "?"


def measure(obs: Observation) -> str:
    parts = obs.component if obs.component else [obs]
    values = "/".join(f"{p.valueQuantity.value:g}" for p in parts if p.valueQuantity)
    unit = parts[0].valueQuantity.unit if parts[0].valueQuantity else ""
    return f"{when(obs.effectiveDateTime)} {obs.code.text or '?'} : {values} {unit}".rstrip()


def blood_pressure(patient_id: str, systolic: int, diastolic: int) -> Observation:
    """A synthetic blood pressure: LOINC panel 85354-9, components 8480-6 and 8462-4."""

    def component(code, label, value):
        quantity = {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}
        coding = {"system": LOINC, "code": code, "display": label}
        return {"code": {"coding": [coding]}, "valueQuantity": quantity}

    category = "http://terminology.hl7.org/CodeSystem/observation-category"
    return Observation({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": category, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}], "text": "Tension"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "component": [
            component("8480-6", "Systolic blood pressure", systolic),
            component("8462-4", "Diastolic blood pressure", diastolic),
        ],
    })  # fmt: skip


def connect(args, save) -> client.FHIRClient:
    redirect = f"http://127.0.0.1:{args.port}/retour"
    settings = {"app_id": CLIENT_ID, "api_base": args.base + "/fhir/", "redirect_uri": redirect}
    smart = client.FHIRClient(settings={**settings, "scope": SCOPE}, save_func=save)
    url = smart.authorize_url  # reads /fhir/metadata; adds state and the PKCE S256 challenge
    # The one-shot local server listens before the URL is shown, until the browser comes back.
    with HTTPServer(("127.0.0.1", args.port), Callback) as server:
        print("Ouvrez cette adresse, connectez-vous et cliquez sur « J'autorise » :")
        print(f"{MARKER} {url}", flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        callback = wait_for_callback(server)
    try:  # checks `state`, then exchanges the code (and the PKCE verifier) for the tokens
        smart.handle_callback(callback)
    except Exception as exc:  # refused on the consent screen, or a stale or replayed code
        sys.exit(f"Connexion impossible : {exc}")
    return smart


def check_revoked(smart: client.FHIRClient) -> int:
    """After « Désynchroniser »: the access token, then the refresh token, are refused."""
    try:
        Patient.read(smart.patient_id, smart.server)
    except FHIRUnauthorizedException:
        print("Lecture du patient : le serveur répond 401 (jeton d'accès refusé).")
    else:
        print("L'application a encore accès : désynchronisez-la d'abord, puis relancez.")
        return 1
    try:
        smart.server.reauthorize()  # the refresh token (offline_access)
    except Exception as exc:  # fhirclient lets the HTTP error through
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        print(f"Renouvellement du jeton : refusé lui aussi ({status}).")
        print("L'application est bien déconnectée.")
        return 0
    print("Le jeton avait seulement expiré : l'application garde l'accès.")
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "base", nargs="?", default="http://127.0.0.1:8000", help="adresse de Carnet"
    )
    parser.add_argument("--port", type=int, default=8765, help="port du retour (127.0.0.1)")
    parser.add_argument(
        "--sans-navigateur",
        dest="no_browser",
        action="store_true",
        help="ne pas ouvrir le navigateur",
    )
    parser.add_argument("--verifier", action="store_true", help="l'accès est-il coupé ?")
    default_state = Path(tempfile.gettempdir()) / "carnet-smart-app.json"
    parser.add_argument("--etat", type=Path, default=default_state, help="fichier des jetons")
    args = parser.parse_args()
    args.base = args.base.rstrip("/")
    logging.getLogger("fhirclient").setLevel(logging.ERROR)

    def save(state):  # the tokens, kept for --verifier (readable by you only)
        fd = os.open(args.etat, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(state, file)

    if args.verifier:
        if not args.etat.exists():
            sys.exit(f"Aucune connexion dans {args.etat} : lancez d'abord sans --verifier.")
        state = json.loads(args.etat.read_text())
        return check_revoked(client.FHIRClient(state=state, save_func=save))

    smart = connect(args, save)
    pid, server = smart.patient_id, smart.server
    patient = Patient.read(pid, server)
    print(f"\nPatient connecté : {smart.human_name(patient.name[0])} (Patient/{pid})")

    documents = list(DocumentReference.where({"patient": pid}).perform_resources_iter(server))
    print(f"Documents ({len(documents)}) :")
    for doc in documents:
        kind = doc.type.text if doc.type else ""
        print(f"  - {doc.description} ({kind}, {when(doc.content[0].attachment.creation)})")

    latest = Observation.where({"patient": pid, "_sort": "-date", "_count": "5"})
    print("Dernières mesures :")
    for obs in islice(latest.perform_resources_iter(server), 5):  # the first page only
        print(f"  - {measure(obs)}")

    created = blood_pressure(pid, 126, 81).create(server)  # POST /fhir/Observation
    print(f"\nMesure ajoutée : Observation/{created['id']}")
    print(f"Relue sur le serveur : {measure(Observation.read(created['id'], server))}")

    again = f"{args.base} --verifier" + (
        "" if args.etat == default_state else f" --etat {args.etat}"
    )
    print(
        "\nPour déconnecter l'application : Paramètres › Services connectés › « Désynchroniser "
        "Carnet Démo — Suivi tension ».\nPuis vérifiez que l'accès est coupé :\n"
        f"  .venv/bin/python examples/smart_app.py {again}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
