"""The JSON API fuzzed against its own OpenAPI document (schemathesis): every operation, with
an operator's session (cookie and CSRF header), valid and invalid input, never answers a server
error and always answers what its document says.

The document is loaded from the application itself (WSGI, /api/openapi.json); the operations
are the ones carnet.api declares, so a new one is fuzzed without being listed here.
"""

import secrets

import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from carnet.accounts.models import User
from carnet.api import api
from tests.catalogue.conftest import REDIRECT, register
from tests.catalogue.test_operator_api import image_bytes

OPERATIONS = sorted(
    operation["operationId"]
    for item in api.get_openapi_schema()["paths"].values()
    for operation in item.values()
)
EXAMPLES = 25  # per operation and mode: the whole file runs in well under a minute


@pytest.fixture
def api_schema(db):
    # Like Django's test client: the requests must not close the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        from carnet.wsgi import application

        yield schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def session(db):
    """An operator's session cookie and CSRF token, as a browser script sends them."""
    operator = User.objects.create_user("operateur.fuzz", None, kind=User.Kind.OPERATOR)
    client = Client()
    client.force_login(operator)
    token = secrets.token_hex(16)
    cookies = {
        settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value,
        settings.CSRF_COOKIE_NAME: token,
    }
    return {"cookies": cookies, "headers": {"X-CSRFToken": token}, "operator": operator}


def test_the_fuzzed_operations_are_all_the_documented_ones(api_schema):
    loaded = sorted(
        result.ok().definition.raw["operationId"] for result in api_schema.get_all_operations()
    )
    assert loaded == OPERATIONS
    assert len(OPERATIONS) == 6


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_the_api_answers_what_its_document_says(api_schema, session, operation_id, mode):
    operation = api_schema.find_operation_by_id(operation_id)
    # An entry to work on: a random id would only ever find a 404 (tested elsewhere).
    app = register(session["operator"], scopes="launch/patient openid patient/Patient.rs")
    fixed = {"public_id": str(app.public_id)} if "{public_id}" in operation.path else None

    @given(
        case=operation.as_strategy(generation_mode=mode, path_parameters=fixed),
        repair=st.booleans(),
    )
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def fuzz(case, repair):
        if repair and mode == GenerationMode.POSITIVE:
            _repair(case)
        case.call_and_validate(
            headers=session["headers"],
            cookies=session["cookies"],
            checks=[not_a_server_error, response_schema_conformance],
        )

    fuzz()


def _repair(case) -> None:
    """Half of the valid cases get what the services also check (known scopes, real
    addresses, a real image), so that the successful answers are fuzzed too."""
    body = case.body
    if not isinstance(body, dict):
        return
    if "logo" in body:
        body["logo"] = image_bytes("PNG")
    if body.get("allowed_scopes") is not None:
        body["allowed_scopes"] = ["launch/patient", "patient/Patient.rs"]
    if body.get("redirect_uris") is not None:
        body["redirect_uris"] = [REDIRECT]
    if body.get("website") is not None:
        body["website"] = ""
    if body.get("category") == "logiciel_pro":
        body["category"] = "prevention"
    body.pop("finess", None)
