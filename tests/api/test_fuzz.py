"""Property test: every answer is one the OpenAPI description documents.

Schemathesis generates bodies, query strings and path ids for every operation of the
API and calls the app in-process as the event's owner. Its conformance checks hold each
response to the description: no 5xx, a documented status code, the documented content
type (problems are ``application/problem+json``), the documented headers (``Location``
on 202) and a body matching the documented schema. Runs on SQLite and PostgreSQL: the
same bad input meets different database errors.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from eventport.api.app import create_app
from tests.api.conftest import EVENT_BODY, login

pytestmark = pytest.mark.filterwarnings("ignore")


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture
def owner_token(client, db) -> str:
    from eventport.accounts.service import create_user

    create_user(db, "fuzz@example.org", "correct horse battery")
    db.commit()
    headers = login(client, "fuzz@example.org", "correct horse battery")
    event = client.post("/api/v1/events", json=EVENT_BODY, headers=headers).json()
    client.post(f"/api/v1/events/{event['id']}/tracks", json={"name": "T"}, headers=headers)
    return headers["Authorization"]


# The app reads its settings per request, so one built at import serves every test.
schema = (
    schemathesis.openapi.from_asgi("/openapi.json", create_app())
    .include(path_regex=r"^/api/v1/(events|auth|exports|imports|export-formats)")
    .exclude(method="PUT")
    .exclude(method="DELETE")
)


@schema.parametrize()
# database=None: no examples replayed from an earlier run, so every run is the same test.
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_answers_conform_to_the_description(case, owner_token):
    case.call_and_validate(headers={**(case.headers or {}), "Authorization": owner_token},
                           checks=CHECKS)
