"""Line and zone counts end to end: a real site runtime runs the real detector and tracker over the first 100
frames (2 s) of the concourse footage with a counting line, served by a real server behind a token; the API,
``/metrics``, the crossing rule's alerts and the dashboard in a real headless Chromium all show the same counts.

By the hand count of tests/rules/test_lines_concourse.py, three people cross the line up the screen ("out") within
these 100 frames (at x 520, 780 and 470) and one is crossing down ("in", x 400, on the line around frame 90);
so out 3 and in 0 or 1 (± 1 for the borderline ones: the clip is re-encoded, so boxes differ slightly).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from har_stream.config.site import validate_site
from har_stream.serve.runtime import SiteRuntime
from har_stream.store import EventQuery
from tests.conftest import write_clip
from tests.serve.test_api import TOKEN, raw_get, serving
from tests.serve.test_dashboard_e2e import launch_chromium, watched_page

pytestmark = pytest.mark.slow

LINE = {"name": "gate", "points": [[0.27, 0.55], [0.72, 0.55]]}
ZONE = {"name": "centre", "polygon": [[0.30, 0.35], [0.70, 0.35], [0.70, 0.90], [0.30, 0.90]]}
RULE = {"name": "gate_out", "actions": ["*"], "min_confidence": 0.0, "crossing": {"line": "gate", "direction": "out"}}


@pytest.fixture(scope="module")
def finished(concourse_video: Path, tmp_path_factory: pytest.TempPathFactory):
    """The runtime (with the token) after the camera played the 100-frame clip to its end."""
    folder = tmp_path_factory.mktemp("counts")
    clip = write_clip(concourse_video, folder / "concourse100.mp4", frames=100, fps=50)
    site = validate_site(
        {
            "defaults": {"classifier": {"model": "none"}, "temporal": {"model": "none"}},
            "cameras": [
                {
                    "name": "concourse",
                    "source": {"uri": str(clip)},
                    "detector": {"imgsz": 1280, "confidence": 0.25},
                    "zones": [ZONE],
                    "lines": [LINE],
                    "rules": [RULE],
                }
            ],
            "media": {"folder": str(folder / "media"), "clips": False},
            "server": {"token": TOKEN},
        },
        env={},
    )
    runtime = SiteRuntime(site).start()
    camera = runtime.cameras["concourse"]
    deadline = time.monotonic() + 400
    while camera.health().status != "finished":
        assert time.monotonic() < deadline and camera.health().status not in ("error", "stopped"), camera.health()
        time.sleep(0.5)
    while runtime.store.query(EventQuery(limit=100))[0] < camera.health().line_counts[0].out_count:
        assert time.monotonic() < deadline, "the crossing alerts never reached the store"
        time.sleep(0.2)
    yield runtime, folder
    runtime.stopping.set()
    runtime.stop()


def test_counts_in_the_api_metrics_and_alerts(finished) -> None:
    runtime, _ = finished
    health = runtime.cameras["concourse"].health()
    [line] = health.line_counts
    assert line.line == "gate" and line.out_count in (2, 3, 4) and line.in_count in (0, 1, 2), line
    [zone] = health.zone_occupancy
    assert zone.zone == "centre" and zone.people > 0  # the centre of a crowded concourse is never empty
    with serving(runtime) as port:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert raw_get(port, "/api/cameras/concourse")[0] == 401
        assert raw_get(port, "/metrics")[0] == 401
        assert raw_get(port, "/api/cameras/concourse", {"Host": "evil.example", **auth})[0] == 421
        status, body, _ = raw_get(port, "/api/cameras/concourse", auth)
        assert status == 200
        camera = json.loads(body)
        assert camera["line_counts"] == [{"line": "gate", "in_count": line.in_count, "out_count": line.out_count}]
        assert camera["zone_occupancy"] == [{"zone": "centre", "people": zone.people}]
        status, body, _ = raw_get(port, "/metrics", auth)
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }
        crossings = "har_stream_line_crossings_total"
        assert samples[crossings, (("camera", "concourse"), ("direction", "in"), ("line", "gate"))] == line.in_count
        assert samples[crossings, (("camera", "concourse"), ("direction", "out"), ("line", "gate"))] == line.out_count
        assert samples["har_stream_zone_occupancy", (("camera", "concourse"), ("zone", "centre"))] == zone.people
    # One alert per crossing the rule's way (each person crossed once here).
    total, rows = runtime.store.query(EventQuery(rule="gate_out", limit=100))
    assert total == line.out_count and len({row["track_id"] for row in rows}) == total


def test_counts_on_the_dashboard(finished) -> None:
    from playwright.sync_api import sync_playwright

    runtime, folder = finished
    line = runtime.cameras["concourse"].health().line_counts[0]
    with serving(runtime) as port, sync_playwright() as playwright:
        browser = launch_chromium(playwright, folder, 1300, 760)
        page, errors = watched_page(browser)
        page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
        row = "article[data-camera='concourse'] table.counts tr[data-line='gate']"
        page.wait_for_selector(row)
        assert page.inner_text(f"{row} th") == "gate"
        assert page.inner_text(f"{row} td.in") == str(line.in_count)
        assert page.inner_text(f"{row} td.out") == str(line.out_count)
        zone = "article[data-camera='concourse'] table.counts tr[data-zone='centre'] td.people"
        assert int(page.inner_text(zone)) == runtime.cameras["concourse"].health().zone_occupancy[0].people
        # The camera has finished, so its MJPEG view sends one part and no next boundary, which Chromium waits for
        # before it shows a part: show the same newest frame as a still instead.
        view = "article[data-camera='concourse'] img.live-view"
        page.eval_on_selector(view, "img => { img.src = '/api/cameras/concourse/frame.jpg'; }")
        page.wait_for_function(f'document.querySelector("{view}").naturalWidth > 0')
        shot = os.environ.get("HAR_STREAM_COUNTS_SCREENSHOT")
        if shot:  # docs/dashboard_counts.png is made so
            page.locator("article[data-camera='concourse']").screenshot(path=shot)
        browser.close()
        runtime.stopping.set()
    assert errors == []
