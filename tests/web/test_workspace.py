"""The organizer workspace in a real Chromium, on a server reached on a non-default port
with no EVENTPORT_BASE_URL: every link must use the address the browser used.

An organizer signs in, creates an event, adds a room, a track, a speaker with a photo and
two sessions (one with slides), publishes, reads schedule.xml from the address the Feeds
panel shows, invites a co-organizer whose e-mailed link sets a password and lands on the
event, exports with images and downloads it. Then: keyboard only at 390 px, and the
schedule view of a 70-room, 1,000-talk event. Screenshots of every page at 1,280 and
390 px go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from PIL import Image

from tests.support.smtp import Inbox, free_port
from tests.web.live import DESKTOP, PHONE, LiveServer, screenshot, sign_in, start_live_server

pytestmark = pytest.mark.xdist_group("web-browser")

ORGANIZER = "ada@conf.example"
ORGANIZER_PASSWORD = "organizer-password"
BIG_OWNER = "big@conf.example"
COORG = "grace@conf.example"
TERMINAL = ("succeeded", "failed", "cancelled", "expired")
BIG_EVENT = """
import datetime as dt, random, sys
from eventport.db import session_scope
from eventport.accounts.models import User
from eventport.events import service
from eventport.events.models import Microlocation, ProgramSession, Speaker, Track
with session_scope() as db:
    owner = db.query(User).filter_by(email=sys.argv[1]).one()
    start = dt.datetime(2026, 12, 27, 10, tzinfo=dt.UTC)
    event = service.create_event(db, owner, {"name": "Congress 70x1000", "starts_at": start,
        "ends_at": start + dt.timedelta(days=3, hours=14), "timezone": "Europe/Berlin"})
    rooms = [Microlocation(event_id=event.id, name=f"Hall {i + 1:02d}", position=i)
             for i in range(70)]
    tracks = [Track(event_id=event.id, name=f"Track {i + 1}") for i in range(8)]
    people = [Speaker(event_id=event.id, name=f"Speaker {i:04d}") for i in range(400)]
    db.add_all(rooms + tracks + people)
    db.flush()
    rng = random.Random(70)
    for n in range(1000):
        room, day = rooms[n % 70], (n // 70) % 4
        slot = (n // 280) * 2 + rng.randrange(0, 2)
        begins = start + dt.timedelta(days=day, hours=slot * 1.5)
        db.add(ProgramSession(event_id=event.id, title=f"Talk {n:04d} on topic {n % 37}",
            starts_at=begins, ends_at=begins + dt.timedelta(minutes=rng.choice([30, 45, 60, 80])),
            microlocation_id=room.id, track_id=tracks[n % 8].id, state="accepted",
            speakers=[people[n % 400], people[(n + 200) % 400]]))
    print(event.id)
"""


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Inbox]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.url = f"smtp://127.0.0.1:{controller.port}"
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, mailbox: Inbox
                ) -> Iterator[LiveServer]:
    def prepare(server: LiveServer) -> None:
        server.cli("users", "create", "--email", ORGANIZER, "--password", ORGANIZER_PASSWORD)
        server.cli("users", "create", "--email", BIG_OWNER, "--password", ORGANIZER_PASSWORD)

    base = tmp_path_factory.mktemp("workspace")
    # No EVENTPORT_BASE_URL: links must come from the address the requests reach.
    server = start_live_server(base, {"EVENTPORT_SMTP_URL": mailbox.url,
                                      "EVENTPORT_TEST_MEDIA_DELAY": "0"}, prepare)
    try:
        yield server
    finally:
        server.stop()


def both_widths(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Screenshots at 1,280 and 390 px; the page must not scroll sideways on a phone."""
    page.set_viewport_size(DESKTOP)
    screenshot(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, f"{name}-390")
    page.set_viewport_size(DESKTOP)
    assert overflow <= PHONE["width"], f"{name} is {overflow} px wide on a phone"


def fill_form(page, values: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for label, value in values.items():
        field = page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))
        tag = field.evaluate("el => el.tagName")
        if tag == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)


def create(page, event_id: int, resource: str, values: dict[str, str], button: str
           ) -> int:  # type: ignore[no-untyped-def]
    page.goto(f"/events/{event_id}/program/{resource}/new")
    fill_form(page, values)
    page.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(rf".*/program/{resource}/\d+\?saved=1$"))
    return int(page.url.split("?")[0].rsplit("/", 1)[1])


def upload(page, slot: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():  # the page reloads once the file is stored
        page.locator(f"#slot-{slot}-file").set_input_files(str(path))
    assert page.locator(f"#slot-{slot}-state a").inner_text() == "Current file"


def media_files(tmp: Path) -> tuple[Path, Path]:
    photo = tmp / "ada.png"
    Image.new("RGB", (64, 64), (30, 90, 160)).save(photo)
    slides = tmp / "slides.pdf"
    slides.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    return photo, slides


def create_event(page) -> int:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="New event").click()
    page.wait_for_url("**/events/new")
    both_widths(page, "event-new")
    page.get_by_role("button", name="Create event").click()  # empty: errors next to fields
    error = page.locator('[data-field="name"] .field-error')
    error.wait_for()
    assert error.inner_text() == "This cannot be empty."
    starts_error = page.locator('[data-field="starts_at"] .field-error')
    assert starts_error.inner_text() == "This is required."
    fill_form(page, {"Name": "Browser Conf 2027", "Starts": "2027-03-05T09:00",
                     "Ends": "2027-03-06T18:00", "Time zone": "Europe/Berlin",
                     "Identifier (in feed URLs)": "browser-conf-2027"})
    page.get_by_role("button", name="Create event").click()
    page.wait_for_url(re.compile(r".*/events/\d+$"))
    both_widths(page, "event-overview")
    return int(page.url.rsplit("/", 1)[1])


def build_program(page, event_id: int, tmp: Path) -> None:  # type: ignore[no-untyped-def]
    photo, slides = media_files(tmp)
    create(page, event_id, "microlocations", {"Name": "Room Lovelace"}, "Create room")
    create(page, event_id, "tracks", {"Name": "Storage"}, "Create track")
    create(page, event_id, "speakers", {"Name": "Ada Lovelace", "E-mail": "ada@example.org"},
           "Create speaker")
    upload(page, "photo", photo)
    both_widths(page, "speaker-edit")
    page.goto(f"/events/{event_id}/program/sessions/new")
    fill_form(page, {"Title": "Streams", "Starts": "2027-03-09T10:00", "Ends": "2027-03-09T11:00"})
    page.get_by_role("button", name="Create session").click()  # outside the event's dates
    error = page.locator('[data-field="starts_at"] .field-error')
    error.wait_for()
    assert "outside the event's dates" in error.inner_text()
    both_widths(page, "session-new-error")
    common = {"Room": "Room Lovelace", "Track": "Storage", "State": "Accepted"}
    create(page, event_id, "sessions", {"Title": "Archives that travel", "Starts":
           "2027-03-05T10:00", "Ends": "2027-03-05T10:45", **common}, "Create session")
    page.get_by_label("Ada Lovelace").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save changes").click()
    assert page.get_by_label("Ada Lovelace").is_checked()
    upload(page, "slides", slides)
    both_widths(page, "session-edit")
    create(page, event_id, "sessions", {"Title": "Feeds for every app", "Starts":
           "2027-03-06T14:00", "Ends": "2027-03-06T14:30", **common}, "Create session")
    page.goto(f"/events/{event_id}/program/sessions")
    both_widths(page, "program-sessions")
    page.goto(f"/events/{event_id}/schedule")
    both_widths(page, "schedule-small")


def publish_and_read_feed(page, event_id: int, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/events/{event_id}/settings")
    both_widths(page, "event-settings")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_selector("text=This event is published")
    page.get_by_role("navigation", name="Event").get_by_role("link", name="Feeds").click()
    assert "Public" in page.locator("#feed-status").inner_text()
    url = page.locator("#feed-xml").input_value()
    assert url == f"{server.url}/api/v1/events/browser-conf-2027/schedule.xml"
    page.locator("[data-copy=feed-xml]").click()
    page.wait_for_selector("#copy-status:has-text('Copied')")
    both_widths(page, "event-feeds")
    with urllib.request.urlopen(url, timeout=10) as response:  # as an app would
        xml = response.read().decode()
    assert "Archives that travel" in xml and "Feeds for every app" in xml


def invite_coorganizer(page, open_page, event_id: int, mailbox: Inbox,
                       server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/events/{event_id}/team")
    page.get_by_label("E-mail").fill(COORG)
    page.get_by_label("Role", exact=True).select_option("coorganizer")
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_selector(f"text={COORG} as coorganizer")
    both_widths(page, "event-team")
    link = mailbox.link(COORG, r"http://\S+/invitations/\S+")
    assert link.startswith(f"{server.url}/invitations/")
    guest = open_page(DESKTOP, allow=("status of 403",))  # the Settings page is refused
    guest.goto(link)
    both_widths(guest, "invitation")
    guest.get_by_label("Choose a password").fill("grace-password")
    guest.get_by_role("button", name="Accept and open the event").click()
    guest.wait_for_url(f"**/events/{event_id}")
    assert "Your role: coorganizer" in guest.locator(".page-head").inner_text()
    tabs = guest.get_by_role("navigation", name="Event")
    assert tabs.get_by_role("link", name="Settings").count() == 0  # not theirs to change
    assert guest.goto(f"/events/{event_id}/settings").status == 403


def export_and_download(page, event_id: int, server: LiveServer, mailbox: Inbox,
                        tmp: Path) -> Path:  # type: ignore[no-untyped-def]
    page.goto(f"/events/{event_id}/export")
    page.wait_for_load_state("networkidle")
    for kind in ("image", "document", "audio", "video"):
        page.locator(f"#media-{kind}").set_checked(kind in ("image", "document"))
    page.get_by_role("button", name="Export", exact=True).click()
    page.wait_for_function("() => ['succeeded', 'failed'].includes("
                           "document.getElementById('job-panel').dataset.state)", timeout=60_000)
    assert page.locator("#job-panel").get_attribute("data-state") == "succeeded"
    both_widths(page, "event-export")
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("^Download")).click()
    target = tmp / "export.zip"
    info.value.save_as(target)
    assert info.value.url.startswith(server.url)  # the port the browser used
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
    assert any(n.startswith("media/images/") for n in names), names
    body = mailbox.to(ORGANIZER)[-1].get_content()
    fresh = re.search(r"http://\S+/events/\d+/export\?job=\S+", body)
    assert fresh and fresh.group(0).startswith(server.url), body
    assert re.search(re.escape(server.url) + r"/api/v1/files/\S+", body), body
    page.goto(fresh.group(0))  # a page, not JSON
    page.wait_for_selector("#job-panel[data-state='succeeded']")
    return target


def import_as_update(page, event_id: int, archive: Path) -> None:  # type: ignore[no-untyped-def]
    """Restore from the downloaded archive: rename a session, import the archive as an
    update of the event, see the plan (one session updated) first, apply, name is back.

    (Another event on the same server cannot take the archive's uuids; identity refuses
    that and says to use mode=copy.)"""
    page.goto(f"/events/{event_id}/program/sessions")
    page.get_by_role("link", name="Feeds for every app").click()
    page.get_by_label(re.compile(r"^Title")).fill("Renamed by mistake")
    with page.expect_navigation():
        page.get_by_role("button", name="Save changes").click()
    page.goto(f"/events/{event_id}")
    page.get_by_role("link", name="Update from a file").click()
    page.wait_for_url("**/import?update=*")
    assert page.get_by_label("Import into").input_value() == str(event_id)
    page.get_by_label("File", exact=True).set_input_files(str(archive))
    page.get_by_role("button", name="Upload").click()
    apply = page.get_by_role("button", name=re.compile("^Apply this plan"))
    apply.wait_for(state="visible", timeout=60_000)
    plan = page.locator("#import-plan")
    sessions = plan.locator("tbody tr").filter(has_text="sessions")
    assert [c.inner_text() for c in sessions.locator("td").all()] == ["0", "1", "0", "1"]
    both_widths(page, "import-update-plan")
    apply.click()
    link = page.locator("#import-event-link")
    link.wait_for(state="visible", timeout=60_000)
    page.goto(f"/events/{event_id}/program/sessions")
    assert page.get_by_role("link", name="Feeds for every app").count() == 1
    page.goto("/import")
    both_widths(page, "import")


def test_organizer_builds_publishes_shares_and_exports_an_event(
        open_page, live_server: LiveServer, mailbox: Inbox, tmp_path: Path) -> None:
    # The form tests provoke validation errors on purpose: those 422s are expected.
    page = open_page(DESKTOP, allow=("status of 422",))
    sign_in(page, ORGANIZER, ORGANIZER_PASSWORD)
    both_widths(page, "events")
    event_id = create_event(page)
    build_program(page, event_id, tmp_path)
    publish_and_read_feed(page, event_id, live_server)
    invite_coorganizer(page, open_page, event_id, mailbox, live_server)
    archive = export_and_download(page, event_id, live_server, mailbox, tmp_path)
    import_as_update(page, event_id, archive)
    backups_and_audit(page, event_id)
    page.goto("/account")
    both_widths(page, "account")


def backups_and_audit(page, event_id: int) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/events/{event_id}/backups")
    page.get_by_label(re.compile(r"^Schedule \(cron\)")).fill("30 2 * * *")
    page.get_by_label("Keep the last").fill("4")
    with page.expect_navigation():
        page.get_by_role("button", name="Save policy").click()
    assert page.locator("#next-run").inner_text().strip() not in ("", "—")
    assert page.get_by_label(re.compile(r"^Schedule \(cron\)")).input_value() == "30 2 * * *"
    both_widths(page, "event-backups")
    page.get_by_role("navigation", name="Event").get_by_role("link", name="Audit log").click()
    table = page.locator(".audit-table")
    assert "backup_policy.updated" in table.inner_text()
    assert "export.requested" in table.inner_text()
    both_widths(page, "event-audit")


def tab_to(page, element_id: str, limit: int = 12) -> None:  # type: ignore[no-untyped-def]
    """Press Tab until ``element_id`` has the focus (keyboard only, as a person would)."""
    for _ in range(limit):
        if page.evaluate("document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


def test_keyboard_only_on_a_phone(open_page, live_server: LiveServer) -> None:
    page = open_page(PHONE)
    sign_in(page, ORGANIZER, ORGANIZER_PASSWORD)
    page.goto("/events/new")
    unlabeled = page.evaluate("""() => Array.from(document.querySelectorAll(
        'input:not([type=hidden]):not([hidden]), select, textarea'))
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.id || el.name)""")
    assert unlabeled == []
    page.locator("#f-name").focus()
    page.keyboard.type("Keyboard Camp")
    tab_to(page, "f-starts_at")  # past the identifier: left empty, generated
    page.keyboard.type("05052027")
    page.keyboard.press("Tab")
    page.keyboard.type("0900AM")
    assert page.locator("#f-starts_at").input_value() == "2027-05-05T09:00", \
        page.locator("#f-starts_at").input_value()
    tab_to(page, "f-ends_at")
    page.keyboard.type("05052027")
    page.keyboard.press("Tab")
    page.keyboard.type("0600PM")
    page.keyboard.press("Enter")  # submits the form from any field
    page.wait_for_url(re.compile(r".*/events/\d+$"))
    event_id = int(page.url.rsplit("/", 1)[1])
    page.goto(f"/events/{event_id}/program/tracks/new")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.locator("#f-name").focus()
    page.keyboard.type("Keyboards")
    while page.evaluate("document.activeElement.textContent") != "Create track":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/program/tracks/\d+\?saved=1$"))
    assert page.locator("#f-name").input_value() == "Keyboards"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_schedule_of_70_rooms_and_1000_talks(open_page, live_server: LiveServer) -> None:
    event_id = int(live_server.cli_python(BIG_EVENT, BIG_OWNER).strip())
    page = open_page(DESKTOP)
    sign_in(page, BIG_OWNER, ORGANIZER_PASSWORD)
    started = dt.datetime.now()
    page.goto(f"/events/{event_id}/schedule")
    seconds = (dt.datetime.now() - started).total_seconds()
    assert page.locator(".tt-slot").count() == 1000
    first_day = page.locator(".schedule-day").first
    assert first_day.locator(".tt-room").count() == 70
    wrap = first_day.locator(".timetable-wrap")
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")  # rooms scroll sideways
    wrap.evaluate("el => { el.scrollLeft = 2000; el.scrollTop = 300; }")
    header = first_day.locator(".tt-room").nth(20).bounding_box()
    box = wrap.bounding_box()
    assert header and box and abs(header["y"] - box["y"]) < 3  # headers stay on top
    slot = first_day.locator(".tt-slot").first
    assert re.match(r"\d\d:\d\d–\d\d:\d\d", slot.locator(".tt-time").inner_text())
    assert slot.locator(".tt-speakers").inner_text().startswith("Speaker ")
    colours = set(page.eval_on_selector_all(
        ".legend .swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)"))
    assert len(colours) == 8  # every track its own colour
    screenshot(page, "schedule-70-rooms-1280")
    page.set_viewport_size(PHONE)
    assert page.locator(".agenda").first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "schedule-70-rooms-390")
    slot_href = page.locator(".agenda a").first.get_attribute("href")
    assert slot_href and re.search(r"/program/sessions/\d+$", slot_href)
    assert seconds < 15, f"the 1,000-talk schedule took {seconds:.1f} s"
