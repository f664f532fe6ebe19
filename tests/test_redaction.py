"""Secrets in source URLs never surface: one redaction function, hostile URLs, and a real run's logs and summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from har_stream.redaction import redact
from har_stream.sources import redact as sources_redact

REPO = Path(__file__).resolve().parents[1]
SECRETS = ("ssw0rdSECRET", "SECRET2", "hunter2", "tok3n", "p#w", "zz9")

HOSTILE = {
    "rtsp://admin:p@ssw0rdSECRET@cam.local/x": "rtsp://admin:***@cam.local/x",
    "rtsp://admin:pw@cam:554/s?user=admin&pwd=SECRET2&ch=1": "rtsp://admin:***@cam:554/s?user=admin&pwd=***&ch=1",
    "http://tok3n@cam/x": "http://***@cam/x",
    "rtsp://cam/x?Password=hunter2&sig=zz9#frag": "rtsp://cam/x?Password=***&sig=***#frag",
    "rtsp://u:p#w@cam/x?authKey=zz9": "rtsp://u:***@cam/x?authKey=***",
    "rtsp://u:a/b?c@cam/x": "rtsp://u:***@cam/x",
    "rtsp://cam/x?api_key=hunter2&token=tok3n": "rtsp://cam/x?api_key=***&token=***",
}


@pytest.mark.parametrize(("url", "expected"), HOSTILE.items())
def test_hostile_urls_are_masked(url: str, expected: str) -> None:
    assert redact(url) == expected
    assert sources_redact is redact  # one function everywhere
    assert not any(secret in redact(url) for secret in SECRETS)


@pytest.mark.parametrize("plain", ["rtsp://cam.local:554/stream1?channel=2", "/videos/a@b.mp4", "0", "clip.mp4"])
def test_urls_without_secrets_are_unchanged(plain: str) -> None:
    assert redact(plain) == plain


def test_a_real_run_never_shows_the_password_or_query_secrets() -> None:
    url = "rtsp://admin:p@ssw0rdSECRET@127.0.0.1:9/x?user=admin&pwd=SECRET2"
    result = subprocess.run(
        [sys.executable, "-m", "har_stream.cli", "run", "--source", url, "--set", "source.open_timeout_s=1",
         "--set", "source.reconnect.give_up_after_s=2", "--set", "source.reconnect.initial_delay_s=0.2",
         "--set", "classifier.model=none", "--set", "temporal.model=none", "--log-level", "debug"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 1
    shown = result.stdout + result.stderr
    assert "rtsp://admin:***@127.0.0.1:9/x?user=admin&pwd=***" in shown  # the camera is still named
    assert "SECRET" not in shown
