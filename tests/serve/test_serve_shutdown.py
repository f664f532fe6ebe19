"""Ctrl-C on ``har-stream serve`` (a real subprocess on real footage): it exits promptly, and every alert open at
that moment is ended in the store and delivered to the webhook and the MQTT broker, even while a live-view
client has stopped reading its stream (a background tab: its unread frames used to hold uvicorn's shutdown
for its full 5 s grace time, then end in a cancelled-task traceback).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED, require
from tests.serve.netutil import HookReceiver, Subscriber, free_port, start_mosquitto

pytestmark = pytest.mark.slow

SITE = """
defaults:
  classifier: {{model: none}}
  temporal: {{model: none}}
cameras:
  - name: gate
    source: {{uri: "{video}", loop: true}}
    detector: {{imgsz: 640}}
    rules:
      - {{name: anyone, actions: ["*"], min_confidence: 0.0, min_duration_s: 0.0, cooldown_s: 600, severity: high}}
server: {{port: {port}}}
media: {{folder: "{media}", live_max_width: 1280, jpeg_quality: 100}}  # big live frames: a stalled viewer stalls soon
notify:
  webhooks: [{{url: "{hook}", backoff_initial_s: 0.2}}]
  mqtt: {{host: 127.0.0.1, port: {mqtt_port}, username: {mqtt_user}, password: "${{HS_TEST_MQTT}}"}}
"""

#: A classroom seen from a CCTV camera: seated students, each tracked (and alerted on) for the whole clip.
CLASSROOM = SHARED / "videos" / "cctv" / "saumyajha_classroom_cctv.mp4"
#: Far above the 2 s the shutdown takes: this only catches a shutdown that waits for something it should not.
EXIT_BOUND_S = 15.0


def _get(base: str, path: str) -> dict:
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return json.loads(response.read())


def _stall_time_s(base: str) -> float:
    """Seconds of live view that fill the kernel's largest TCP send buffer three times over, at the current
    frame size and rate: by then the server's writes to a client that reads nothing are blocked."""
    with urllib.request.urlopen(base + "/api/cameras/gate/frame.jpg", timeout=10) as response:
        frame_bytes = len(response.read())
    fps = max(1.0, _get(base, "/api/cameras/gate")["fps_processed"])
    try:
        send_buffer = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        send_buffer = 4 << 20
    return min(60.0, max(3.0, 3 * send_buffer / (frame_bytes * fps)))


def _stalled_viewer(port: int) -> socket.socket:
    """A live-view client that reads the response headers and then nothing (a tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /api/cameras/gate/stream.mjpeg HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    assert sock.recv(12) == b"HTTP/1.1 200"
    return sock


def test_ctrl_c_ends_and_delivers_open_alerts_and_exits_promptly(tmp_path: Path) -> None:
    broker = start_mosquitto(tmp_path)
    subscriber = Subscriber(broker, "har_stream/#")
    hook = HookReceiver()
    port = free_port()
    config = tmp_path / "site.yaml"
    media = tmp_path / "media"
    config.write_text(
        SITE.format(
            video=require(CLASSROOM),
            port=port,
            media=media,
            hook=hook.url,
            mqtt_port=broker.port,
            mqtt_user=broker.username,
        )
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "HS_TEST_MQTT": broker.password}
    log_path = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    viewer = None
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "har_stream.cli", "serve", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        open_alerts: list[dict] = []
        while not open_alerts:
            assert process.poll() is None, f"serve exited early:\n{log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no alert opened:\n{log_path.read_text()[-3000:]}"
            try:
                if viewer is None and _get(base, "/api/cameras/gate")["frames_processed"] > 0:
                    viewer = _stalled_viewer(port)
                open_alerts = [e for e in _get(base, "/api/events?limit=500")["items"] if e["active"]]
            except OSError:
                pass
            time.sleep(0.3)
        assert viewer is not None
        hook.wait_for(1, status=200, timeout=30)  # delivery works before the stop
        stall_s = _stall_time_s(base)
        print(f"\nholding the stalled viewer for {stall_s:.1f}s")
        time.sleep(stall_s)  # the stalled viewer's buffers fill up
        open_alerts = []
        while not open_alerts:  # seated students: their alerts stay open until the stop
            assert time.monotonic() < deadline, f"no alert open:\n{log_path.read_text()[-3000:]}"
            open_alerts = [e for e in _get(base, "/api/events?limit=500")["items"] if e["active"]]

        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(60)
        took = time.monotonic() - started
        print(f"serve exited {took:.2f}s after SIGINT (exit code {code})")
    finally:
        if process.poll() is None:
            process.kill()
        if viewer is not None:
            viewer.close()
    log_text = log_path.read_text()
    try:
        assert code == 0, log_text[-3000:]
        assert took < EXIT_BOUND_S, log_text[-3000:]
        assert "Traceback" not in log_text and "graceful shutdown exceeded" not in log_text, log_text[-3000:]
        assert "not delivered" not in log_text, log_text[-3000:]

        with sqlite3.connect(media / "events.db") as db:
            rows = dict(db.execute("SELECT alert_id, end_reason FROM alerts").fetchall())
        assert None not in rows.values(), rows  # every alert has its end ...
        # ... those open at Ctrl-C too (one may have ended by itself between the last look and the signal)
        assert "shutdown" in {rows[e["alert_id"]] for e in open_alerts}

        ends = {r.body["alert_id"] for r in hook.received if r.body.get("type") == "alert_end" and r.status == 200}
        assert ends == set(rows)  # every end reached the webhook
        subscriber.wait_for(lambda t, p: t == "har_stream/available" and p == "offline")
        published = [json.loads(p) for t, p, _ in subscriber.messages if t == "har_stream/gate/events"]
        assert {m["alert_id"] for m in published if m["type"] == "alert_end"} == set(rows)  # ... and the broker
    finally:
        subscriber.close()
        hook.close()
        broker.stop()
