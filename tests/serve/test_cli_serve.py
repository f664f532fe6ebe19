"""``har-stream serve`` as a real subprocess: help, config checks and start-up errors."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

HAR_STREAM = [sys.executable, "-m", "har_stream.cli"]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([*HAR_STREAM, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=full_env)


def test_help_documents_every_serve_option() -> None:
    result = cli("serve", "--help")
    assert result.returncode == 0
    for option in ("--config", "--host", "--port", "--media", "--check", "--log-level", "Ctrl-C", "/events", "token"):
        assert option in result.stdout, option


def test_check_the_sample_site_config() -> None:
    result = cli("serve", "--config", "configs/site.yaml", "--check")
    assert result.returncode == 0, result.stderr
    assert "ok: 2 cameras (concourse, concourse_west); dashboard on http://127.0.0.1:8080" in result.stdout


def test_bad_site_configs_exit_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text(
        "cameras:\n  - name: a\n    rules: [{name: r, actions: [runing]}]\nserver: {token: '${NO_SUCH_VAR_X}'}\n"
    )
    result = cli("serve", "--config", str(bad), "--check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cameras[0].rules[0].actions: item 0: unknown action 'runing'" in result.stderr
    assert "server.token: environment variable NO_SUCH_VAR_X is not set" in result.stderr


def test_public_address_without_token_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("cameras: [{name: a, source: {uri: x.mp4}}]\n")
    result = cli("serve", "--config", str(site), "--host", "0.0.0.0", "--check")
    assert result.returncode == 2 and "not a loopback address: set server.token" in result.stderr
    secret = "cli-Qx7vR2m9-LpZk4w"
    site.write_text("cameras: [{name: a}]\nserver: {token: '${TOK}'}\n")
    result = cli("serve", "--config", str(site), "--host", "0.0.0.0", "--port", "9999", "--check", env={"TOK": secret})
    assert result.returncode == 0 and ":9999" in result.stdout and "127.0.0.1:9999" not in result.stdout
    assert secret not in result.stdout + result.stderr


def test_port_in_use_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(f"cameras: [{{name: a, source: {{uri: x.mp4}}}}]\nmedia: {{folder: '{tmp_path / 'media'}'}}\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = cli("serve", "--config", str(site), "--port", str(port))
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr and time.monotonic() - started < 60


def test_serve_refuses_outputs_that_overwrite_a_source_or_each_other(tmp_path: Path) -> None:
    import shutil

    video = tmp_path / "gate.mp4"
    shutil.copy(REPO.parent / "shared" / "videos" / "cctv" / "surv_nofi044.mp4", video)
    before = video.read_bytes()
    link = tmp_path / "store-link.db"
    link.symlink_to(video)
    cases = {
        "store.path": f"cameras: [{{name: gate, source: {{uri: {video}}}}}]\nstore: {{path: {link}}}\n",
        "output.video": (
            f"cameras:\n  - {{name: a, source: {{uri: {video}}}, output: {{video: {tmp_path}/same.mp4}}}}\n"
            f"  - {{name: b, source: {{uri: {video}}}, output: {{video: {tmp_path}/x/../same.mp4}}}}\n"
        ),
    }
    for field, text in cases.items():
        config = tmp_path / "site.yaml"
        config.write_text(text + f"media: {{folder: {tmp_path}/media}}\n")
        result = cli("serve", "--config", str(config), "--check")
        assert result.returncode == 2, (field, result.stdout, result.stderr)
        assert field in result.stderr and "same file" in result.stderr, result.stderr
    assert video.read_bytes() == before
