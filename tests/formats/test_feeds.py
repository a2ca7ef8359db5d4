"""Public schedule feeds: published events only, public fields only, cheap to poll."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.api.feeds import clear_feed_cache
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
