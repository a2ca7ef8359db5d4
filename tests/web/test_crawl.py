"""Every page reachable from the signed-in demo answers without a server error.

A crawler follows each same-site link (``href``) from ``/events`` on the running app,
as the demo event's owner, as a coorganizer and as a stranger with no role on it: a page
may refuse (403/404) but never fail (5xx), and what a browser is shown is HTML, never
the API's JSON — error pages included.
"""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.accounts.models import Role
from eventport.accounts.service import grant_role, user_by_email
from eventport.audit.service import record
from eventport.events.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo
from eventport.exports import service as exports
from eventport.storage import get_storage
from tests.web.conftest import add_user, sign_in

HREF = re.compile(r'href="([^"]+)"')
#: Not pages: files, the API (JSON by design) and the API docs' assets.
NOT_PAGES = ("/static/", "/api/", "/docs-assets/", "/openapi.json", "/feeds/")
LIMIT = 600


def _is_page(path: str) -> bool:
    return path.startswith("/") and not path.startswith(NOT_PAGES)


def crawl(client: TestClient, start: str = "/events") -> dict[str, int]:
    """Breadth-first over same-site links; returns each page's status."""
    seen: dict[str, int] = {}
    queue = deque([start])
    while queue and len(seen) < LIMIT:
        path = queue.popleft()
        if path in seen:
            continue
        response = client.get(path, follow_redirects=False, headers={"Accept": "text/html"})
        seen[path] = response.status_code
        if response.status_code >= 500:
            continue
        assert response.headers.get("content-type", "").startswith("text/html"), path
        for href in HREF.findall(response.text):
            link = urldefrag(urljoin(path, href.replace("&amp;", "&")))[0]
            parts = urlsplit(link)
            if parts.netloc in ("", "testserver") and _is_page(parts.path):
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


@pytest.fixture
def demo_id(db: Session) -> int:
    event = load_demo(db, get_storage())
    assert event is not None
    add_user(db, "coorg@example.org")
    add_user(db, "stranger@example.org")
    db.flush()
    grant_role(db, event.id, "coorg@example.org", Role.COORGANIZER)
    owner = user_by_email(db, DEMO_EMAIL)
    assert owner is not None
    job, _ = exports.request_export(db, event, owner, "ical", None)  # history to show
    db.commit()
    record(db, event.id, owner, "export.requested", f"export {job.id}", {"format": "ical"})
    exports.run_export(job.id, notify=False)
    return event.id


@pytest.mark.parametrize("who", ["owner", "coorganizer", "stranger"])
def test_no_page_fails(client: TestClient, demo_id: int, who: str) -> None:
    email, password = {"owner": (DEMO_EMAIL, DEMO_PASSWORD),
                       "coorganizer": ("coorg@example.org", None),
                       "stranger": ("stranger@example.org", None)}[who]
    sign_in(client, email, *([password] if password else []))
    seen = crawl(client)
    seen.update(crawl(client, f"/events/{demo_id}"))  # a stranger has no link to it
    seen.update(crawl(client, "/docs"))  # DESIGN: the API docs work offline
    failed = {path: status for path, status in seen.items() if status >= 500}
    assert not failed
    if who == "owner":
        assert len(seen) > 50, sorted(seen)


def test_a_missing_page_is_an_html_404(client: TestClient, demo_id: int) -> None:
    sign_in(client, DEMO_EMAIL, DEMO_PASSWORD)
    for path in ("/no-such-page", f"/events/{demo_id + 1000}", f"/events/{demo_id}/nope",
                 f"/events/{demo_id}/program/nope", f"/events/{demo_id}/program/sessions/999999",
                 "/invitations/bogus-token"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert "<html" in response.text.lower(), path


def test_bad_input_in_a_page_url_is_an_html_422(client: TestClient, demo_id: int) -> None:
    sign_in(client, DEMO_EMAIL, DEMO_PASSWORD)
    for path in (f"/events/{demo_id}/program/sessions/0", f"/events/{demo_id}/audit?page=x",
                 f"/events/{demo_id}/program/sessions?page=0"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 422, path
        assert response.headers["content-type"].startswith("text/html"), path
