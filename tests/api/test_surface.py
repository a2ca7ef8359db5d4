"""What a newcomer meets first: lists, errors, methods and the OpenAPI description."""

from __future__ import annotations

from fastapi.testclient import TestClient

from eventport.accounts.models import Role
from eventport.accounts.service import create_user, grant_role
from eventport.api.openapi import CONFLICTS, EXTRA, api_routes
from tests.api.conftest import PASSWORD, Caller


def test_roles_honour_per_page(client: TestClient, db, owner: Caller, event: dict) -> None:
    for n in range(3):
        create_user(db, f"helper{n}@example.org", PASSWORD)
        grant_role(db, event["id"], f"helper{n}@example.org", Role.COORGANIZER)
    db.commit()
    url = f"/api/v1/events/{event['id']}/roles"
    first = client.get(f"{url}?per_page=2", headers=owner.headers).json()
    assert (len(first["items"]), first["total"], first["page"], first["per_page"]) == (2, 4, 1, 2)
    last = client.get(f"{url}?per_page=2&page=2", headers=owner.headers).json()
    assert [r["email"] for r in last["items"]] == ["helper1@example.org", "helper2@example.org"]


def test_export_list_is_a_page_and_202_says_where_the_job_is(client: TestClient, owner: Caller,
                                                             event: dict) -> None:
    url = f"/api/v1/events/{event['id']}/exports"
    accepted = client.post(url, json={"format": "ical"}, headers=owner.headers)
    assert accepted.status_code == 202
    job = accepted.json()
    assert accepted.headers["location"] == f"/api/v1/exports/{job['id']}"
    assert client.get(accepted.headers["location"], headers=owner.headers).json()["id"] == job["id"]
    listed = client.get(f"{url}?per_page=1", headers=owner.headers).json()
    assert listed == {"items": [job], "total": 1, "page": 1, "per_page": 1}


def test_a_choice_is_explained_as_one_of_its_values(client: TestClient, owner: Caller,
                                                    event: dict) -> None:
    response = client.post(f"/api/v1/events/{event['id']}/sessions", headers=owner.headers,
                           json={"title": "T", "state": "bogus"})
    assert response.status_code == 422
    message = response.json()["errors"][0]["message"]
    assert message == ("should be one of: draft, submitted, accepted, confirmed, rejected, "
                       "withdrawn")
    assert "<" not in response.json()["detail"]


def test_a_form_encoded_token_request_is_told_to_send_json(client: TestClient, owner: Caller
                                                           ) -> None:
    response = client.post("/api/v1/auth/token",
                           data={"email": owner.email, "password": PASSWORD})
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert "application/json" in response.json()["detail"]
    assert "x-www-form-urlencoded" in response.json()["detail"]


def test_head_answers_wherever_get_does(client: TestClient) -> None:
    for path in ("/", "/api/v1/health", "/openapi.json"):
        got = client.get(path, follow_redirects=False)
        head = client.head(path, follow_redirects=False)
        assert head.status_code == got.status_code, path
        assert head.content == b""
        assert head.headers.get("content-type") == got.headers.get("content-type"), path


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.put("/api/v1/events")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET, HEAD, POST"


def test_openapi_documents_every_problem_an_operation_answers(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    operations = {(method, path): op for path, item in schema["paths"].items()
                  for method, op in item.items()}
    for (method, path), op in operations.items():
        responses = op["responses"]
        for status, response in responses.items():
            if status.startswith("4") or status.startswith("5"):
                assert response["content"] == problem, (method, path, status)
        if op.get("security"):
            assert "401" in responses, (method, path)
            if "{" in path:
                assert {"403", "404"} <= set(responses), (method, path)
        if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
            assert "413" in responses, (method, path)
        if "202" in responses:
            assert "Location" in responses["202"]["headers"], (method, path)
    assert "409" in operations[("post", "/api/v1/events")]["responses"]
    assert "415" in operations[("post", "/api/v1/auth/token")]["responses"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_the_hand_kept_lists_name_real_operations(client: TestClient) -> None:
    names = {route.name for route in api_routes(client.app)}  # type: ignore[arg-type]
    assert (CONFLICTS | set(EXTRA)) - names <= {"change_role"}  # change_role: web's branch


def test_every_length_the_api_accepts_fits_its_column() -> None:
    """PostgreSQL refuses a value longer than its VARCHAR (SQLite stores it anyway), so a
    schema allowing more than the column is a 500 on one database only."""
    from sqlalchemy import String

    from eventport.events.resources import EVENT, RESOURCES

    too_long = []
    for resource in (EVENT, *RESOURCES.values()):
        for name, field in resource.create_schema.model_fields.items():
            column = resource.model.__table__.columns.get(name)
            limits = [m.max_length for m in field.metadata if getattr(m, "max_length", None)]
            if (column is not None and isinstance(column.type, String) and column.type.length
                    and limits and limits[0] > column.type.length):
                too_long.append(f"{resource.name}.{name}: {limits[0]} > {column.type.length}")
    assert not too_long
