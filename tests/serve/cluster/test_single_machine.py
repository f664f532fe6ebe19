"""Without a ``cluster`` section ``har-stream serve`` stays one process: Ray is neither imported nor started."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import psutil

from tests.serve.cluster.conftest import camera, start_serve
from tests.serve.netutil import free_port

RAY_PROCESSES = ("raylet", "gcs_server", "ray::")


def test_single_machine_serve_starts_no_ray(small_crowd_clip: Path, tmp_path: Path) -> None:
    import yaml

    port = free_port()
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"cameras": [camera("solo", small_crowd_clip)], "media": {"folder": "media"}}))
    serve = start_serve(site, port, tmp_path)
    try:
        deadline, frames = time.monotonic() + 120, 0
        while time.monotonic() < deadline and frames == 0 and serve.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/cameras/solo", timeout=5) as response:
                    frames = json.loads(response.read())["frames_processed"]
            except OSError:
                pass
            time.sleep(0.5)
        assert frames > 0, "the camera processed no frame"
        process = psutil.Process(serve.pid)
        mapped = Path(f"/proc/{serve.pid}/maps").read_text()
        assert "_raylet" not in mapped and "/ray/" not in mapped, "Ray was imported"
        family = [process, *process.children(recursive=True)]
        names = [" ".join(p.cmdline()) or p.name() for p in family]
        assert not [n for n in names if any(r in n for r in RAY_PROCESSES)], names
        assert len(family) == 1, names  # cameras are threads of the one process
    finally:
        serve.send_signal(signal.SIGINT)
        output, _ = serve.communicate(timeout=60)
    assert serve.returncode == 0, output
    assert not any(r in output for r in ("Ray", "ray.init", "raylet")), output
