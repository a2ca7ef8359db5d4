"""The audit log: every export action, including a download through a signed link."""

from __future__ import annotations

from fastapi.testclient import TestClient

from eventport.accounts.models import Role
from eventport.exports.service import run_export
from tests.api.conftest import Caller


def _audit(client: TestClient, event_id: int, headers: dict[str, str], **params: int
           ) -> dict:
    response = client.get(f"/api/v1/events/{event_id}/audit", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_audit_lists_export_actions_and_signed_download(client: TestClient, owner: Caller,
                                                        event: dict) -> None:
    created = client.post(f"/api/v1/events/{event['id']}/exports", headers=owner.headers,
                          json={"format": "archive", "media": []})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    assert run_export(job_id) == "succeeded"
    link = client.get(f"/api/v1/exports/{job_id}/download", headers=owner.headers,
                      follow_redirects=False)
    assert link.status_code == 302
    fetched = client.get(link.headers["location"], headers={"User-Agent": "curl/8"})
    assert fetched.status_code == 200
    assert client.patch(f"/api/v1/exports/{job_id}", json={"pinned": True},
                        headers=owner.headers).status_code == 200
    assert client.delete(f"/api/v1/exports/{job_id}", headers=owner.headers).status_code == 204

    log = _audit(client, event["id"], owner.headers)
    actions = [(e["action"], e["actor"]) for e in reversed(log["items"])]
    assert actions == [
        ("export.requested", owner.email),
        ("export.download_link", owner.email),
        ("export.downloaded", "signed-link"),
        ("export.pinned", owner.email),
        ("export.deleted", owner.email),
    ]
    downloaded = next(e for e in log["items"] if e["action"] == "export.downloaded")
    assert downloaded["target"] == f"export {job_id}"
    assert downloaded["details"]["user_agent"] == "curl/8"
    assert downloaded["details"]["filename"].endswith(".zip")
    assert downloaded["at"].endswith("Z")
    assert log["total"] == 5

    page = _audit(client, event["id"], owner.headers, per_page=2, page=2)
    assert [e["action"] for e in page["items"]] == ["export.downloaded", "export.download_link"]


def test_audit_records_roles_and_is_for_owners_only(client: TestClient, owner: Caller,
                                                    event: dict, with_role, new_caller) -> None:
    organizer = with_role("organizer@example.org", Role.ORGANIZER)
    granted = client.post(f"/api/v1/events/{event['id']}/roles", headers=owner.headers,
                          json={"email": "organizer@example.org", "role": "coorganizer"})
    assert granted.status_code == 201, granted.text
    assert client.delete(f"/api/v1/events/{event['id']}/roles/{granted.json()['id']}",
                         headers=owner.headers).status_code == 204
    log = _audit(client, event["id"], owner.headers)
    assert [(e["action"], e["target"], e["details"]) for e in reversed(log["items"])] == [
        ("role.granted", "organizer@example.org", {"role": "coorganizer"}),
        ("role.revoked", "organizer@example.org", {"role": "coorganizer"}),
    ]
    denied = client.get(f"/api/v1/events/{event['id']}/audit", headers=organizer.headers)
    assert denied.status_code == 404  # the role was revoked: the event is invisible now
    stranger = new_caller("stranger@example.org")
    assert client.get(f"/api/v1/events/{event['id']}/audit",
                      headers=stranger.headers).status_code == 404
    coorganizer = with_role("co@example.org", Role.COORGANIZER)
    forbidden = client.get(f"/api/v1/events/{event['id']}/audit", headers=coorganizer.headers)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")
