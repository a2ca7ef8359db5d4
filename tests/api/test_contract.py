"""docs/DESIGN.md, checked where a review found the server answering otherwise."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from eventport.accounts.models import Role
from eventport.config import get_settings
from tests.api.conftest import EVENT_BODY, Caller


def test_a_role_is_removed_by_email(client: TestClient, owner: Caller, event: dict,
                                    with_role) -> None:
    with_role("helper@example.org", Role.COORGANIZER)
    url = f"/api/v1/events/{event['id']}/roles"
    gone = client.delete(url, params={"email": "Helper@example.org"}, headers=owner.headers)
    assert gone.status_code == 204, gone.text
    emails = [r["email"] for r in client.get(url, headers=owner.headers).json()["items"]]
    assert emails == ["owner@example.org"]
    audit = client.get(f"/api/v1/events/{event['id']}/audit", headers=owner.headers).json()
    assert audit["items"][0]["action"] == "role.revoked"
    assert audit["items"][0]["target"] == "helper@example.org"


def test_removing_a_role_by_email_refuses_what_it_must(client: TestClient, owner: Caller,
                                                      event: dict, with_role) -> None:
    url = f"/api/v1/events/{event['id']}/roles"
    unknown = client.delete(url, params={"email": "nobody@example.org"}, headers=owner.headers)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert client.delete(url, headers=owner.headers).status_code == 422
    assert client.delete(url, params={"email": ""}, headers=owner.headers).status_code == 422
    assert client.delete(url, params={"email": "x" * 400}, headers=owner.headers
                         ).status_code == 422
    last = client.delete(url, params={"email": owner.email}, headers=owner.headers)
    assert last.status_code == 409
    helper = with_role("helper@example.org", Role.COORGANIZER)
    assert client.delete(url, params={"email": owner.email},
                         headers=helper.headers).status_code == 403


def test_a_201_says_where_the_new_resource_is(client: TestClient, owner: Caller) -> None:
    created = client.post("/api/v1/events", json=EVENT_BODY, headers=owner.headers)
    event = created.json()
    assert created.headers["location"] == f"/api/v1/events/{event['id']}"
    assert client.get(created.headers["location"], headers=owner.headers).json() == event
    track = client.post(f"/api/v1/events/{event['id']}/tracks", json={"name": "Web"},
                        headers=owner.headers)
    assert track.status_code == 201
    assert track.headers["location"] == f"/api/v1/events/{event['id']}/tracks/{track.json()['id']}"
    assert client.get(track.headers["location"], headers=owner.headers).json() == track.json()


def test_openapi_documents_the_new_operations(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    removal = paths["/api/v1/events/{event_id}/roles"]["delete"]
    assert {"204", "404", "409", "422"} <= set(removal["responses"])
    for path in ("/api/v1/events", "/api/v1/events/{event_id}/sessions"):
        assert "Location" in paths[path]["post"]["responses"]["201"]["headers"], path


def _page(client: TestClient, url: str, headers: dict[str, str], **params: int) -> dict:
    response = client.get(url, params=params, headers=headers)
    assert response.status_code == 200, (url, response.text)
    return response.json()


def test_every_list_is_a_page(client: TestClient, owner: Caller, event: dict,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhooks, deliveries, tokens and invitations honour page/per_page and answer the
    same ``{items, total, page, per_page}`` envelope as every other list."""
    monkeypatch.setenv("EVENTPORT_WEBHOOK_ALLOW_PRIVATE", "true")  # no DNS in tests
    get_settings.cache_clear()
    base = f"/api/v1/events/{event['id']}"
    hooks = [client.post(f"{base}/webhooks", headers=owner.headers, json={
        "url": f"http://127.0.0.1:9/hook/{n}", "events": ["export.succeeded"]}).json()
        for n in range(3)]
    assert all("id" in hook for hook in hooks), hooks
    for n in range(3):
        assert client.post("/api/v1/auth/tokens", headers=owner.headers,
                           json={"name": f"t{n}"}).status_code == 201
        assert client.post("/api/v1/invitations", headers=owner.headers, json={
            "event_id": event["id"], "email": f"guest{n}@example.org",
            "role": "coorganizer"}).status_code == 201
    for url, total in ((f"{base}/webhooks", 3), ("/api/v1/auth/tokens", 3),
                       (f"{base}/invitations", 3)):
        first = _page(client, url, owner.headers, per_page=2)
        second = _page(client, url, owner.headers, per_page=2, page=2)
        assert (len(first["items"]), first["total"], first["page"], first["per_page"]) == (
            2, total, 1, 2), url
        assert (len(second["items"]), second["page"]) == (1, 2), url
        ids = [item["id"] for item in first["items"] + second["items"]]
        assert len(set(ids)) == total, url
        assert client.get(url, params={"per_page": 0}, headers=owner.headers
                          ).status_code == 422, url
    assert [h["id"] for h in _page(client, f"{base}/webhooks", owner.headers)["items"]] == [
        h["id"] for h in hooks]
    deliveries = _page(client, f"{base}/webhooks/{hooks[0]['id']}/deliveries", owner.headers)
    assert deliveries == {"items": [], "total": 0, "page": 1, "per_page": 50}


def test_delete_on_the_token_collection_signs_the_caller_out(client: TestClient,
                                                             owner: Caller) -> None:
    from tests.api.conftest import login

    other = login(client, owner.email)
    gone = client.delete("/api/v1/auth/tokens", headers=owner.headers)
    assert gone.status_code == 204
    assert client.get("/api/v1/auth/tokens", headers=owner.headers).status_code == 401
    assert client.get("/api/v1/auth/tokens", headers=other).status_code == 200
    assert client.delete("/api/v1/auth/tokens").status_code == 401
