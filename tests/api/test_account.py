"""The account API: named tokens, password change and reset, invitations, throttling;
links built from the request's address; HTML error pages; offline docs."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from eventport.accounts import throttle
from eventport.config import get_settings
from tests.api.conftest import PASSWORD, Caller, login
from tests.support.smtp import Inbox, inbox  # noqa: F401 - fixture


@pytest.fixture
def mail(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> Inbox:  # noqa: F811
    monkeypatch.setenv("EVENTPORT_SMTP_URL", inbox.url)
    get_settings.cache_clear()
    return inbox


def test_api_tokens_list_create_revoke(client: TestClient, owner: Caller) -> None:
    created = client.post("/api/v1/auth/tokens", headers=owner.headers,
                          json={"name": "backup script", "expires_in_days": 30})
    assert created.status_code == 201, created.text
    secret = created.json()["token"]
    listed = client.get("/api/v1/auth/tokens", headers=owner.headers).json()["items"]
    assert [t["name"] for t in listed] == ["backup script"]
    assert "token" not in listed[0]  # the secret is shown once only
    as_token = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/events", headers=as_token).status_code == 200
    used = client.get("/api/v1/auth/tokens", headers=owner.headers).json()["items"][0]
    assert used["last_used_at"] is not None
    assert client.delete(f"/api/v1/auth/tokens/{listed[0]['id']}",
                         headers=owner.headers).status_code == 204
    assert client.get("/api/v1/events", headers=as_token).status_code == 401
    assert client.delete(f"/api/v1/auth/tokens/{listed[0]['id']}",
                         headers=owner.headers).status_code == 404
    too_long = client.post("/api/v1/auth/tokens", headers=owner.headers,
                           json={"name": "x", "expires_in_days": 5000})
    assert too_long.status_code == 422


def test_password_change_keeps_this_session_and_ends_others(client: TestClient,
                                                            owner: Caller) -> None:
    other = login(client, owner.email)
    wrong = client.post("/api/v1/auth/password", headers=owner.headers,
                        json={"current_password": "nope", "new_password": "new password 1"})
    assert wrong.status_code == 403
    short = client.post("/api/v1/auth/password", headers=owner.headers,
                        json={"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422
    done = client.post("/api/v1/auth/password", headers=owner.headers,
                       json={"current_password": PASSWORD, "new_password": "new password 1"})
    assert done.status_code == 204
    assert client.get("/api/v1/events", headers=owner.headers).status_code == 200
    assert client.get("/api/v1/events", headers=other).status_code == 401
    assert client.post("/api/v1/auth/token", json={"email": owner.email,
                                                   "password": PASSWORD}).status_code == 401
    login(client, owner.email, "new password 1")


def test_invitation_by_mail_sets_a_password_and_grants_the_role(
        client: TestClient, owner: Caller, event: dict[str, Any], mail: Inbox) -> None:
    invited = client.post("/api/v1/invitations", headers=owner.headers, json={
        "event_id": event["id"], "email": "Newbie@Example.org", "role": "organizer"})
    assert invited.status_code == 201, invited.text
    assert invited.json()["mail_sent"] is True and "accept_url" not in invited.json()
    link = mail.link("newbie@example.org", r"http://testserver/invitations/\S+")
    token = link.rsplit("/", 1)[1]
    pending = client.get(f"/api/v1/events/{event['id']}/invitations", headers=owner.headers)
    assert [i["email"] for i in pending.json()["items"]] == ["newbie@example.org"]
    accepted = client.post("/api/v1/invitations/accept",
                           json={"token": token, "password": "newbie password"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["role"] == "organizer"
    headers = {"Authorization": f"Bearer {accepted.json()['access_token']}"}
    assert client.patch(f"/api/v1/events/{event['id']}", headers=headers,
                        json={"description": "organizers edit settings"}).status_code == 200
    again = client.post("/api/v1/invitations/accept",
                        json={"token": token, "password": "newbie password"})
    assert again.status_code == 409
    forged = client.post("/api/v1/invitations/accept",
                         json={"token": token[:-3] + "abc", "password": "x" * 10})
    assert forged.status_code == 404


def test_invitation_without_mail_server_returns_the_link(
        client: TestClient, owner: Caller, event: dict[str, Any]) -> None:
    invited = client.post("/api/v1/invitations", headers=owner.headers, json={
        "event_id": event["id"], "email": "friend@example.org"})
    assert invited.json()["mail_sent"] is False
    assert invited.json()["accept_url"].startswith("http://testserver/invitations/")
    assert invited.json()["role"] == "coorganizer"
    again = client.post("/api/v1/invitations", headers=owner.headers, json={
        "event_id": event["id"], "email": owner.email})
    assert again.status_code == 409  # already on the team


def test_password_reset_by_mail_works_once(client: TestClient, owner: Caller,
                                           mail: Inbox) -> None:
    unknown = client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.org"})
    assert unknown.status_code == 202 and mail.messages == []
    asked = client.post("/api/v1/auth/password-reset", json={"email": owner.email})
    assert asked.status_code == 202
    token = mail.link(owner.email, r"/password-reset/\S+").rsplit("/", 1)[1]
    done = client.post("/api/v1/auth/password-reset/confirm",
                       json={"token": token, "new_password": "reset password 1"})
    assert done.status_code == 204
    login(client, owner.email, "reset password 1")
    reused = client.post("/api/v1/auth/password-reset/confirm",
                         json={"token": token, "new_password": "another one 22"})
    assert reused.status_code == 422 and "already used" in reused.json()["detail"]


def test_sign_in_is_rate_limited_per_address(client: TestClient, owner: Caller) -> None:
    for _ in range(throttle.MAX_PER_EMAIL):
        bad = client.post("/api/v1/auth/token", json={"email": owner.email, "password": "no"})
        assert bad.status_code == 401
    locked = client.post("/api/v1/auth/token", json={"email": owner.email,
                                                      "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    other = client.post("/api/v1/auth/token", json={"email": "someone@example.org",
                                                     "password": "no"})
    assert other.status_code == 401  # another address is not locked by this one


def test_sessions_outside_the_event_dates_are_refused(client: TestClient, owner: Caller,
                                                      event: dict[str, Any]) -> None:
    url = f"/api/v1/events/{event['id']}/sessions"
    outside = client.post(url, headers=owner.headers, json={
        "title": "Too late", "starts_at": "2026-04-02T10:00:00", "ends_at": "2026-04-02T11:00:00"})
    assert outside.status_code == 422
    assert outside.json()["errors"][0]["field"] == "starts_at"
    assert "outside the event's dates" in outside.json()["detail"]
    inside = client.post(url, headers=owner.headers, json={
        "title": "Fine", "starts_at": "2026-03-30T23:30:00", "ends_at": "2026-03-31T00:30:00"})
    assert inside.status_code == 201, inside.text  # may run past midnight of the last day


def test_links_use_the_address_the_request_reached(client: TestClient, owner: Caller,
                                                   event: dict[str, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENTPORT_BASE_URL")
    get_settings.cache_clear()
    invited = client.post("http://127.0.0.1:8100/api/v1/invitations", headers=owner.headers,
                          json={"event_id": event["id"], "email": "port@example.org"})
    assert invited.json()["accept_url"].startswith("http://127.0.0.1:8100/invitations/")


def test_browsers_get_html_error_pages_and_api_clients_problems(client: TestClient) -> None:
    page = client.get("/no/such/page", headers={"Accept": "text/html,*/*"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    api = client.get("/api/v1/nothing", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    plain = client.get("/no/such/page")
    assert plain.headers["content-type"] == "application/problem+json"


def test_docs_need_no_internet(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower() and "/docs-assets/swagger-ui-bundle.js" in docs.text
    script = client.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 500_000
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200


def test_an_unknown_email_and_a_wrong_password_get_the_same_answer(
        client: TestClient, owner: Caller) -> None:
    """No user enumeration: an unknown address is checked against a dummy hash (made on
    first use, not at import) and answered exactly like a wrong password."""
    wrong = client.post("/api/v1/auth/token",
                        json={"email": owner.email, "password": "not the password"})
    unknown = client.post("/api/v1/auth/token",
                          json={"email": "nobody@example.org", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
