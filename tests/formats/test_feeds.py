"""Public schedule feeds: published events only, public fields only, cheap to poll."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.api import feeds
from eventport.api.feedcache import FeedCache, render_entry
from eventport.api.feeds import clear_feed_cache
from eventport.exports.formats.ical import ICalExporter
from tests.formats.conftest import SCHEDULED, Festival, build_festival
from tests.formats.validators import assert_valid_schedule_json, assert_valid_schedule_xml

EMAIL = re.compile(rb"[\w.+-]+@[\w-]+\.[\w.]+")
FEEDS = {"ics": "text/calendar", "xcs": "application/calendar+xml",
         "xml": "application/xml", "json": "application/json"}


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_feed_cache()
    yield
    clear_feed_cache()


def test_feeds_serve_public_fields_with_etag(client: TestClient, db: Session) -> None:
    festival = build_festival(db)
    for extension, content_type in FEEDS.items():
        url = f"/api/v1/events/{festival.event.identifier}/schedule.{extension}"
        response = client.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(content_type)
        assert response.headers["cache-control"] == "public, max-age=60"
        assert EMAIL.search(response.content) is None, extension
        assert b"+49 30 123456" not in response.content
        assert b"secret organizer note" not in response.content
        etag = response.headers["etag"]
        assert etag.startswith('"') and not etag.startswith("W/")

        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}
                          ).status_code == 304
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    xml = client.get(f"/api/v1/events/{festival.event.identifier}/schedule.xml").content
    assert_valid_schedule_xml(xml)
    document = client.get(f"/api/v1/events/{festival.event.identifier}/schedule.json").content
    assert_valid_schedule_json(document)
    events = [e for day in json.loads(document)["schedule"]["conference"]["days"]
              for room in day["rooms"].values() for e in room]
    assert len(events) == len(SCHEDULED)


@pytest.mark.parametrize(("state", "privacy"), [("draft", "public"), ("published", "private")])
def test_feeds_hide_unpublished_events(client: TestClient, db: Session, state: str,
                                       privacy: str) -> None:
    festival: Festival = build_festival(db, state=state, privacy=privacy)
    for extension in FEEDS:
        response = client.get(f"/api/v1/events/{festival.event.identifier}/schedule.{extension}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 404
    assert client.get("/api/v1/events/no-such-event/schedule.ics").status_code == 404


def test_export_formats_lists_the_registry(client: TestClient) -> None:
    response = client.get("/api/v1/export-formats")
    assert response.status_code == 200
    formats = {entry["identifier"]: entry for entry in response.json()}
    assert {"ical", "xcal", "pentabarf", "frab-json", "sessions-csv", "speakers-csv"
            } <= set(formats)
    assert formats["ical"] == {**formats["ical"], "extension": "ics",
                               "content_type": "text/calendar", "public": True}


def test_conditional_requests_answer_from_the_cache_without_rendering(
        client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """ETag and Last-Modified come from the cached entry: a 304 renders nothing, even
    once the entry is past max-age (it is renewed in the background)."""
    festival = build_festival(db)
    url = f"/api/v1/events/{festival.event.identifier}/schedule.ics"
    first = client.get(url)
    assert first.status_code == 200
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert parsedate_to_datetime(last_modified).tzinfo is not None

    renders: list[int] = []
    real_render = ICalExporter.render
    monkeypatch.setattr(ICalExporter, "render",
                        lambda self, *a, **k: renders.append(1) or real_render(self, *a, **k))
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(url, headers={"If-Modified-Since": old}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200
    # If-None-Match decides when both are sent (RFC 9110 13.2.2).
    assert client.get(url, headers={"If-None-Match": '"other"',
                                    "If-Modified-Since": last_modified}).status_code == 200
    assert renders == []

    monkeypatch.setattr(feeds._cache, "max_age", 0)  # every entry is now past max-age
    stale = client.get(url, headers={"If-None-Match": etag})
    assert stale.status_code == 304 and stale.headers["etag"] == etag
    deadline = time.monotonic() + 10
    while not renders and time.monotonic() < deadline:  # the one background render
        time.sleep(0.05)
    assert renders == [1]


def test_feed_cache_serves_stale_and_renders_once_aside() -> None:
    """Past max-age: the old bytes at once, one background render, then the new bytes
    (with a new Last-Modified only if they changed)."""
    cache = FeedCache(max_age=0, max_stale=60, entries=2)
    calls: list[str] = []
    gate = threading.Event()

    def slow() -> bytes:
        calls.append("aside")
        gate.wait(10)
        return b"v2"

    first = cache.get("k", lambda: b"v1", slow)
    assert first.body == b"v1"
    assert [cache.get("k", lambda: b"never", slow).body for _ in range(5)] == [b"v1"] * 5
    gate.set()
    deadline = time.monotonic() + 10
    while cache.get("k", lambda: b"never", lambda: b"v2").body != b"v2":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert calls == ["aside"]
    renewed = render_entry(b"v2", cache.get("k", lambda: b"never", lambda: b"v2"))
    assert renewed.last_modified <= time.time()
    for key in ("a", "b"):  # least recently used goes first
        cache.get(key, lambda: b"x", lambda: b"x")
    assert cache.get("k", lambda: b"cold", lambda: b"cold").body == b"cold"


def test_a_late_background_render_does_not_bring_back_an_evicted_feed() -> None:
    """A refresh that ends after its feed was evicted keeps nothing: the feed used since
    stays cached (under load, the refresh used to push it out)."""
    cache = FeedCache(max_age=0, max_stale=60, entries=1)
    gate, done = threading.Event(), threading.Event()

    def slow() -> bytes:
        gate.wait(10)
        done.set()
        return b"late"

    cache.get("old", lambda: b"v1", slow)
    cache.get("old", lambda: b"never", slow)  # stale: the refresh starts, held at the gate
    cache.get("new", lambda: b"fresh", lambda: b"fresh")  # evicts "old"
    gate.set()
    assert done.wait(10)
    time.sleep(0.05)  # the refresh thread stores (or not) right after rendering
    assert cache.get("new", lambda: b"re-rendered", lambda: b"x").body == b"fresh"
    assert cache.get("old", lambda: b"cold", lambda: b"x").body == b"cold"
