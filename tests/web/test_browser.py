"""The organizer pages in a real Chromium against a real server and Celery worker.

One server per test module (``eventport web`` + ``eventport worker`` subprocesses on a free
127.0.0.1 port, a temporary SQLite database and file:// storage, the demo event loaded):
the same processes an operator runs. The worker reads media slowly (see
``slow_worker.py``) so that an export takes a few seconds and the page's progress bar can
be seen moving and resumed after a reload.

Every page fails its test on a browser console error or an uncaught page error.
Screenshots of the Export tab (in progress, done, failed; desktop and phone widths) go
to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pyrage
import pytest

from tests.sample_data import DATA
from tests.web.live import DESKTOP, PHONE, LiveServer, screenshot, start_live_server
from tests.web.live import sign_in as live_sign_in

pytestmark = pytest.mark.xdist_group("web-browser")

OPEN_EVENT_SAMPLE = DATA / "open-event" / "FOSSASIASummit2016"
DEMO_EMAIL = "demo@eventport.example"
DEMO_PASSWORD = "eventport-demo"
STRANGER_EMAIL = "stranger@eventport.example"
STRANGER_PASSWORD = "stranger-password"
MEDIA_DELAY = "0.15"  # seconds per media chunk in the worker: ~6 s for the demo's media
TERMINAL = ("succeeded", "failed", "cancelled", "expired")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    def prepare(server: LiveServer) -> None:
        server.cli("demo")
        server.cli("users", "create", "--email", STRANGER_EMAIL, "--password",
                   STRANGER_PASSWORD)

    base = tmp_path_factory.mktemp("live")
    server = start_live_server(base, {"EVENTPORT_TEST_MEDIA_DELAY": MEDIA_DELAY}, prepare)
    try:
        yield server
    finally:
        server.stop()


def sign_in(page, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> None:
    live_sign_in(page, email, password)


def open_export_tab(page) -> int:
    """From the events list: the demo event, then its Export tab; returns the event id."""
    page.get_by_role("link", name="EventCon 2026").click()
    page.wait_for_url(re.compile(r".*/events/\d+$"))
    event_id = int(page.url.rsplit("/", 1)[1])
    page.get_by_role("navigation", name="Event").get_by_role("link", name="Export").click()
    page.wait_for_url(f"**/events/{event_id}/export")
    page.wait_for_load_state("networkidle")
    return event_id


def choose_media(page, kinds: set[str]) -> None:
    page.get_by_label("Format").select_option("archive")
    for kind in ("image", "document", "audio", "video"):
        page.locator(f"#media-{kind}").set_checked(kind in kinds)


def job_state(page) -> tuple[str | None, str | None, int, int]:
    return page.evaluate("""() => {
        const p = document.getElementById('job-panel');
        return [p.hidden ? null : p.dataset.jobId || null, p.dataset.state || null,
                Number(p.dataset.done || 0), Number(p.dataset.total || 0)];
    }""")


def start_export(page, press: Callable[[], None] | None = None) -> str:
    """Press Export and wait until the panel follows the new job (not the last one shown)."""
    before = job_state(page)[0]
    if press is None:
        page.get_by_role("button", name="Export", exact=True).click()
    else:
        press()
    page.wait_for_function(
        "before => { const p = document.getElementById('job-panel');"
        " return !p.hidden && p.dataset.jobId && p.dataset.jobId !== before; }", arg=before)
    job_id = job_state(page)[0]
    assert job_id
    return job_id


def follow_job(page, until: Callable[[str | None, int], bool], timeout: float = 60
               ) -> list[tuple[str | None, int, int]]:
    """Sample the panel every 100 ms until ``until(state, done)``; returns what was seen."""
    seen: list[tuple[str | None, int, int]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, state, done, total = job_state(page)
        if not seen or seen[-1] != (state, done, total):
            seen.append((state, done, total))
        if until(state, done):
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"job did not get there in {timeout} s; saw {seen}")


def verify_archive(path: Path) -> dict:
    """The zip is intact and every file matches the size and SHA-256 in its manifest."""
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["format"] == "eventport-archive"
        listed = {entry["path"] for entry in manifest["files"]}
        assert listed == set(archive.namelist()) - {"manifest.json"}
        for entry in manifest["files"]:
            data = archive.read(entry["path"])
            assert len(data) == entry["size"], entry["path"]
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
    return manifest


def test_export_with_progress_download_and_verified_manifest(open_page, tmp_path: Path) -> None:
    page = open_page(DESKTOP)
    sign_in(page)
    open_export_tab(page)
    choose_media(page, {"image", "document"})
    assert "Estimated size" in page.locator("#estimate").inner_text()
    start_export(page)

    shot: list[bool] = []

    def running_with_progress(state: str | None, done: int) -> bool:
        if state == "running" and done > 0 and not shot:
            screenshot(page, "export-in-progress-desktop")
            shot.append(True)
        return state in TERMINAL

    seen = follow_job(page, running_with_progress)
    assert seen[-1][0] == "succeeded", seen
    media_progress = [done for state, done, _ in seen if state == "running" and done > 0]
    assert len(media_progress) >= 2 and media_progress == sorted(media_progress), seen
    assert shot, f"never saw the job running with progress: {seen}"

    download_button = page.get_by_role("button", name=re.compile(r"^Download"))
    assert download_button.is_enabled()
    sha_shown = page.locator("#job-sha").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", sha_shown)
    assert page.locator("#job-size").inner_text().strip()
    page.wait_for_selector("#history tbody tr[data-state='succeeded']")
    screenshot(page, "export-done-desktop")

    with page.expect_download() as info:
        download_button.click()
    target = tmp_path / "export.zip"
    info.value.save_as(target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == sha_shown
    manifest = verify_archive(target)
    paths = [entry["path"] for entry in manifest["files"]]
    assert any(p.startswith("media/images/") for p in paths)
    assert any(p.startswith("media/documents/") for p in paths)
    assert not any(p.startswith(("media/audio/", "media/video/")) for p in paths)


def test_public_encrypted_export_from_the_tab(open_page, tmp_path: Path) -> None:
    """Profile and recipients on the Export tab: the download is an age file only the key
    holder opens, holding a public archive without any speaker's e-mail address."""
    identity = pyrage.x25519.Identity.generate()
    page = open_page(DESKTOP)
    sign_in(page)
    event_id = open_export_tab(page)
    choose_media(page, {"image"})
    page.get_by_label("Profile").select_option("public")
    page.get_by_label("Encrypt to (age public keys, one per line)").fill(
        f"  {identity.to_public()}  \n\n")
    job_id = start_export(page)
    follow_job(page, lambda state, done: state in TERMINAL)
    assert job_state(page)[1] == "succeeded"
    row = page.locator(f"#history tbody tr[data-job-id='{job_id}']")
    assert "public profile" in row.inner_text() and "encrypted" in row.inner_text()

    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(r"^Download")).click()
    assert info.value.suggested_filename.endswith(".zip.age")
    sealed = tmp_path / "export.zip.age"
    info.value.save_as(sealed)
    plain = tmp_path / "export.zip"
    plain.write_bytes(pyrage.decrypt(sealed.read_bytes(), [identity]))
    manifest = verify_archive(plain)
    assert manifest["profile"] == "public"
    speakers = page.request.get(f"/api/v1/events/{event_id}/speakers?per_page=100").json()
    emails = {s["email"] for s in speakers["items"] if s.get("email")}
    assert emails, "the demo's speakers have e-mail addresses to leave out"
    content = plain.read_bytes()
    assert not [email for email in emails if email.encode() in content]


def test_reload_mid_export_resumes_the_progress_bar(open_page) -> None:
    page = open_page(PHONE)
    sign_in(page)
    open_export_tab(page)
    choose_media(page, {"image"})
    start_export(page)
    seen = follow_job(page, lambda state, done: (state == "running" and done > 0)
                      or state in TERMINAL)
    job_id, state, done_before, _ = job_state(page)
    assert state == "running", f"the export finished before the test could reload: {seen}"
    screenshot(page, "export-in-progress-phone")

    page.reload()
    page.wait_for_function("() => !document.getElementById('job-panel').hidden")
    resumed_id, resumed_state, done_after, _ = job_state(page)
    assert resumed_id == job_id
    assert resumed_state in ("running", "succeeded")
    assert done_after >= done_before
    assert page.locator("#job-progress").is_visible()
    seen = follow_job(page, lambda state, done: state in TERMINAL)
    assert seen[-1][0] == "succeeded", seen
    assert page.get_by_role("button", name=re.compile(r"^Download")).is_enabled()
    screenshot(page, "export-done-phone")


def test_failed_export_shows_its_reason(open_page, live_server: LiveServer) -> None:
    page = open_page(DESKTOP)
    sign_in(page)
    event_id = open_export_tab(page)
    # A file where the event's exports folder belongs: the storage write fails for real
    # (even for root, unlike a permission change), and nothing else is touched.
    exports_dir = live_server.storage_root / "events" / str(event_id) / "exports"
    parked = exports_dir.with_name("exports-parked")
    if exports_dir.exists():
        exports_dir.rename(parked)
    exports_dir.write_text("not a folder")
    try:
        choose_media(page, {"document"})
        start_export(page)
        seen = follow_job(page, lambda state, done: state in TERMINAL)
    finally:
        exports_dir.unlink()
        if parked.exists():
            parked.rename(exports_dir)
    assert seen[-1][0] == "failed", seen
    error = page.get_by_role("alert").filter(has_text="Reason:")
    assert error.is_visible()
    assert len(error.inner_text()) > len("Reason: ") + 5
    assert page.get_by_role("button", name=re.compile(r"^Download")).is_disabled()
    page.wait_for_selector("#history tbody tr[data-state='failed']")
    screenshot(page, "export-failed-desktop")

    phone = open_page(PHONE)
    sign_in(phone)
    phone.goto(f"/events/{event_id}/export")
    phone.wait_for_selector("#job-panel[data-state='failed']")
    assert phone.get_by_role("alert").filter(has_text="Reason:").is_visible()
    screenshot(phone, "export-failed-phone")


def test_history_pin_and_delete(open_page) -> None:
    page = open_page(DESKTOP)
    sign_in(page)
    open_export_tab(page)
    page.get_by_label("Format").select_option("ical")
    assert page.locator("#media-fieldset").evaluate("fieldset => fieldset.disabled")
    start_export(page)
    follow_job(page, lambda state, done: state in TERMINAL)
    row = page.locator("#history tbody tr").first
    row.get_by_role("button", name="Pin").click()
    page.wait_for_selector("#history tbody tr:first-child .pin")
    row = page.locator("#history tbody tr").first
    assert row.get_by_role("button", name="Unpin").get_attribute("aria-pressed") == "true"
    job_id = row.get_attribute("data-job-id")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=re.compile("^Delete")).click()
    # The deleted export leaves the table for the folded "Deleted or expired" list.
    page.wait_for_selector(f"#deleted-jobs li[data-job-id='{job_id}']", state="attached")
    assert page.locator(f"#history tbody tr[data-job-id='{job_id}']").count() == 0
    assert page.locator("#deleted-jobs summary").inner_text().startswith("Deleted or expired")


def build_open_event_zip(target: Path) -> str:
    """An Open Event export zip (its JSON files in one folder) from the shared sample."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(OPEN_EVENT_SAMPLE.glob("*.json")):
            archive.write(path, f"FOSSASIASummit2016/{path.name}")
    return json.loads((OPEN_EVENT_SAMPLE / "event.json").read_text())["name"]


def test_import_open_event_zip_with_dry_run_leads_to_the_event(open_page, tmp_path: Path
                                                                ) -> None:
    """Dry run, plan, warnings grouped and counted, Apply: the file crosses the network
    exactly once (every POST the page sends is counted, with its content type: Chromium
    does not hand multipart bodies to the page's observers, so a size cannot be read)."""
    upload = tmp_path / "open-event.zip"
    name = build_open_event_zip(upload)
    page = open_page(DESKTOP)
    sign_in(page)
    posts: list[tuple[str, str]] = []
    page.on("request", lambda request: posts.append(
        (request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0],
         request.headers.get("content-type", "").split(";")[0])
    ) if request.method == "POST" else None)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    page.get_by_label("File", exact=True).set_input_files(str(upload))
    page.get_by_label("Format").select_option("open-event")
    page.get_by_label("Time zone").select_option("Europe/Brussels")
    page.get_by_label("Dry run").check()
    page.get_by_role("button", name="Upload").click()
    apply = page.get_by_role("button", name="Apply this plan: create the event")
    apply.wait_for(state="visible", timeout=60_000)
    assert page.locator("#upload-progress").evaluate("bar => bar.value === bar.max")
    assert page.locator("#import-plan").is_visible()
    counts = page.locator("#import-result tbody tr")
    assert counts.count() > 0
    assert "session" in page.locator("#import-result").inner_text().lower()
    check_warnings(page)
    screenshot(page, "import-dry-run-desktop")
    apply.click()
    link = page.locator("#import-event-link")
    link.wait_for(state="visible", timeout=60_000)
    uploads = [(path, kind) for path, kind in posts if path.startswith("api/v1/imports")]
    assert [path for path, _ in uploads] == [
        "api/v1/imports", f"api/v1/imports/{uploads[1][0].split('/')[3]}/apply"], uploads
    assert [kind for _, kind in uploads] == ["multipart/form-data", ""], uploads  # one upload
    assert [kind for _, kind in posts].count("multipart/form-data") == 1, posts
    link.click()
    page.wait_for_url(re.compile(r".*/events/\d+$"))
    assert page.get_by_role("heading", level=1).inner_text() == name
    screenshot(page, "imported-event-overview-desktop")
    page.goto("/import")
    history = page.locator("table.import-history tbody tr")
    assert "dry run" in history.nth(1).inner_text() and "applied" in history.nth(1).inner_text()


def test_apply_a_kept_dry_run_from_the_history(open_page, live_server: LiveServer) -> None:
    """A dry run finished earlier (the page reloaded since): its history row offers Apply
    while the upload is kept; applying follows the new job in the panel. Then the same
    file as a new event again: 409 at once, with a link to update the event instead."""
    schedule = DATA / "schedules" / "pretalx-fixture-frab_schedule_minimal_2.xml"
    page = open_page(DESKTOP, allow=("status of 409",))  # the refused upload, on purpose
    sign_in(page)
    page.goto("/import")
    page.get_by_label("File", exact=True).set_input_files(str(schedule))
    page.get_by_label("Dry run").check()
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("button", name="Apply this plan: create the event").wait_for(
        state="visible", timeout=60_000)
    page.reload()
    apply = page.get_by_role("button", name=f"Apply the dry run of {schedule.name}")
    assert "until" in page.locator("table.import-history tbody tr").first.inner_text()
    apply.click()
    link = page.locator("#import-event-link")
    link.wait_for(state="visible", timeout=60_000)
    link.click()
    assert page.get_by_role("heading", level=1).inner_text() == "PrivacyWeek 2016"
    page.goto("/import")
    assert page.get_by_role("button", name=f"Apply the dry run of {schedule.name}").count() == 0
    # The same file again, for a new event: refused at once (409), with the way out.
    page.get_by_label("File", exact=True).set_input_files(str(schedule))
    page.get_by_role("button", name="Upload").click()
    error = page.locator("#import-error")
    error.wait_for(state="visible", timeout=30_000)
    assert "already has this source's uuid" in error.inner_text()
    error.get_by_role("link", name="Update “PrivacyWeek 2016” from this file instead").click()
    page.wait_for_url("**/import?update=*")
    assert page.get_by_label("Import into").input_value() != ""


def check_warnings(page) -> None:
    """'N warnings of K kinds', one foldable entry per kind with its count, the format
    beside them, and the zone the file names winning over the one chosen."""
    box = page.locator("#import-warnings")
    heading = box.get_by_role("heading").inner_text()
    match = re.fullmatch(r"(\d+) warnings? of (\d+) kinds?", heading)
    assert match, heading
    kinds = box.locator("li.warning-kind")
    assert kinds.count() == int(match[2])
    assert sum(int(k.get_attribute("data-count")) for k in kinds.all()) == int(match[1])
    assert box.locator("#import-warnings-format").inner_text() == (
        "Format: Open Event export (.zip)")
    zone = kinds.filter(has_text="it wins over Europe/Brussels")
    zone.locator("summary").click()
    assert zone.locator("details ul li").first.is_visible()
    assert "names its time zone, Asia/Singapore" in zone.inner_text()


def test_stranger_gets_404_on_the_export_tab(open_page) -> None:
    page = open_page(DESKTOP, allow=("404",))
    sign_in(page, STRANGER_EMAIL, STRANGER_PASSWORD)
    assert page.get_by_text("You have no role on any event yet").is_visible()
    response = page.goto("/events/1/export")
    assert response is not None and response.status == 404
    assert "404" in page.get_by_role("heading", level=1).inner_text()
    api = page.request.get("/api/v1/events/1/exports")
    assert api.status == 404


def test_export_tab_works_from_the_keyboard_and_labels_every_control(open_page) -> None:
    page = open_page(PHONE)
    sign_in(page)
    event_id = open_export_tab(page)
    unlabeled = page.evaluate("""() => Array.from(
        document.querySelectorAll('input:not([type=hidden]), select, textarea'))
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.id || el.name)""")
    assert unlabeled == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Keyboard only: reach the format select, pick a schedule format, press Export.
    page.locator("#format").focus()
    page.keyboard.press("End")  # last format in the list: a schedule format, no media
    assert page.locator("#format").input_value() != "archive"
    page.keyboard.press("Tab")  # the media fieldset is disabled, so Export is next
    assert page.evaluate("document.activeElement.id") == "export-button"
    start_export(page, lambda: page.keyboard.press("Enter"))
    follow_job(page, lambda state, done: state in TERMINAL)
    assert job_state(page)[1] == "succeeded"
    assert page.url.split("#")[0].endswith(f"/events/{event_id}/export")  # no navigation
