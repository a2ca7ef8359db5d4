"""The pages without a browser: sign-in, sessions, CSRF and who may see what."""

from __future__ import annotations

from fastapi.testclient import TestClient

from eventport.web.session import COOKIE_NAME
from tests.web.conftest import PASSWORD, World, csrf_from, sign_in


def test_pages_need_sign_in_and_come_back_after_it(client: TestClient, world: World) -> None:
    response = client.get(f"/events/{world.event_id}/export", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/signin?next=%2Fevents%2F{world.event_id}%2Fexport"
    page = client.get(response.headers["location"])
    done = client.post("/signin", data={
        "email": world.owner, "password": PASSWORD, "csrf_token": csrf_from(page.text),
        "next": f"/events/{world.event_id}/export"}, follow_redirects=False)
    assert done.headers["location"] == f"/events/{world.event_id}/export"


def test_session_cookie_is_httponly_and_samesite(client: TestClient, world: World) -> None:
    page = client.get("/signin")
    response = client.post("/signin", data={
        "email": world.owner, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # base_url is http://testserver in tests


def test_wrong_password_is_refused_without_saying_which_part(client: TestClient,
                                                            world: World) -> None:
    page = client.get("/signin")
    response = client.post("/signin", data={
        "email": world.owner, "password": "nope-nope-nope", "csrf_token": csrf_from(page.text)})
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.text
    assert client.get("/events", follow_redirects=False).status_code == 303


def test_sign_in_form_without_csrf_token_is_refused(client: TestClient, world: World) -> None:
    client.get("/signin")
    response = client.post("/signin", data={"email": world.owner, "password": PASSWORD})
    assert response.status_code == 403
    fresh = TestClient(client.app)  # no cookie at all: a forged cross-site post
    response = fresh.post("/signin", data={"email": world.owner, "password": PASSWORD,
                                           "csrf_token": "guess"})
    assert response.status_code == 403


def test_next_cannot_leave_the_site(client: TestClient, world: World) -> None:
    page = client.get("/signin")
    response = client.post("/signin", data={
        "email": world.owner, "password": PASSWORD, "csrf_token": csrf_from(page.text),
        "next": "//evil.example/steal"}, follow_redirects=False)
    assert response.headers["location"] == "/events"


def test_owner_sees_events_overview_and_export_tab(client: TestClient, world: World) -> None:
    sign_in(client, world.owner)
    events = client.get("/events")
    assert "Web Test Con" in events.text
    overview = client.get(f"/events/{world.event_id}")
    assert overview.status_code == 200
    assert "Hall &lt;B&gt;" in overview.text  # escaped, never raw HTML
    schedule = client.get(f"/events/{world.event_id}/schedule")
    assert "Streaming &lt;archives&gt;" in schedule.text and "Room Ada" in schedule.text
    assert "1 session without a time is not shown" in schedule.text
    assert overview.headers["content-security-policy"].startswith("default-src 'self'")
    export = client.get(f"/events/{world.event_id}/export")
    assert export.status_code == 200
    for identifier in ("archive", "ical", "xcal", "pentabarf", "frab-json", "sessions-csv",
                       "speakers-csv"):
        assert f'value="{identifier}"' in export.text
    for kind in ("image", "document", "audio", "video"):
        assert f'id="media-{kind}"' in export.text


def test_coorganizer_sees_the_export_tab(client: TestClient, world: World) -> None:
    sign_in(client, world.coorganizer)
    export = client.get(f"/events/{world.event_id}/export")
    assert export.status_code == 200
    assert 'aria-current="page">Export' in export.text


def test_stranger_gets_404_on_direct_urls(client: TestClient, world: World) -> None:
    sign_in(client, world.stranger)
    assert "Web Test Con" not in client.get("/events").text
    for path in (f"/events/{world.event_id}", f"/events/{world.event_id}/export",
                 "/events/999999"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
    assert client.get(f"/api/v1/events/{world.event_id}").status_code == 404


def test_cookie_authenticates_the_api_and_unsafe_methods_need_csrf(client: TestClient,
                                                                    world: World) -> None:
    csrf = sign_in(client, world.owner)
    url = f"/api/v1/events/{world.event_id}"
    assert client.get(url).status_code == 200
    refused = client.patch(url, json={"location_name": "Elsewhere"})
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    wrong = client.patch(url, json={"location_name": "Elsewhere"},
                         headers={"X-CSRF-Token": "not-the-token"})
    assert wrong.status_code == 403
    ok = client.patch(url, json={"location_name": "Elsewhere"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json()["location_name"] == "Elsewhere"


def test_sign_out_revokes_the_session_server_side(client: TestClient, world: World) -> None:
    csrf = sign_in(client, world.owner)
    stolen = client.cookies.get(COOKIE_NAME)
    assert client.post("/signout", data={"csrf_token": "wrong"}).status_code == 403
    out = client.post("/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    replay = TestClient(client.app)
    replay.cookies.set(COOKIE_NAME, stolen)
    assert replay.get(f"/api/v1/events/{world.event_id}").status_code == 401
    assert replay.get("/events", follow_redirects=False).status_code == 303


def test_tampered_cookie_counts_as_signed_out(client: TestClient, world: World) -> None:
    sign_in(client, world.owner)
    value = client.cookies.get(COOKIE_NAME)
    assert value
    client.cookies.set(COOKIE_NAME, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/events", follow_redirects=False).status_code == 303
    assert client.get(f"/api/v1/events/{world.event_id}").status_code == 401


def test_static_files_are_served_locally(client: TestClient) -> None:
    script = client.get("/static/export.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/..%2Fsession.py").status_code == 404
    assert client.get("/static/nope.js").status_code == 404


def test_import_page_offers_formats_and_dry_run(client: TestClient, world: World) -> None:
    sign_in(client, world.coorganizer)
    page = client.get("/import")
    assert page.status_code == 200
    assert 'value="open-event"' in page.text and 'id="dry-run"' in page.text
