"""The workspace pages without a browser: generated forms for every resource, who sees
which page, invitations and password reset as plain forms."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.accounts import invitations
from eventport.accounts.models import Role
from eventport.accounts.service import user_by_email
from eventport.events.resources import PROGRAM, RESOURCES
from tests.web.conftest import World, csrf_from, sign_in


@pytest.mark.parametrize("resource", [r.name for r in PROGRAM])
def test_every_resource_has_a_generated_list_and_form(client: TestClient, world: World,
                                                      resource: str) -> None:
    sign_in(client, world.owner)
    base = f"/events/{world.event_id}/program/{resource}"
    assert client.get(base).status_code == 200
    form = client.get(f"{base}/new")
    assert form.status_code == 200
    for name in RESOURCES[resource].fields.model_fields:
        assert f'data-field="{name}"' in form.text, (resource, name)
    assert 'data-method="POST"' in form.text
    for slot in RESOURCES[resource].media:
        assert f'data-slot="{slot.name}"' not in form.text  # files come once the row exists


def test_a_session_form_offers_the_events_rooms_and_marks_required_fields(
        client: TestClient, world: World) -> None:
    sign_in(client, world.owner)
    listing = client.get(f"/events/{world.event_id}/program/sessions")
    item = re.search(r'/program/sessions/(\d+)"', listing.text)
    assert item
    page = client.get(f"/events/{world.event_id}/program/sessions/{item.group(1)}")
    assert ">Room Ada</option>" in page.text
    assert 'data-slot="slides"' in page.text and 'data-method="PATCH"' in page.text
    assert re.search(r'id="f-title"[^>]*required', page.text, re.S)
    assert client.get(f"/events/{world.event_id}/program/nope").status_code == 404


def test_coorganizer_edits_the_program_but_not_the_settings(client: TestClient,
                                                            world: World) -> None:
    sign_in(client, world.coorganizer)
    overview = client.get(f"/events/{world.event_id}")
    assert f'href="/events/{world.event_id}/settings"' not in overview.text
    assert client.get(f"/events/{world.event_id}/settings").status_code == 403
    assert client.get(f"/events/{world.event_id}/program/tracks/new").status_code == 200
    team = client.get(f"/events/{world.event_id}/team")
    assert team.status_code == 200 and "Send invitation" not in team.text
    assert "manage the team" in team.text  # the matrix is shown to everyone


def test_feeds_panel_says_a_draft_is_not_public(client: TestClient, world: World) -> None:
    sign_in(client, world.owner)
    feeds = client.get(f"/events/{world.event_id}/feeds")
    assert "Not public" in feeds.text and "until the event is published" in feeds.text
    assert "http://testserver/api/v1/events/" in feeds.text
    assert 'id="f-identifier"' in feeds.text


def test_invitation_page_creates_the_account_and_lands_on_the_event(
        client: TestClient, world: World, db: Session) -> None:
    owner = user_by_email(db, world.owner)
    _, token = invitations.invite(db, world.event_id, "new@example.org", Role.ORGANIZER, owner)
    db.commit()
    page = client.get(f"/invitations/{token}")
    assert page.status_code == 200 and "Choose a password" in page.text
    short = client.post(f"/invitations/{token}", data={
        "password": "short", "csrf_token": csrf_from(page.text)})
    assert short.status_code == 422 and "at least 8 characters" in short.text
    done = client.post(f"/invitations/{token}", data={
        "password": "a good password", "csrf_token": csrf_from(short.text)},
        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/events/{world.event_id}"
    landed = client.get(done.headers["location"])
    assert "Your role: organizer" in landed.text
    again = client.get(f"/invitations/{token}")
    assert again.status_code == 409 and "already accepted" in again.text


def test_password_reset_pages_never_say_who_has_an_account(client: TestClient,
                                                           world: World) -> None:
    page = client.get("/password-reset")
    for email in (world.owner, "nobody@example.org"):
        sent = client.post("/password-reset", data={"email": email,
                                                    "csrf_token": csrf_from(page.text)})
        assert sent.status_code == 200 and "If an account has this address" in sent.text
    bad = client.get("/password-reset/not-a-token")
    assert bad.status_code == 422 and "not valid" in bad.text


def test_sign_in_page_is_rate_limited(client: TestClient, world: World) -> None:
    page = client.get("/signin")
    token = csrf_from(page.text)
    statuses = [client.post("/signin", data={"email": world.owner, "password": "wrong",
                                             "csrf_token": token}).status_code
                for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429


def test_owner_pages_backups_and_audit(client: TestClient, world: World) -> None:
    csrf = sign_in(client, world.owner)
    put = client.put(f"/api/v1/events/{world.event_id}/backup-policy",
                     headers={"X-CSRF-Token": csrf},
                     json={"cron": "0 3 * * *", "media": ["image"], "keep_last": 3})
    assert put.status_code == 200, put.text
    page = client.get(f"/events/{world.event_id}/backups")
    assert page.status_code == 200
    assert 'value="0 3 * * *"' in page.text and "Stop scheduled backups" in page.text
    assert put.json()["next_run_at"] in page.text
    audit = client.get(f"/events/{world.event_id}/audit")
    assert audit.status_code == 200 and "backup_policy.updated" in audit.text
    details = audit.text.split('class="details"', 1)[1].split("</td>", 1)[0]
    assert "media: image" in details and "recipients: none" in details
    assert not any(repr_ in details for repr_ in ("None", "[&#39;", "['", "False", "True"))


def test_backups_and_audit_are_the_owners(client: TestClient, world: World, db: Session
                                          ) -> None:
    from eventport.accounts.service import grant_role

    grant_role(db, world.event_id, world.stranger, Role.ORGANIZER)
    db.commit()
    sign_in(client, world.stranger)
    overview = client.get(f"/events/{world.event_id}")
    assert "/backups" not in overview.text and "/audit" not in overview.text
    assert "/settings" in overview.text  # organizers do change the settings
    assert client.get(f"/events/{world.event_id}/backups").status_code == 403
    assert client.get(f"/events/{world.event_id}/audit").status_code == 403
