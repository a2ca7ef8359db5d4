"""Who may do what: no token 401, stranger 404, coorganizer edits the program only, owner all."""

from __future__ import annotations

import pytest

from eventport.accounts.models import Role


def test_no_token_is_401_everywhere(client, event):
    eid = event["id"]
    for method, path in [("GET", "/api/v1/events"), ("GET", f"/api/v1/events/{eid}"),
                         ("GET", f"/api/v1/events/{eid}/sessions"),
                         ("POST", f"/api/v1/events/{eid}/tracks"),
                         ("DELETE", f"/api/v1/events/{eid}")]:
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
    bad = client.get("/api/v1/events", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401


def test_stranger_sees_nothing(client, event, new_caller, owner):
    stranger = new_caller("stranger@example.org")
    eid = event["id"]
    track = client.post(f"/api/v1/events/{eid}/tracks", headers=owner.headers,
                        json={"name": "T"}).json()
    for method, path in [
        ("GET", f"/api/v1/events/{eid}"),
        ("PATCH", f"/api/v1/events/{eid}"),
        ("DELETE", f"/api/v1/events/{eid}"),
        ("GET", f"/api/v1/events/{eid}/tracks"),
        ("GET", f"/api/v1/events/{eid}/tracks/{track['id']}"),
        ("PATCH", f"/api/v1/events/{eid}/tracks/{track['id']}"),
        ("GET", f"/api/v1/events/{eid}/roles"),
        ("GET", f"/api/v1/events/{eid}/logo"),
        ("GET", "/api/v1/events/999999"),
    ]:
        response = client.request(method, path, headers=stranger.headers, json={})
        assert response.status_code == 404, (method, path, response.text)
        assert "PyCon" not in response.text
    assert client.get("/api/v1/events", headers=stranger.headers).json()["total"] == 0


@pytest.mark.parametrize("role", [Role.COORGANIZER, Role.ORGANIZER])
def test_coorganizer_and_organizer_edit_program_but_not_event_or_roles(
    client, event, with_role, role
):
    caller = with_role(f"{role.value}@example.org", role)
    eid = event["id"]
    h = caller.headers
    assert client.get(f"/api/v1/events/{eid}", headers=h).status_code == 200
    track = client.post(f"/api/v1/events/{eid}/tracks", headers=h, json={"name": "Mine"})
    assert track.status_code == 201
    assert client.patch(f"/api/v1/events/{eid}/tracks/{track.json()['id']}", headers=h,
                        json={"name": "Renamed"}).status_code == 200
    assert client.delete(f"/api/v1/events/{eid}/tracks/{track.json()['id']}",
                         headers=h).status_code == 204
    edit = client.patch(f"/api/v1/events/{eid}", headers=h, json={"description": "x"})
    assert edit.status_code == (200 if role == Role.ORGANIZER else 403)  # see the role matrix
    forbidden = client.delete(f"/api/v1/events/{eid}", headers=h)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    assert client.post(f"/api/v1/events/{eid}/roles", headers=h,
                       json={"email": caller.email, "role": "owner"}).status_code == 403
    roles = client.get(f"/api/v1/events/{eid}/roles", headers=h).json()["items"]
    assert client.delete(f"/api/v1/events/{eid}/roles/{roles[0]['id']}",
                         headers=h).status_code == 403


def test_owner_manages_roles_and_keeps_one_owner(client, event, owner, new_caller):
    eid = event["id"]
    colleague = new_caller("colleague@example.org")
    granted = client.post(f"/api/v1/events/{eid}/roles", headers=owner.headers,
                          json={"email": colleague.email, "role": "coorganizer"})
    assert granted.status_code == 201
    assert client.get(f"/api/v1/events/{eid}", headers=colleague.headers).status_code == 200
    unknown = client.post(f"/api/v1/events/{eid}/roles", headers=owner.headers,
                          json={"email": "nobody@example.org", "role": "organizer"})
    assert unknown.status_code == 422
    bad_role = client.post(f"/api/v1/events/{eid}/roles", headers=owner.headers,
                           json={"email": colleague.email, "role": "king"})
    assert bad_role.status_code == 422
    roles = client.get(f"/api/v1/events/{eid}/roles", headers=owner.headers).json()["items"]
    own = next(r for r in roles if r["role"] == "owner")
    last = client.delete(f"/api/v1/events/{eid}/roles/{own['id']}", headers=owner.headers)
    assert last.status_code == 409
    assert client.delete(f"/api/v1/events/{eid}/roles/{granted.json()['id']}",
                         headers=owner.headers).status_code == 204
    assert client.get(f"/api/v1/events/{eid}", headers=colleague.headers).status_code == 404
    assert client.delete(f"/api/v1/events/{eid}", headers=owner.headers).status_code == 204
