"""The whole review loop, end to end: ``har-stream serve`` raises alerts on real CCTV footage, an operator
reviews two of them in a real headless Chromium (one confirmed, one a false alarm), a viewer cannot, a forged
cross-site form cannot, ``clips export-reviewed`` writes them as a labelled clip folder, and
``clips evaluate-video`` reads and scores that folder.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from har_stream.clips import read_clip_labels
from tests.conftest import REPO, SHARED, require
from tests.serve.netutil import free_port
from tests.serve.test_dashboard_e2e import Server, launch_chromium, watched_page

pytestmark = pytest.mark.slow

ALICE = "loop-operator-Vb7nQ2xK9pL4"
BOB = "loop-viewer-Tm3wR8zH5cJ6"
#: Seated students, each tracked and alerted on from the first frames (as in test_serve_shutdown).
CLASSROOM = SHARED / "videos" / "cctv" / "saumyajha_classroom_cctv.mp4"
SCREENSHOT = REPO / "out" / "review.png"

SITE = """
defaults:
  classifier: {{model: none}}
  temporal: {{model: none}}
cameras:
  - name: classroom
    source: {{uri: "{video}", loop: true}}
    detector: {{imgsz: 640}}
    rules:
      - {{name: anyone, actions: ["*"], min_confidence: 0.0, min_duration_s: 0.0, cooldown_s: 600, severity: high}}
server:
  port: {port}
  tokens:
    - {{name: alice, token: "${{LOOP_ALICE}}", role: operator}}
    - {{name: bob, token: "${{LOOP_BOB}}", role: viewer}}
media: {{folder: "{media}", clip_pre_s: 0.5, clip_post_s: 1.0}}
"""

#: What evaluate-video scores the exported clips with: the same cheap pipeline, a rule that names an action.
EVAL_CONFIG = """
camera: review-loop
detector: {imgsz: 640}
classifier: {model: none}
temporal: {model: none}
rules:
  - {name: running, actions: [running], min_confidence: 0.5}
"""

#: A page on another origin (another port of the same host: same-site, so the SameSite cookie goes along)
#: that posts a review with the operator's cookie, as a forged form does.
FORGED = """<!doctype html><form method="post" enctype="text/plain" action="{target}">
<input name='{{"verdict": "confirmed", "note": "' value='forged"}}'></form>
<script>document.forms[0].submit()</script>"""


class _Server(Server):
    """The e2e test's ``serve`` subprocess, asked with the viewer's token by default."""

    def get(self, path: str, token: str | None = BOB) -> dict:
        return super().get(path, token)


class _Attacker(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: object) -> None:
        pass


def _post(server: Server, path: str, body: dict, token: str) -> int:
    request = urllib.request.Request(
        server.base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _wait_for_clips(server: Server, count: int) -> list[dict]:
    """Alerts with a saved clip on the events page's first page, once ``count`` are there (a clip needs
    clip_post_s of footage after its alert)."""
    import time

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        items = server.get("/api/events?limit=25&unreviewed_first=true", token=BOB)["items"]
        with_clip = [e for e in items if e["clip_url"]]
        if len(with_clip) >= count:
            return with_clip
        time.sleep(1.0)
    raise TimeoutError(f"fewer than {count} alerts with clips:\n{server.log_path.read_text()[-3000:]}")


def test_review_export_and_evaluate(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    port = free_port()
    config = tmp_path / "site.yaml"
    config.write_text(SITE.format(video=require(CLASSROOM), port=port, media=tmp_path / "media"))
    env = {**os.environ, "LOOP_ALICE": ALICE, "LOOP_BOB": BOB, "PYTHONPATH": str(REPO)}
    server = _Server(config, tmp_path / "serve.log", env, port)
    server.start()
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        _wait_for_clips(server, 3)

        assert server.get("/api/session", token=BOB)["role"] == "viewer"

        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, tmp_path, 1600, 760)
            page, errors = watched_page(browser)

            # The viewer's events page has no review buttons.
            page.goto(f"{server.base}/events?token={BOB}")
            page.wait_for_selector("#events-table tbody tr .unreviewed")
            assert page.inner_text("#who") == "bob · viewer"
            assert page.locator("button.confirm").count() == 0

            # The operator reviews two alerts with clips by clicking on the events page.
            page.goto(f"{server.base}/events?token={ALICE}")
            assert page.url.startswith(f"{server.base}/events") and ALICE not in page.url
            page.wait_for_selector("#who:has-text('alice · operator')")
            page.wait_for_selector("#events-table tbody tr button.confirm")
            ids = page.eval_on_selector_all(
                "#events-table tbody tr:has(a.clip)", "rows => rows.map(r => r.dataset.alertId)"
            )
            assert len(ids) >= 3, ids
            confirmed, false_alarm, forged = ids[:3]
            assert _post(server, f"/api/events/{confirmed}/review", {"verdict": "confirmed"}, BOB) == 403
            row = f"tr[data-alert-id='{confirmed}']"
            page.click(f"{row} button.confirm")
            page.wait_for_selector(f"{row} .verdict.confirmed")
            row = f"tr[data-alert-id='{false_alarm}']"
            page.fill(f"{row} input[name=note]", "a student reaching for a bag")
            page.click(f"{row} button.false-alarm")
            page.wait_for_selector(f"{row} .verdict.false_alarm")
            assert "a student reaching for a bag" in page.inner_text(row)
            page.screenshot(path=str(tmp_path / "review.png"))

            # Filter by review state: the two reviewed alerts, and unreviewed ones first by default.
            page.select_option("select[name=review]", "reviewed")
            page.click("button[type=submit]")
            page.wait_for_function("document.querySelectorAll('#events-table tbody tr').length === 2")
            page.select_option("select[name=review]", "")
            page.click("button[type=submit]")
            page.wait_for_selector(f"tr[data-alert-id='{forged}']")
            states = page.eval_on_selector_all(
                "#events-table tbody tr", "rows => rows.map(r => r.querySelector('.verdict') ? 'r' : 'u').join('')"
            )
            assert "ru" not in states, states  # no reviewed alert above an unreviewed one

            # A forged form post from another origin carries the operator's cookie and is refused.
            target = f"{server.base}/api/events/{forged}/review"
            _Attacker.page = FORGED.format(target=target).encode()
            attack = browser.new_page()
            attack.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
            attack.wait_for_url(target)
            refused = attack.inner_text("body")
            assert "X-CSRF-Token" in refused and "missing or wrong access token" not in refused, refused
            browser.close()
        assert not errors, errors
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "review.png", SCREENSHOT)

        reviews = {a["alert_id"]: a for a in server.get("/api/events?review=reviewed&limit=500", token=BOB)["items"]}
        assert set(reviews) == {confirmed, false_alarm}
        assert reviews[confirmed]["review"] == "confirmed" and reviews[confirmed]["reviewed_by"] == "alice"
        assert reviews[false_alarm]["review_note"] == "a student reaching for a bag"
        assert server.get(f"/api/events/{forged}", token=BOB)["review"] is None
    finally:
        attacker.shutdown()
        if server.process is not None and server.process.poll() is None:
            assert server.stop() == 0

    # Export the reviewed alerts as labelled clips, then score them with evaluate-video.
    out = tmp_path / "reviewed"
    cli = [sys.executable, "-m", "har_stream.cli", "clips"]
    export = subprocess.run(
        [*cli, "export-reviewed", "--config", str(config), "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, env=env,
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    assert "exported 2 clips" in export.stdout
    clips = {c.label: c for c in read_clip_labels(out)}
    assert set(clips) == {"unknown", "none"}  # a '*' rule without a classifier names no action: "unknown"
    assert {c.group for c in clips.values()} == {"classroom"}
    assert all(c.start_s is not None and c.start_s >= 0 for c in clips.values())
    eval_config = tmp_path / "eval.yaml"
    eval_config.write_text(EVAL_CONFIG)
    evaluate = subprocess.run(
        [*cli, "evaluate-video", "--clips", str(out), "--config", str(eval_config), "--out", str(tmp_path / "eval"),
         "--no-progress"],
        capture_output=True, text=True, cwd=REPO, env=env,
    )  # fmt: skip
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert "on 2 clips" in evaluate.stdout
    assert "running" in results["summary"], results["summary"]
