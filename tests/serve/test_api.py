"""The JSON API, media serving (path traversal refused) and token access, on the real app and server."""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from har_stream.serve.app import create_app
from har_stream.serve.runtime import SiteRuntime
from har_stream.serve.server import uvicorn_config
from har_stream.store import MIGRATIONS
from tests.serve.conftest import T0, make_site, seed
from tests.serve.netutil import free_port, wait_for_port

TOKEN = "tok-Qx7-vR2m-9LpZ-k4"
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture
def client(api_runtime: SiteRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(api_runtime), base_url="http://localhost") as test_client:
        yield test_client


def test_cameras_and_health(client: TestClient) -> None:
    cameras = client.get("/api/cameras").json()
    assert [c["name"] for c in cameras] == ["gate", "hall"]
    gate = cameras[0]
    assert gate["live_url"] == "/api/cameras/gate/stream.mjpeg" and gate["rules"] == ["run"]
    assert gate["status"] == "starting" and gate["connected"] is False and gate["frames_dropped"] == 0
    assert client.get("/api/cameras/hall").json()["name"] == "hall"
    assert client.get("/api/cameras/nope").status_code == 404
    assert client.get("/api/cameras/gate/frame.jpg").status_code == 404  # no frame yet
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["store"] == {"schema_version": len(MIGRATIONS), "alerts": 12}
    assert len(health["cameras"]) == 2


def test_events_filters(client: TestClient) -> None:
    page = client.get("/api/events").json()
    assert page["total"] == 12 and page["items"][0]["alert_id"] == "alert011"  # newest first
    first = page["items"][-1]
    assert first["snapshot_url"] == "/media/snapshots/gate/alert000.jpg" and first["end_reason"] == "condition_cleared"
    assert first["time"] == "2026-05-28T20:26:40.000+00:00"
    assert client.get("/api/events", params={"camera": "gate"}).json()["total"] == 6
    assert client.get("/api/events", params={"camera": "gate", "action": "running"}).json()["total"] == 3
    window = {"since": "2026-05-28T20:28:00Z", "until": "2026-05-28T20:31:00"}  # alerts 2, 3, 4 (naive = UTC)
    assert [e["alert_id"] for e in client.get("/api/events", params=window).json()["items"]] == [
        "alert004",
        "alert003",
        "alert002",
    ]
    assert client.get("/api/events", params={"since": T0 + 600}).json()["total"] == 2  # epoch seconds work too
    paged = client.get("/api/events", params={"limit": 5, "offset": 10}).json()
    assert paged["total"] == 12 and len(paged["items"]) == 2
    assert client.get("/api/events", params={"limit": 0}).status_code == 422
    assert client.get("/api/events", params={"since": "yesterday"}).status_code == 422
    event = client.get("/api/events/alert003").json()
    assert event["active"] is False and event["duration_s"] == 2.0
    assert client.get("/api/events/alert004").json()["active"] is True
    assert client.get("/api/events/missing").status_code == 404
    snapshot = client.get("/api/events/alert003/snapshot")
    assert snapshot.status_code == 200 and snapshot.headers["content-type"] == "image/jpeg"
    assert snapshot.content[:2] == b"\xff\xd8"
    filters = client.get("/api/filters").json()
    assert filters["cameras"] == ["gate", "hall"] and "running" in filters["actions"] and filters["rules"] == ["run"]


def test_pages_static_and_docs_work_offline(client: TestClient) -> None:
    for path in ("/", "/events"):
        page = client.get(path)
        assert page.status_code == 200 and "har-stream" in page.text
    assert client.get("/static/live.js").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()  # swagger UI is served locally
    spec = client.get("/openapi.json").json()
    assert {"/api/cameras", "/api/events", "/api/events/{alert_id}", "/api/health", "/api/live"} <= set(spec["paths"])


def test_media_serves_snapshots(client: TestClient) -> None:
    response = client.get("/media/snapshots/gate/alert000.jpg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"


@contextlib.contextmanager
def serving(runtime: SiteRuntime, **server_settings: object) -> Iterator[int]:
    """The app of ``runtime`` on a real uvicorn server on 127.0.0.1, run as ``serve`` runs it; yields its port."""
    port = free_port()
    settings = runtime.site.server.model_copy(update={"host": "127.0.0.1", "port": port, **server_settings})
    server = uvicorn.Server(uvicorn_config(create_app(runtime), settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_server(api_runtime: SiteRuntime) -> Iterator[tuple[int, SiteRuntime]]:
    """The app on a real uvicorn server on 127.0.0.1 (raw requests are not normalised by a client)."""
    with serving(api_runtime) as port:
        yield port, api_runtime
        api_runtime.stopping.set()


def raw_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    given_host = any(key.lower() == "host" for key in headers or {})
    conn.putrequest("GET", path, skip_host=given_host, skip_accept_encoding=True)  # sent exactly as written
    for key, value in (headers or {}).items():
        conn.putheader(key, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body, dict(response.getheaders())


def test_path_traversal_is_refused(live_server: tuple[int, SiteRuntime]) -> None:
    port, runtime = live_server
    media = runtime.media_root
    outside = media.parent / "secret.txt"
    outside.write_text("TOP-SECRET")
    (media / "snapshots" / "gate" / "link.jpg").symlink_to(outside)
    (media / "snapshots" / "notes.txt").write_text("not a snapshot")
    assert raw_get(port, "/media/snapshots/gate/alert000.jpg")[0] == 200
    attempts = [
        "/media/../secret.txt",
        "/media/snapshots/../../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/snapshots/%2e%2e/%2e%2e/secret.txt",
        "/media/snapshots/..%2f..%2fsecret.txt",
        "/media/snapshots%2f..%2f..%2fsecret.txt",
        "/media/%252e%252e/secret.txt",
        f"/media/{outside}",
        f"/media//{outside}",
        f"/media/%2F{str(outside).lstrip('/').replace('/', '%2F')}",
        "/media/snapshots/gate/link.jpg",  # a symlink out of the media folder
        "/media/events.db",  # the database lives in the media folder but is not media
        "/media/snapshots/../events.db",
        "/media/snapshots/notes.txt",
        "/media/snapshots/gate/alert000.jpg%00.txt",
        "/media/snapshots\\..\\..\\secret.txt",
        "/media/",
        "/media/snapshots",
    ]
    for path in attempts:
        status, body, _ = raw_get(port, path)
        assert status in (400, 403, 404), (path, status)
        assert b"TOP-SECRET" not in body and b"SQLite" not in body, path


def test_token_is_required_and_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    runtime = SiteRuntime(make_site(tmp_path, host="0.0.0.0", token=TOKEN))
    seed(runtime, 2)
    try:
        with (
            caplog.at_level(logging.DEBUG),
            TestClient(create_app(runtime), base_url="http://localhost", follow_redirects=False) as client,
        ):
            for path in ("/api/cameras", "/api/events", "/media/snapshots/gate/alert000.jpg", "/docs", "/openapi.json"):
                denied = client.get(path)
                assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Bearer"), path
            assert client.get("/", headers={"Accept": "text/html"}).status_code == 401
            assert client.get("/api/events", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
            assert client.get("/api/events", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
            assert client.get("/api/events", params={"token": TOKEN}).status_code == 200
            # Opening a page with ?token= sets an HttpOnly cookie and drops the token from the address.
            login = client.get("/events", params={"token": TOKEN, "camera": "gate"}, headers={"Accept": "text/html"})
            assert login.status_code == 303 and login.headers["location"] == "/events?camera=gate"
            assert "httponly" in login.headers["set-cookie"].lower()
            assert client.get("/api/cameras").status_code == 200  # the cookie now authorises
            assert client.get("/media/snapshots/gate/alert000.jpg").status_code == 200
        server_logs = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]  # not the client's
        assert not any(TOKEN in line for line in server_logs)
    finally:
        runtime.stop()


def test_token_login_never_redirects_to_another_host(tmp_path: Path) -> None:
    """A link such as //evil.example/?token=T must land on this server, not on evil.example (real server)."""
    runtime = SiteRuntime(make_site(tmp_path, host="0.0.0.0", token=TOKEN))
    try:
        with serving(runtime) as port:
            for path in ("//evil.example/", "///evil.example/x", "/\\evil.example/", "//evil.example/events"):
                status, _, headers = raw_get(port, f"{path}?token={TOKEN}", {"Accept": "text/html"})
                location = headers.get("location", "")
                assert status == 303, (path, status)
                # A single leading slash: a path on this server (//host or /\host would leave for another host).
                assert location.startswith("/") and not location.startswith(("//", "/\\")), (path, location)
            status, _, headers = raw_get(port, f"/events?token={TOKEN}&camera=gate", {"Accept": "text/html"})
            assert status == 303 and headers["location"] == "/events?camera=gate"
    finally:
        runtime.stop()


def test_foreign_host_names_are_refused_dns_rebinding(tmp_path: Path) -> None:
    """A page on evil.example whose name was rebound to 127.0.0.1 must not read alerts or live views."""
    runtime = SiteRuntime(make_site(tmp_path))
    seed(runtime, 2)
    try:
        with serving(runtime) as port:
            for path in ("/api/events", "/api/cameras", "/api/health", "/", "/api/cameras/gate/frame.jpg"):
                status, body, _ = raw_get(port, path, {"Host": f"evil.example:{port}"})
                assert status == 421, (path, status)
                assert b"server.allowed_hosts" in body and b"alert" not in body.lower().replace(b"allowed", b"")
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
                assert raw_get(port, "/api/events", {"Host": host})[0] == 200, host
    finally:
        runtime.stop()


def test_allowed_hosts_lets_a_configured_name_in(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.server.allowed_hosts.append("Cams.Example.org")
    runtime = SiteRuntime(site)
    try:
        with TestClient(create_app(runtime), base_url="http://cams.example.org") as client:
            assert client.get("/api/events").status_code == 200
        with TestClient(create_app(runtime), base_url="http://other.example.org") as client:
            refused = client.get("/api/events")
            assert refused.status_code == 421 and "server.allowed_hosts" in refused.json()["detail"]
    finally:
        runtime.stop()


def _closed_by_server(sock: socket.socket, wait_s: float) -> bool:
    """Whether the server closes ``sock`` within ``wait_s`` (reads until EOF, a reset or the wait ends)."""
    sock.settimeout(wait_s)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_slow_header_connections_are_closed_and_others_served(tmp_path: Path) -> None:
    """Clients that never finish their request headers are cut off; complete requests and streams are not."""
    runtime = SiteRuntime(make_site(tmp_path))
    seed(runtime, 2)
    try:
        with serving(runtime, header_timeout_s=1.0) as port:
            slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
            for i, sock in enumerate(slow):  # silent, half a request line, headers without the blank line
                sock.sendall([b"", b"GET /api/ev", b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"][i % 3])
            trickle = socket.create_connection(("127.0.0.1", port))
            live = socket.create_connection(("127.0.0.1", port))
            live.sendall(f"GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert raw_get(port, "/api/events")[0] == 200  # served while the slow ones hang
            for byte in b"GET /api/events HTTP/1.1\r\n":  # one byte every 0.1 s: never done in time
                try:
                    trickle.sendall(bytes([byte]))
                except OSError:
                    break
                threading.Event().wait(0.1)
            assert all(_closed_by_server(sock, 30) for sock in slow)
            assert _closed_by_server(trickle, 30)
            assert live.recv(4096).startswith(b"HTTP/1.1 200")
            assert not _closed_by_server(live, 0.5)  # a response in progress is never cut by the header deadline
            assert raw_get(port, "/api/events")[0] == 200
            for sock in [*slow, trickle, live]:
                sock.close()
    finally:
        runtime.stopping.set()
        runtime.stop()
