"""Every endpoint docs/DESIGN.md names exists with each documented method.

The endpoints are read from DESIGN itself (each backquoted ``METHOD[|METHOD…] /path``),
so a line added to the contract is checked without anyone remembering to; the shorthand
DESIGN uses for families (``…/sessions|speakers|…``, ``…/webhooks/{id}``) is spelled out
below.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Match

from eventport.events.resources import PROGRAM

DESIGN = Path(__file__).resolve().parents[2] / "docs" / "DESIGN.md"
ENDPOINT = re.compile(r"`((?:GET|POST|PUT|PATCH|DELETE)(?:\|(?:GET|POST|PUT|PATCH|DELETE))*)"
                      r" (/[^` ]+)")
EVENT = "/api/v1/events/{event_id}"
SHORTHAND = [
    *((f"{EVENT}/{r.name}", ("GET", "POST")) for r in PROGRAM),
    *((f"{EVENT}/{r.name}/{{id}}", ("GET", "PATCH", "DELETE")) for r in PROGRAM),
    *((f"{EVENT}/{path}", ("PUT", "GET", "DELETE")) for path in (
        "speakers/{id}/photo", "sponsors/{id}/logo", "sessions/{id}/slides",
        "sessions/{id}/audio", "sessions/{id}/video", "logo", "background")),
    (f"{EVENT}/webhooks/{{id}}", ("DELETE",)),
    (f"{EVENT}/webhooks/{{id}}/deliveries", ("GET",)),
    (f"{EVENT}/invitations/{{id}}", ("DELETE",)),
]


def documented() -> list[tuple[str, tuple[str, ...]]]:
    text = DESIGN.read_text(encoding="utf-8").replace("\n  ", " ")
    found = [(m.group(2), tuple(m.group(1).split("|"))) for m in ENDPOINT.finditer(text)]
    assert len(found) > 20, "DESIGN's endpoint list was not found"
    return found + SHORTHAND


def concrete(path: str) -> str:
    """A path a client could send: every ``{param}`` or ``<param>`` becomes ``1``."""
    return re.sub(r"\{[^}]+\}|<[^>]+>", "1", path.split("?")[0])


def test_every_documented_endpoint_exists(client: TestClient) -> None:
    routes = client.app.router.routes  # type: ignore[attr-defined]
    missing = []
    for path, methods in documented():
        for method in methods:
            scope = {"type": "http", "path": concrete(path), "method": method}
            if not any(route.matches(scope)[0] == Match.FULL for route in routes):
                missing.append(f"{method} {path}")
    assert not missing


def test_every_documented_variable_is_a_setting_with_its_documented_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from eventport.config import Settings

    text = DESIGN.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"EVENTPORT_[A-Z_]+", section))
    assert len(names) >= 11
    for name in names:
        monkeypatch.delenv(name, raising=False)
    fields = Settings.model_fields
    assert {n.removeprefix("EVENTPORT_").lower() for n in names} <= set(fields)
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (defaults.export_keep_last, defaults.export_max_age_days,
            defaults.download_url_ttl, defaults.storage_retry_seconds,
            defaults.webhook_allow_private, defaults.smtp_url) == (5, 30, 900, 60, False, None)
    assert defaults.database_url == "sqlite:///./data/eventport.db"  # "Two modes" table
    assert defaults.storage_url == "file://./data/storage"
    monkeypatch.setenv("EVENTPORT_EXPORT_KEEP_LAST", "7")
    monkeypatch.setenv("EVENTPORT_WEBHOOK_ALLOW_PRIVATE", "true")
    read = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (read.export_keep_last, read.webhook_allow_private) == (7, True)


def test_only_the_documented_exceptions_answer_without_a_token(client: TestClient) -> None:
    """DESIGN: every call takes a bearer token except the few it names."""
    exceptions = ("/api/v1/health", "/api/v1/auth/token", "/api/v1/events/{identifier}/",
                  "/api/v1/files/", "/api/v1/export-formats", "/api/v1/invitations/accept",
                  "/api/v1/auth/password-reset")
    schema = client.get("/openapi.json").json()
    open_ops = [f"{method.upper()} {path}" for path, item in schema["paths"].items()
                for method, op in item.items()
                if path.startswith(("/api/", "/v1/")) and not op.get("security")]
    assert open_ops
    assert [op for op in open_ops if not op.split(" ", 1)[1].startswith(exceptions)] == []


def test_documented_success_statuses(client: TestClient) -> None:
    """The statuses DESIGN states for its operations, as the OpenAPI description says."""
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        ("post", f"{EVENT}/exports"): "202",
        ("post", "/api/v1/imports"): "202",
        ("get", "/api/v1/exports/{job_id}/download"): "302",
        ("delete", f"{EVENT}/roles"): "204",
        ("post", "/api/v1/events"): "201",
        ("post", f"{EVENT}/sessions"): "201",
        ("delete", "/api/v1/exports/{job_id}"): "204",
        ("post", "/v1/events/{event_id}/export/json"): "200",
        ("get", "/v1/tasks/{task_id}"): "200",
    }
    for (method, path), status in expected.items():
        responses = paths[path][method]["responses"]
        successes = [code for code in responses if code.startswith(("2", "3"))]
        assert successes == [status], (method, path, successes)
