"""Fixtures for cluster mode: a short clip and a site whose cameras run on a real multi-node Ray cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, write_clip

#: Ray health checks every second, a node is declared dead after 3 missed ones (Ray's default: ~15-30 s).
FAST_FAILURE_DETECTION = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3}


@pytest.fixture
def ray_cluster() -> Iterator[Any]:
    """A head (no CPUs: no camera runs there) and two worker nodes with 2 CPUs each, as real Ray processes."""
    ray_cluster_utils = pytest.importorskip("ray.cluster_utils")
    cluster = ray_cluster_utils.Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={"num_cpus": 0, "include_dashboard": False, "_system_config": FAST_FAILURE_DETECTION},
    )
    workers = [cluster.add_node(num_cpus=2) for _ in range(2)]
    cluster.wait_for_nodes()
    yield cluster, workers
    cluster.shutdown()


@pytest.fixture(scope="session")
def small_crowd_clip(concourse_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """75 frames of the concourse footage, its lower right quarter (640x360: cheap to decode, people near)."""
    target = tmp_path_factory.mktemp("cluster") / "crowd75.mp4"
    return write_clip(concourse_video, target, frames=75, crop=(640, 360, 640, 360))


def camera(name: str, clip: Path) -> dict[str, Any]:
    """A looping camera at a small detector size, without classifier, alerting on anyone moving or not."""
    return {
        "name": name,
        "source": {"uri": str(clip), "loop": True},
        "detector": {"imgsz": 416, "confidence": 0.25},
        "classifier": {"model": "none"},
        "rules": [{"name": "anyone", "actions": ["*"], "min_confidence": 0.0, "min_duration_s": 0.3}],
    }


def start_serve(site: Path, port: int, cwd: Path) -> subprocess.Popen[str]:
    """``har-stream serve --config site --port port`` as a real subprocess in ``cwd`` (output piped), joining the
    cluster the site names rather than one a ``RAY_ADDRESS`` of this environment points to."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "har_stream.cli", "serve", "--config", str(site), "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
