"""``har-stream serve`` in cluster mode answers ``GET /api/cameras`` from its first moment (issue 30).

The dashboard polls the camera list as soon as the page opens, which on a real head is before any camera's
Ray actor has been placed and has reported. Every answer must then be a 200 with a well-formed body (the
cameras ``starting``, counters 0, ``frame_age_s`` null), not a 500, all the way until frames flow.
"""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from har_stream.serve.app import Camera, ServerHealth
from tests.serve.cluster.conftest import camera, start_serve
from tests.serve.netutil import free_port

pytest.importorskip("ray.cluster_utils")
pytestmark = pytest.mark.slow  # a Ray cluster, and the detector on real footage on each worker node

TOKEN = "tok-Qx7-vR2m-9LpZ-k4"
CAMERAS = TypeAdapter(list[Camera])


def get(port: int, path: str) -> tuple[int, bytes] | None:
    """Status and body of ``path`` with the token, as the dashboard asks; None while nothing listens yet."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError):
        return None


def test_camera_list_is_served_before_remote_cameras_report(
    ray_cluster: tuple[Any, list[Any]], small_crowd_clip: Path, tmp_path: Path
) -> None:
    cluster, _ = ray_cluster
    port = free_port()
    site = tmp_path / "site.yaml"
    site.write_text(
        yaml.safe_dump(
            {
                "cameras": [camera("north", small_crowd_clip), camera("south", small_crowd_clip)],
                "media": {"folder": "media"},
                "server": {"token": TOKEN},
                "cluster": {"engine": "ray", "address": cluster.address, "camera_resources": {"num_cpus": 1}},
            }
        )
    )
    serve = start_serve(site, port, tmp_path)
    answers: list[list[Camera]] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and serve.poll() is None:
            answer = get(port, "/api/cameras")
            if answer is None:
                assert not answers, "the server stopped answering"
                time.sleep(0.05)
                continue
            status, body = answer
            assert status == 200, f"answer {len(answers) + 1}: GET /api/cameras -> {status}: {body[:500]!r}"
            cameras = CAMERAS.validate_json(body)
            assert [c.name for c in cameras] == ["north", "south"]
            answers.append(cameras)
            status, body = get(port, "/api/health") or (0, b"")
            assert status == 200, f"GET /api/health -> {status}: {body[:500]!r}"
            assert [c.name for c in ServerHealth.model_validate_json(body).cameras] == ["north", "south"]
            if all(c.frames_processed > 0 for c in cameras):
                break
            time.sleep(0.2)
        assert answers and all(c.frames_processed > 0 for c in answers[-1]), "frames never flowed"
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            output, _ = serve.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            serve.kill()
            output, _ = serve.communicate()
    first = answers[0]
    print(f"\n{len(answers)} answers, all 200; first: {[(c.name, c.status, c.node) for c in first]}")
    # The server answered before the cameras had reported: the window of issue 30 was polled.
    waiting = [c for c in first if c.node is None]
    assert waiting, "every camera had already reported at the first answer; the test missed the window"
    for c in waiting:
        assert (c.status, c.connected, c.frames_processed, c.outages, c.frame_age_s) == ("starting", False, 0, 0, None)
    for c in answers[-1]:
        assert c.status == "connected" and c.node and c.frame_age_s is not None
    assert serve.returncode == 0, output
    assert "Traceback" not in output, output
