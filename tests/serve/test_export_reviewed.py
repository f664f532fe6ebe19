"""``clips export-reviewed``: reviewed alerts of a real store, with real clip files, as a labelled clip folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from har_stream.clips import read_clip_labels
from har_stream.serve.runtime import SiteRuntime
from tests.conftest import REPO, write_clip
from tests.serve.conftest import make_site, seed


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "har_stream.cli", "clips", "export-reviewed", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO)})


def test_export_writes_clips_and_labels_as_clip_folders_have(tmp_path: Path, concourse_video: Path) -> None:
    runtime = SiteRuntime(make_site(tmp_path))
    seed(runtime, 6)
    (runtime.media_root / "clips" / "gate").mkdir(parents=True)
    clip = write_clip(concourse_video, runtime.media_root / "clips" / "gate" / "alert000.mp4", frames=8)
    for alert_id in ("alert000", "alert002"):  # alert002 shares alert000's clip, 2 media seconds later
        runtime.store.set_clip(alert_id, "clips/gate/alert000.mp4")
    runtime.store.set_clip("alert004", "clips/gate/gone.mp4")  # its file was deleted
    runtime.store.review("alert000", "confirmed", "alice")
    runtime.store.review("alert002", "false_alarm", "alice", "a shadow")
    runtime.store.review("alert004", "confirmed", "alice")
    runtime.store.review("alert001", "confirmed", "alice")  # no clip at all
    runtime.stop()
    out = tmp_path / "export"
    db, media = str(tmp_path / "media" / "events.db"), str(tmp_path / "media")
    result = _cli("--store", db, "--media", media, "--out", str(out), "--pre-s", "0.5")
    assert result.returncode == 0, result.stderr
    assert "exported 2 clips (none 1, running 1)" in result.stdout
    assert "skipped 2 reviewed alerts" in result.stderr and "clip file missing" in result.stderr
    clips = {c.file: c for c in read_clip_labels(out)}
    assert set(clips) == {"gate_alert000.mp4", "gate_alert002.mp4"}
    assert clips["gate_alert000.mp4"].label == "running" and clips["gate_alert002.mp4"].label == "none"
    assert {c.group for c in clips.values()} == {"gate"}
    # alert000 starts 0 s into the source (no lead-in possible); alert002 2 media seconds after it.
    assert clips["gate_alert000.mp4"].start_s == 0.0 and clips["gate_alert002.mp4"].start_s == 2.0
    assert (out / "gate_alert000.mp4").read_bytes() == clip.read_bytes()
    again = _cli("--store", db, "--media", media, "--out", str(out))
    assert again.returncode == 1 and "labels.csv exists" in again.stderr


def test_export_without_reviews_or_store_says_so(tmp_path: Path) -> None:
    runtime = SiteRuntime(make_site(tmp_path))
    seed(runtime, 2)
    runtime.stop()
    db, media, out = str(tmp_path / "media" / "events.db"), str(tmp_path / "media"), str(tmp_path / "out")
    result = _cli("--store", db, "--media", media, "--out", out)
    assert result.returncode == 1 and "no reviewed alerts" in result.stderr
    missing = _cli("--store", str(tmp_path / "nope.db"), "--media", media, "--out", out)
    assert missing.returncode == 1 and "no event database" in missing.stderr
    bare = _cli("--out", out)
    assert bare.returncode == 2 and "--config" in bare.stderr
