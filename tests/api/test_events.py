"""Events over the API: create, read, list with pagination, update, delete, timezones."""

from __future__ import annotations

import datetime as dt

from tests.api.conftest import EVENT_BODY


def test_health_reports_database_and_storage(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["storage"] == "ok"


def test_token_refused_for_wrong_password(client, owner):
    response = client.post("/api/v1/auth/token",
                           json={"email": owner.email, "password": "wrong password"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_create_event_makes_caller_owner_and_reads_back(client, owner, event):
    assert event["identifier"]
    assert event["starts_at"] == "2026-03-27T09:00:00+01:00"
    roles = client.get(f"/api/v1/events/{event['id']}/roles", headers=owner.headers).json()
    assert [(r["email"], r["role"]) for r in roles["items"]] == [(owner.email, "owner")]
    again = client.get(f"/api/v1/events/{event['id']}", headers=owner.headers).json()
    assert again == event


def test_timezones_round_trip_exactly_across_dst(client, owner):
    """Berlin switches to summer time on 2026-03-29 02:00; Singapore has no DST."""
    berlin = client.post("/api/v1/events", headers=owner.headers, json={
        **EVENT_BODY, "starts_at": "2026-03-28T10:00:00+01:00",
        "ends_at": "2026-03-29T18:00:00+02:00"}).json()
    assert berlin["starts_at"] == "2026-03-28T10:00:00+01:00"
    assert berlin["ends_at"] == "2026-03-29T18:00:00+02:00"
    session = client.post(f"/api/v1/events/{berlin['id']}/sessions", headers=owner.headers,
                          json={"title": "Across the switch", "starts_at": "2026-03-29T01:30:00",
                                "ends_at": "2026-03-29T03:30:00"}).json()
    assert session["starts_at"] == "2026-03-29T01:30:00+01:00"
    assert session["ends_at"] == "2026-03-29T03:30:00+02:00"
    start = dt.datetime.fromisoformat(session["starts_at"])
    end = dt.datetime.fromisoformat(session["ends_at"])
    assert end - start == dt.timedelta(hours=1)  # the wall clock skipped an hour

    singapore = client.post("/api/v1/events", headers=owner.headers, json={
        **EVENT_BODY, "timezone": "Asia/Singapore",
        "starts_at": "2026-03-10T09:00:00+08:00", "ends_at": "2026-03-12T17:00:00+08:00"}).json()
    read = client.get(f"/api/v1/events/{singapore['id']}", headers=owner.headers).json()
    assert read["starts_at"] == "2026-03-10T09:00:00+08:00"
    assert read["ends_at"] == "2026-03-12T17:00:00+08:00"
    # an instant given in another offset comes back as the same instant, in event time
    patched = client.patch(f"/api/v1/events/{singapore['id']}", headers=owner.headers,
                           json={"starts_at": "2026-03-10T00:00:00Z"}).json()
    assert patched["starts_at"] == "2026-03-10T08:00:00+08:00"


def test_events_list_only_shows_own_events_and_paginates(client, owner, new_caller):
    for n in range(5):
        client.post("/api/v1/events", headers=owner.headers,
                    json={**EVENT_BODY, "name": f"Event {n}",
                          "starts_at": f"2026-05-0{n + 1}T09:00:00",
                          "ends_at": f"2026-05-0{n + 1}T18:00:00"})
    other = new_caller("other@example.org")
    client.post("/api/v1/events", headers=other.headers, json={**EVENT_BODY, "name": "Theirs"})

    first = client.get("/api/v1/events?per_page=2", headers=owner.headers).json()
    assert first["total"] == 5
    assert [e["name"] for e in first["items"]] == ["Event 0", "Event 1"]
    third = client.get("/api/v1/events?per_page=2&page=3", headers=owner.headers).json()
    assert [e["name"] for e in third["items"]] == ["Event 4"]
    theirs = client.get("/api/v1/events", headers=other.headers).json()
    assert [e["name"] for e in theirs["items"]] == ["Theirs"]


def test_event_validation_errors_are_problems(client, owner):
    cases = [
        {**EVENT_BODY, "timezone": "Mars/Olympus"},
        {**EVENT_BODY, "ends_at": "2026-03-01T00:00:00"},
        {**EVENT_BODY, "name": ""},
        {**EVENT_BODY, "external_url": "javascript:alert(1)"},
        {**EVENT_BODY, "starts_at": "not a date"},
        {**EVENT_BODY, "unknown_field": 1},
        {**EVENT_BODY, "starts_at": "9999-12-31T22:00", "ends_at": "9999-12-31T23:00",
         "timezone": "America/New_York"},
    ]
    for body in cases:
        response = client.post("/api/v1/events", headers=owner.headers, json=body)
        assert response.status_code == 422, (body, response.text)
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["status"] == 422 and problem["detail"]
    broken = client.post("/api/v1/events", headers={**owner.headers,
                                                    "content-type": "application/json"},
                         content=b"{not json")
    assert broken.status_code == 422
    assert client.get("/api/v1/events?page=0", headers=owner.headers).status_code == 422
    assert client.get("/api/v1/events/abc", headers=owner.headers).status_code == 422


def test_identifier_conflict_and_patch_nulls(client, owner, event):
    response = client.post("/api/v1/events", headers=owner.headers,
                           json={**EVENT_BODY, "identifier": event["identifier"]})
    assert response.status_code == 409
    response = client.patch(f"/api/v1/events/{event['id']}", headers=owner.headers,
                            json={"name": None})
    assert response.status_code == 422
    response = client.patch(f"/api/v1/events/{event['id']}", headers=owner.headers,
                            json={"state": "published", "latitude": 52.5})
    assert response.json()["state"] == "published"
    assert response.json()["latitude"] == 52.5


def test_delete_event_removes_program(client, owner, event):
    eid = event["id"]
    client.post(f"/api/v1/events/{eid}/tracks", headers=owner.headers, json={"name": "T"})
    assert client.delete(f"/api/v1/events/{eid}", headers=owner.headers).status_code == 204
    assert client.get(f"/api/v1/events/{eid}", headers=owner.headers).status_code == 404
    assert client.get(f"/api/v1/events/{eid}/tracks", headers=owner.headers).status_code == 404


def test_openapi_describes_the_api(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert "/api/v1/events/{event_id}/sessions/{item_id}" in paths
    assert "/api/v1/events/{event_id}/speakers/{item_id}/photo" in paths
    assert "/api/v1/auth/token" in paths
    assert client.get("/docs").status_code == 200


def test_identifier_rule_holds_on_update_too(client, owner, event):
    response = client.patch(f"/api/v1/events/{event['id']}", headers=owner.headers,
                            json={"identifier": 'x"; filename="evil.html'})
    assert response.status_code == 422
