"""Every program resource over the API: create, read, list, update, delete, validation."""

from __future__ import annotations

import pytest

from eventport.events.resources import PROGRAM

#: A valid body, a change, and an invalid body for each resource.
CASES = {
    "microlocations": ({"name": "Room A", "floor": 1, "position": 2}, {"name": "Room B"},
                       {"name": "x", "position": -1}),
    "tracks": ({"name": "Web", "color": "#112233"}, {"description": "All things web"},
               {"name": "Web", "color": "red"}),
    "session-types": ({"name": "Talk", "length": 30}, {"length": 45},
                      {"name": "Talk", "length": 0}),
    "speakers": ({"name": "Ada Lovelace", "email": "ada@example.org", "country": "UK"},
                 {"organisation": "Analytical Engines Ltd"},
                 {"name": "Ada", "email": "not-an-email"}),
    "sessions": ({"title": "Streaming zips", "starts_at": "2026-03-28T10:00:00",
                  "ends_at": "2026-03-28T10:30:00", "state": "accepted"},
                 {"subtitle": "and why", "state": "confirmed"},
                 {"title": "x", "state": "maybe"}),
    "sponsors": ({"name": "Acme", "level": 1, "url": "https://acme.example"},
                 {"sponsor_type": "Gold"}, {"name": "Acme", "url": "ftp://acme"}),
    "social-links": ({"name": "Mastodon", "link": "https://mastodon.example/@x"},
                     {"name": "Fediverse"}, {"name": "x", "link": "javascript:alert(1)"}),
    "forms": ({"form": "session", "field_identifier": "title", "type": "text",
               "is_required": True}, {"is_included": True}, {"form": "", "field_identifier": "t"}),
}


def test_cases_cover_every_resource():
    assert set(CASES) == {r.name for r in PROGRAM}


@pytest.mark.parametrize("name", sorted(CASES))
def test_crud(client, owner, event, name):
    body, change, invalid = CASES[name]
    base = f"/api/v1/events/{event['id']}/{name}"
    created = client.post(base, json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    item = created.json()
    for key, value in body.items():
        if key not in ("starts_at", "ends_at"):
            assert item[key] == value
    assert client.get(f"{base}/{item['id']}", headers=owner.headers).json() == item

    updated = client.patch(f"{base}/{item['id']}", json=change, headers=owner.headers)
    assert updated.status_code == 200, updated.text
    assert {k: updated.json()[k] for k in change} == change
    listed = client.get(base, headers=owner.headers).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == item["id"]

    bad = client.post(base, json=invalid, headers=owner.headers)
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"] == "application/problem+json"
    assert client.post(base, json={}, headers=owner.headers).status_code == 422

    assert client.delete(f"{base}/{item['id']}", headers=owner.headers).status_code == 204
    assert client.get(f"{base}/{item['id']}", headers=owner.headers).status_code == 404
    assert client.get(base, headers=owner.headers).json()["total"] == 0


def test_pagination_is_ordered_and_complete(client, owner, event):
    base = f"/api/v1/events/{event['id']}/tracks"
    for n in range(7):
        client.post(base, json={"name": f"T{n}"}, headers=owner.headers)
    seen = []
    for page in (1, 2, 3):
        body = client.get(f"{base}?per_page=3&page={page}", headers=owner.headers).json()
        assert body["total"] == 7 and body["page"] == page and body["per_page"] == 3
        seen += [t["name"] for t in body["items"]]
    assert seen == [f"T{n}" for n in range(7)]
    assert client.get(f"{base}?per_page=1000", headers=owner.headers).status_code == 422


def test_session_relations_and_their_validation(client, owner, event, new_caller):
    eid = event["id"]
    h = owner.headers

    def make(path, body):
        return client.post(f"/api/v1/events/{eid}/{path}", json=body, headers=h).json()

    track = make("tracks", {"name": "Core"})
    room = make("microlocations", {"name": "Hall"})
    kind = make("session-types", {"name": "Talk"})
    ada = make("speakers", {"name": "Ada"})
    alan = make("speakers", {"name": "Alan"})
    session = client.post(f"/api/v1/events/{eid}/sessions", headers=h, json={
        "title": "Engines", "track_id": track["id"], "microlocation_id": room["id"],
        "session_type_id": kind["id"], "speaker_ids": [alan["id"], ada["id"], ada["id"]],
    })
    assert session.status_code == 201, session.text
    assert session.json()["speaker_ids"] == sorted([ada["id"], alan["id"]])
    speaker = client.get(f"/api/v1/events/{eid}/speakers/{ada['id']}", headers=h).json()
    assert speaker["session_ids"] == [session.json()["id"]]

    # references into another organizer's event are refused, not linked
    other = new_caller("other@example.org")
    foreign = client.post("/api/v1/events", headers=other.headers, json={
        "name": "Other", "starts_at": "2026-01-01T09:00:00Z", "ends_at": "2026-01-02T09:00:00Z"
    }).json()
    foreign_track = client.post(f"/api/v1/events/{foreign['id']}/tracks", headers=other.headers,
                                json={"name": "Theirs"}).json()
    bad = client.patch(f"/api/v1/events/{eid}/sessions/{session.json()['id']}", headers=h,
                       json={"track_id": foreign_track["id"]})
    assert bad.status_code == 422
    assert "does not exist in this event" in bad.json()["detail"]
    bad = client.post(f"/api/v1/events/{eid}/sessions", headers=h,
                      json={"title": "x", "speaker_ids": [999999]})
    assert bad.status_code == 422
    bad = client.post(f"/api/v1/events/{eid}/sessions", headers=h,
                      json={"title": "x", "starts_at": "2026-03-28T10:00:00",
                            "ends_at": "2026-03-28T09:00:00"})
    assert bad.status_code == 422 and "before" in bad.json()["detail"]
    bad = client.post(f"/api/v1/events/{eid}/sessions", headers=h,
                      json={"title": "x", "starts_at": "2026-03-28T10:00:00"})
    assert bad.status_code == 422

    # deleting a track unlinks it from sessions instead of deleting them
    client.delete(f"/api/v1/events/{eid}/tracks/{track['id']}", headers=h)
    again = client.get(f"/api/v1/events/{eid}/sessions/{session.json()['id']}", headers=h)
    assert again.json()["track_id"] is None


def test_items_of_another_event_are_not_found(client, owner, event):
    eid = event["id"]
    second = client.post("/api/v1/events", headers=owner.headers, json={
        "name": "Second", "starts_at": "2026-01-01T09:00:00Z", "ends_at": "2026-01-02T09:00:00Z"
    }).json()
    track = client.post(f"/api/v1/events/{second['id']}/tracks", headers=owner.headers,
                        json={"name": "Elsewhere"}).json()
    response = client.get(f"/api/v1/events/{eid}/tracks/{track['id']}", headers=owner.headers)
    assert response.status_code == 404
