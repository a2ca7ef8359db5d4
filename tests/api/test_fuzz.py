"""Property test: no request the OpenAPI schema allows — or nearly allows — ends in a 500.

Schemathesis generates bodies, query strings and path ids for every operation of the
program API and calls the app in-process as the event's owner. Bad input must come
back as a 4xx problem, never as a server error. Runs on SQLite only: what is tested is
input handling, which is the same code on both databases.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from eventport.api.app import create_app
from tests.api.conftest import EVENT_BODY, login

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def database_url(sqlite_database: str) -> str:
    return sqlite_database


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
    .include(path_regex=r"^/api/v1/(events|auth)")
    .exclude(method="PUT")
    .exclude(method="DELETE")
)


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, owner_token):
    response = case.call(headers={**(case.headers or {}), "Authorization": owner_token})
    assert response.status_code < 500, (case.method, case.path, response.text)
    if response.status_code >= 400:
        content_type = response.headers.get("content-type")
        if isinstance(content_type, list):
            content_type = content_type[0]
        assert content_type == "application/problem+json", (case.method, case.path)
