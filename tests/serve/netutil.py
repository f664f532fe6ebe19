"""Real network helpers for tests: free ports, a scripted HTTP receiver, and a mosquitto broker."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Received:
    """One request the receiver got."""

    at: float
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


@dataclass
class HookReceiver:
    """An HTTP server on 127.0.0.1 answering POSTs with scripted statuses (then 200), recording each request."""

    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                with lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append(
                        Received(time.monotonic(), self.path, dict(self.headers.items()), body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 10.0, status: int | None = None) -> list[Received]:
        """Wait until ``count`` requests (with ``status`` if given) arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in self.received if status is None or r.status == status]
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(
            f"expected {count} requests, got {[(r.status, r.body.get('type')) for r in self.received]}"
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Broker:
    """A real mosquitto broker on a free port, with one user."""

    port: int
    username: str
    password: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_mosquitto(folder: Path, username: str = "har", password: str = "broker-pw-123") -> Broker:
    """Start mosquitto (Debian's package) with a generated config and password file."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.fail("mosquitto is not installed (apt-get install mosquitto; .ci/run does this)")
    port = free_port()
    passwords = folder / "passwd"
    passwords.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), username, password], check=True, capture_output=True)
    passwords.chmod(0o600)
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\npersistence false\n"
        f"log_dest stderr\nlog_type error\nuser {getpass.getuser()}\n"  # as root it would switch to 'mosquitto'
    )
    log = (folder / "mosquitto.log").open("w")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port)
    return Broker(port, username, password, process)


class Subscriber:
    """A real MQTT client that subscribes to ``topic`` and keeps (topic, payload, retained) tuples."""

    def __init__(self, broker: Broker, topic: str = "#") -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{time.monotonic_ns()}")
        self.client.username_pw_set(broker.username, broker.password)
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise TimeoutError("subscriber could not subscribe")

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload.decode("utf-8"), bool(message.retain)))

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> list[tuple[str, str, bool]]:
        """Wait until some received message satisfies ``predicate(topic, payload)``; returns all matching."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for m in self.messages if predicate(m[0], m[1])]
            if found:
                return found
            time.sleep(0.02)
        with self._lock:
            seen = [(t, p[:80]) for t, p, _ in self.messages]
        raise AssertionError(f"no matching MQTT message within {timeout}s; got {seen}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
