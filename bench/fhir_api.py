"""Benchmark: a connected app searches a profile's documents through the FHIR API (bearer
token checked, scopes, query, mapping to DocumentReference, searchset Bundle, audit event),
against a bare JSON view of the same rows measured in the same run; and the SQL queries of one
search, which must not grow with the page size.

    .venv/bin/python bench/fhir_api.py [--documents N] [--runs R]

Sets up a fresh SQLite database in a temporary directory, activates one synthetic person's
space, bulk-inserts N documents (bench/documents.py's Filler), references an app in the
catalogue and connects it through the real OAuth endpoints (consent, code + PKCE S256, token),
as tests/catalogue do. Then, R runs each, interleaved run by run (medians):

- "fhir": `fhir.views.search_type` called with `?_count=C` (C = 20 and 100) and the token;
- "bare": a view that reads the same C rows (`documents.selectors.live_documents`, newest first)
  with `.values()` and answers `JsonResponse` — what any JSON list of documents costs.

Both are called through Django's RequestFactory (no middleware): the difference is what the
FHIR layer adds. Prints one JSON line on stdout; progress on stderr. No target is set in the
issue; the figures are for the sizing table (issue 12).
"""

import base64
import hashlib
import re
import secrets
import statistics
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

from _common import argument_parser, log, result_print, synthetic_space, throwaway_carnet
from documents import Filler

REDIRECT = "https://app.exemple.test/retour"
SCOPE = "launch/patient patient/DocumentReference.rs"
WARMUP = 5


def connect(user, app) -> str:
    """The OAuth flow through the real endpoints; returns the access token."""
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    page = browser.get(
        "/oauth/authorize/",
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": REDIRECT,
            "scope": SCOPE,
            "state": "bench",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    html = page.content.decode()
    form = {
        name: unescape(value)
        for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', html)
    }
    answer = browser.post("/oauth/authorize/", {**form, "allow": "Authorize"})
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    token = Client().post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": app.client_id,
            "code_verifier": verifier,
        },
    )
    return token.json()["access_token"]


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with throwaway_carnet("fhir", keep=args.keep, cache_table=True, CARNET_DEMO="1"):
        from django.db import connection
        from django.http import JsonResponse
        from django.test import RequestFactory
        from django.test.utils import CaptureQueriesContext

        from carnet.accounts.models import User
        from carnet.catalogue.models import App
        from carnet.catalogue.services import app_register
        from carnet.documents.selectors import live_documents
        from carnet.enrollment.services import space_data_key
        from carnet.fhir import views

        user, space = synthetic_space("bench.fhir", "jardin-lune-orage-42")
        log(f"adding {args.documents} documents")
        Filler(user, space, space_data_key(space)).add(args.documents)
        operator = User.objects.create_user("bench.operateur", None, kind=User.Kind.OPERATOR)
        app, _ = app_register(
            operator=operator,
            name="Banc d'essai",
            editor="Bench",
            description="Application du banc d'essai (fictive).",
            category=App.Category.PREVENTION,
            allowed_scopes=SCOPE.split(),
            redirect_uris=[REDIRECT],
            status=App.Status.ONLINE,
        )
        token = connect(user, app)
        factory = RequestFactory()

        def fhir(count: int):
            request = factory.get(
                "/fhir/DocumentReference",
                {"_count": str(count)},
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            response = views.search_type(request, "DocumentReference")
            assert response.status_code == 200, response.content[:300]
            return response

        def bare(count: int):
            rows = list(
                live_documents(space)
                .order_by("-document_date", "-pk")
                .values("public_id", "title", "category", "document_date", "media_type", "size")[
                    :count
                ]
            )
            return JsonResponse({"total": live_documents(space).count(), "rows": rows}, safe=False)

        result = {"benchmark": "fhir_document_search", "documents": args.documents}
        for count in (20, 100):
            for _ in range(WARMUP):
                fhir(count)
                bare(count)
            full_times, bare_times = [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                fhir(count)
                full_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                bare(count)
                bare_times.append(time.perf_counter() - started)
            with CaptureQueriesContext(connection) as queries:
                fhir(count)
            full_ms = statistics.median(full_times) * 1000
            bare_ms = statistics.median(bare_times) * 1000
            result[f"page_{count}"] = {
                "fhir_ms": round(full_ms, 2),
                "bare_ms": round(bare_ms, 2),
                "ratio": round(full_ms / bare_ms, 2),
                "fhir_per_second": round(1000 / full_ms, 1),
                "sql_queries": len(queries),
            }
            log(f"page {count}: {result[f'page_{count}']}")
        result["same_queries_at_both_sizes"] = (
            result["page_20"]["sql_queries"] == result["page_100"]["sql_queries"]
        )
        result_print(result)


if __name__ == "__main__":
    main()
