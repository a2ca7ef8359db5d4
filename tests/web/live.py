"""A real Eventport for browser tests: ``eventport web`` + a worker on a free port, a
temporary SQLite database and file storage; and Chromium through Playwright.

Each test module starts its own server (``start_live_server``) with the environment it
needs — with or without ``EVENTPORT_BASE_URL``, with its own SMTP sink — and shares the
``browser``/``open_page`` fixtures from ``conftest.py``. Every page opened through
``open_page`` fails its test on a console error, an uncaught page error or a failed
request.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.smtp import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SLOW_WORKER = Path(__file__).with_name("slow_worker.py")


@dataclass
class LiveServer:
    url: str
    storage_root: Path
    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "eventport.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=120, cwd=self.logs)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def cli_python(self, code: str, *args: str) -> str:
        """Run Python code in the server's environment (to build big test data fast)."""
        done = subprocess.run([sys.executable, "-c", code, *args], env=self.env,
                              capture_output=True, text=True, timeout=300, cwd=self.logs)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "wb")
        self.processes.append(subprocess.Popen(argv, env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT, cwd=self.logs))

    def log_tails(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.logs.glob("*.log")))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/signin", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("web server did not start\n" + self.log_tails()) from None
                time.sleep(0.2)


def start_live_server(base: Path, extra_env: dict[str, str],
                      prepare: Callable[[LiveServer], None]) -> LiveServer:
    """Migrate, ``prepare`` (load data), then start the web server and a worker."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTPORT_")}
    env.update({
        "EVENTPORT_DATABASE_URL": f"sqlite:///{base / 'eventport.db'}",
        "EVENTPORT_STORAGE_URL": f"file://{base / 'storage'}",
        "EVENTPORT_DATA_DIR": str(base / "data"),
        "EVENTPORT_BROKER_URL": "filesystem://",
        "EVENTPORT_SECRET_KEY": "browser-test-secret-0123456789-abcdefghijklmnop",
        **extra_env,
    })
    (base / "storage").mkdir()
    (base / "data").mkdir()
    server = LiveServer(f"http://127.0.0.1:{port}", base / "storage", env, base)
    server.cli("db", "upgrade")
    prepare(server)
    server.start("web", [sys.executable, "-m", "eventport.cli", "web", "--host", "127.0.0.1",
                         "--port", str(port)])
    server.start("worker", [sys.executable, str(SLOW_WORKER)])
    try:
        server.wait_ready()
    except Exception:
        server.stop()
        raise
    return server


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/signin")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/events")
