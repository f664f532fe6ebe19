"""Start, kill, freeze and restart the real RTSP test server (``tests/rtsp_server.py``) from a test."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

#: The interpreter that has GStreamer's Python bindings (Debian's python3-gi), not the project's venv.
GST_PYTHON = os.environ.get("HAR_STREAM_GST_PYTHON", "/usr/bin/python3")
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
APT_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RtspCamera:
    """A gst-rtsp-server process serving ``clip`` in a loop at ``rtsp://127.0.0.1:<port>/cam``.

    The port stays the same across restarts, as a real camera's address does.
    """

    def __init__(self, clip: Path, port: int | None = None, fps: int = 25) -> None:
        self.clip = clip
        self.port = port or free_port()
        self.fps = fps
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.process: subprocess.Popen[str] | None = None
        self.starts = 0
        self.log = clip.parent / f"rtsp_server_{self.port}.log"  # the server's stderr, for failure messages

    def start(self, timeout: float = 60.0) -> RtspCamera:
        """Start the server and wait until it accepts connections; fail the test clearly if it cannot."""
        assert self.process is None, "already running"
        command = [GST_PYTHON, str(SERVER_SCRIPT), "--clip", str(self.clip), "--port", str(self.port)]
        command += ["--fps", str(self.fps)]
        try:
            with self.log.open("a") as log:
                process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        except OSError as exc:
            pytest.fail(f"cannot start the RTSP test server with {GST_PYTHON}: {exc}")
        line = _read_line(process, timeout)
        if not line.startswith("READY"):
            process.kill()
            process.wait()
            pytest.fail(
                f"the RTSP test server did not start ({line!r}); stderr:\n{self.log.read_text()[-2000:]}\n"
                f"It needs the Debian packages {APT_PACKAGES} (.ci/run installs them)."
            )
        self.process = process
        self.starts += 1
        return self

    def kill(self) -> None:
        """Kill the server at once (SIGKILL): connections drop as when a camera loses power."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self._close_pipes()
            self.process = None

    def freeze(self) -> None:
        """Stop the server process (SIGSTOP): connections stay open but no data flows."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen server go on (SIGCONT)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def _close_pipes(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        self.process.stdout.close()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line of ``process``, or "" if it exits or stays silent for ``timeout`` seconds."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                return process.stdout.readline().strip()
            if process.poll() is not None:
                return ""
    return ""
