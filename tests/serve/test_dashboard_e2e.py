"""End to end: ``har-stream serve`` on real footage, watched in a real headless Chromium, with alerts delivered
to a real webhook receiver and a real mosquitto broker.

One server process runs two cameras for the whole module; the tests run in order and the last one stops it
(SIGTERM) and restarts it on the same store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, write_clip
from tests.serve.netutil import HookReceiver, Subscriber, free_port, start_mosquitto

pytestmark = pytest.mark.slow

TOKEN = "e2e-dashboard-token-31337"
CHROMIUM = os.environ.get("HAR_STREAM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO / "out" / "dashboard.png"

SITE = """
defaults:
  classifier: {{model: none}}
cameras:
  - name: concourse
    source: {{uri: "{concourse}", loop: true}}
    detector: {{imgsz: 960}}
    zones:
      - name: centre
        polygon: [[0.30, 0.35], [0.70, 0.35], [0.70, 0.90], [0.30, 0.90]]
    rules:
      - name: moving_in_centre
        actions: ["*"]
        min_confidence: 0.0
        min_speed: 0.25
        min_duration_s: 0.5
        zones: [centre]
        cooldown_s: 10
        severity: low
  - name: west
    source: {{uri: "{west}", loop: true}}
    detector: {{imgsz: 640}}
server:
  port: {port}
  token: "${{HS_E2E_TOKEN}}"
media:
  folder: "{media}"
  clip_pre_s: 0.5
  clip_post_s: 1.0
notify:
  webhooks:
    - url: "{hook}"
      headers: {{Authorization: "Bearer ${{HS_E2E_TOKEN}}"}}
      events: [alert_start]
      backoff_initial_s: 0.3
  mqtt:
    host: 127.0.0.1
    port: {mqtt_port}
    username: {mqtt_user}
    password: "${{HS_E2E_MQTT}}"
"""


def launch_chromium(playwright, folder: Path, width: int, height: int):
    """Debian's Chromium, headless, with a fresh profile under ``folder``; fails (never skips) when it is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium (.ci/run does this)")
    return playwright.chromium.launch_persistent_context(
        tempfile.mkdtemp(prefix="chromium-", dir=folder),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": width, "height": height},
    )


def watched_page(browser) -> tuple:
    """A new page of ``browser`` and the list its uncaught JavaScript errors are collected in."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


class Server:
    """A ``har-stream serve`` subprocess."""

    def __init__(self, config: Path, log: Path, env: dict[str, str], port: int) -> None:
        self.config, self.log_path, self.env, self.port = config, log, env, port
        self.base = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.log_path.open("a")
        cmd = [sys.executable, "-m", "har_stream.cli", "serve", "--config", str(self.config)]
        self.process = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited early:\n{self.log_path.read_text()[-3000:]}"
            try:
                self.get("/api/health")
                return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"serve did not answer:\n{self.log_path.read_text()[-3000:]}")

    def get(self, path: str, token: str | None = TOKEN) -> dict:
        request = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(90)


@pytest.fixture(scope="module")
def site(concourse_video: Path, concourse_clip: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("site")
    west = write_clip(concourse_video, folder / "west.mp4", frames=30, crop=(0, 180, 640, 360))
    broker = start_mosquitto(folder)
    subscriber = Subscriber(broker, "har_stream/#")
    hook = HookReceiver(statuses=[503, 503])  # the first two deliveries fail
    port = free_port()
    config = folder / "site.yaml"
    config.write_text(
        SITE.format(
            concourse=concourse_clip,
            west=west,
            port=port,
            media=folder / "media",
            hook=hook.url,
            mqtt_port=broker.port,
            mqtt_user=broker.username,
        )
    )
    env = {**os.environ, "HS_E2E_TOKEN": TOKEN, "HS_E2E_MQTT": broker.password, "PYTHONPATH": str(REPO)}
    server = Server(config, folder / "serve.log", env, port)
    server.start()
    yield server, hook, subscriber, broker, folder
    if server.process is not None and server.process.poll() is None:
        server.process.kill()
    subscriber.close()
    hook.close()
    broker.stop()


def _frame_hash(page, selector: str) -> str:
    data = page.evaluate(
        """(sel) => { const img = document.querySelector(sel); const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight; c.getContext('2d').drawImage(img, 0, 0);
        return c.toDataURL('image/png'); }""",
        selector,
    )
    return hashlib.sha256(data.encode()).hexdigest()


def test_dashboard_in_a_real_browser(site, tmp_path: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    server, *_ = site
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, tmp_path, 1500, 720)
        page, errors = watched_page(browser)
        # The token in the address sets a cookie and is dropped from the address.
        page.goto(f"{server.base}/?token={TOKEN}")
        assert page.url == f"{server.base}/"
        page.wait_for_selector("article.camera[data-camera='west']")
        assert page.locator("article.camera").count() == 2
        page.evaluate("window.__loadedOnce = true")
        initial = set(page.eval_on_selector_all("#alert-list li", "els => els.map(e => e.dataset.alertId)"))

        # Live views show frames, and the frames change.
        for camera in ("concourse", "west"):
            page.wait_for_function(
                f"document.querySelector(\"article[data-camera='{camera}'] img.live-view\").naturalWidth > 0",
                timeout=120_000,
            )
        view = "article[data-camera='concourse'] img.live-view"
        first = _frame_hash(page, view)
        deadline = time.monotonic() + 60
        while _frame_hash(page, view) == first:
            assert time.monotonic() < deadline, "the live view never changed"
            page.wait_for_timeout(500)
        page.wait_for_selector("article[data-camera='concourse'] .status[data-state='connected']", timeout=30_000)

        # An alert raised by the rule on the real footage appears without a reload, with its snapshot.
        page.wait_for_function(
            """(initial) => [...document.querySelectorAll('#alert-list li')].some(li =>
                 !initial.includes(li.dataset.alertId) && li.querySelector('img.thumb')?.naturalWidth > 0)""",
            arg=sorted(initial),
            timeout=120_000,
        )
        assert page.evaluate("window.__loadedOnce") is True, "the page was reloaded"
        item = page.locator("#alert-list li").first
        assert "moving_in_centre" in item.inner_text() and "concourse" in item.inner_text()

        # Its clip arrives by live update too, and Chromium decodes it.
        page.wait_for_selector("#alert-list a.clip", timeout=120_000)
        clip_url = page.get_attribute("#alert-list a.clip", "href")
        with contextlib.suppress(PlaywrightTimeout):  # a fuller screenshot: a few more alerts, if they come soon
            page.wait_for_function("document.querySelectorAll('#alert-list li').length >= 3", timeout=10_000)
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot))
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copy(shot, SCREENSHOT)
        playable = page.evaluate(
            """(url) => new Promise((resolve) => { const v = document.createElement('video'); v.muted = true;
                 v.onloadeddata = () => resolve([v.videoWidth, v.duration]); v.onerror = () => resolve(null);
                 v.src = url; })""",
            clip_url,
        )
        assert playable is not None and playable[0] > 0 and playable[1] > 0.5, playable

        # The events page filters the stored alerts.
        page.goto(f"{server.base}/events?camera=concourse")
        page.wait_for_selector("#events-table tbody tr")
        cameras = page.eval_on_selector_all(
            "#events-table tbody tr td:nth-child(3)", "els => els.map(e => e.textContent)"
        )
        assert cameras and set(cameras) == {"concourse"}
        assert page.input_value("select[name=camera]") == "concourse"
        page.select_option("select[name=camera]", "west")
        page.click("button[type=submit]")
        page.wait_for_selector("#summary:has-text('No alerts match')")
        page.screenshot(path=str(tmp_path / "events.png"))
        browser.close()
    assert not errors, errors
    assert SCREENSHOT.stat().st_size > 50_000


def test_webhook_got_alerts_after_retries(site) -> None:
    server, hook, *_ = site
    delivered = hook.wait_for(1, status=200, timeout=60)
    assert [r.status for r in hook.received[:3]] == [503, 503, 200]
    first = hook.received[0]
    assert all(r.headers["X-Har-Stream-Delivery"] == first.headers["X-Har-Stream-Delivery"] for r in hook.received[:3])
    body = delivered[0].body
    assert body["type"] == "alert_start" and body["camera"] == "concourse" and body["rule"] == "moving_in_centre"
    assert delivered[0].headers["Authorization"] == f"Bearer {TOKEN}"
    request = urllib.request.Request(body["snapshot_url"], headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"] == "image/jpeg" and response.read(2) == b"\xff\xd8"
    assert server.get(f"/api/events/{body['alert_id']}")["alert_id"] == body["alert_id"]


def test_mqtt_got_availability_and_events(site) -> None:
    _, _, subscriber, *_ = site
    subscriber.wait_for(lambda t, p: t == "har_stream/available" and p == "online")
    subscriber.wait_for(lambda t, p: t == "har_stream/concourse/availability" and p == "online")
    subscriber.wait_for(lambda t, p: t == "har_stream/west/availability" and p == "online")
    events = subscriber.wait_for(lambda t, p: t == "har_stream/concourse/events" and '"alert_start"' in p, timeout=60)
    message = json.loads(events[0][1])
    assert message["rule"] == "moving_in_centre" and message["snapshot_url"].startswith("http://127.0.0.1:")
    status = subscriber.wait_for(lambda t, p: t == "har_stream/concourse/status")
    assert json.loads(status[-1][1])["status"] == "connected"


def test_stop_and_restart_keep_the_events(site) -> None:
    server, _, subscriber, _, _folder = site
    before = server.get("/api/events?limit=500")
    assert before["total"] >= 1
    assert server.get("/api/health", token=TOKEN)["status"] == "ok"
    with pytest.raises(OSError):  # wrong token
        server.get("/api/events", token="not-the-token")
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 60
    subscriber.wait_for(lambda t, p: t == "har_stream/concourse/availability" and p == "offline")
    subscriber.wait_for(lambda t, p: t == "har_stream/available" and p == "offline")
    log = server.log_path.read_text()
    assert TOKEN not in log and "broker-pw" not in log and "Traceback" not in log, log[-3000:]
    # Restart on the same store: every alert is still there, and those open at shutdown were ended.
    server.start()
    after = server.get("/api/events?limit=500")
    ids = {e["alert_id"]: e for e in after["items"]}
    for event in before["items"]:
        assert event["alert_id"] in ids
        assert ids[event["alert_id"]]["end_reason"] in {"condition_cleared", "track_ended", "shutdown"}
    assert server.stop() == 0
