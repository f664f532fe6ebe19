"""``har-stream serve``: run a site's cameras and its web server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from har_stream.config.site import WILDCARD_BINDS, ServerConfig, SiteConfig, is_loopback
from har_stream.serve.app import create_app
from har_stream.serve.protocol import serve_protocol
from har_stream.serve.runtime import SiteRuntime

log = logging.getLogger(__name__)

#: Seconds uvicorn waits at shutdown for responses still running before it cancels them. Ordinary requests take
#: milliseconds and the endless streams end by themselves (or are cut when their client stopped reading).
GRACEFUL_SHUTDOWN_S = 1


class SiteServerError(RuntimeError):
    """The site cannot be served as configured."""


class _Server(uvicorn.Server):
    """uvicorn, telling the site to stop (its cameras and its endless streams) as soon as a stop is requested."""

    def __init__(self, config: uvicorn.Config, runtime: SiteRuntime) -> None:
        super().__init__(config)
        self.runtime = runtime

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.runtime.stopping.set()
        super().handle_exit(sig, frame)


def serve(site: SiteConfig, ready: threading.Event | None = None) -> None:
    """Start the cameras, serve the dashboard and API, and stop everything cleanly on Ctrl-C or SIGTERM."""
    server_config = site.server
    if not server_config.access_tokens and not is_loopback(server_config.host):
        raise SiteServerError(f"refusing to bind {server_config.host} without server.token")
    sock = _listen(server_config.host, server_config.port)  # before any camera starts: fail fast when in use
    runtime = SiteRuntime(site)
    app = create_app(runtime)
    server = _Server(uvicorn_config(app, server_config), runtime)
    if server_config.host in WILDCARD_BINDS and not server_config.public_url:
        log.warning(
            "links in alert messages use %s (this machine's address); set server.public_url if receivers reach "
            "this server by another name", server_config.base_url,
        )  # fmt: skip
    runtime.start()
    # The cameras stop (open alerts closed and delivered) while uvicorn finishes its responses, not after.
    threading.Thread(target=_shutdown_when_stopping, args=(runtime,), name="site-shutdown", daemon=True).start()
    log.info(
        "serving %d cameras on %s (media: %s, store: %s)",
        len(runtime.cameras), server_config.base_url, runtime.media_root, site.store_path,
    )  # fmt: skip
    if ready is not None:
        ready.set()
    # uvicorn re-raises the stop signal once it has shut down; with these handlers in place that re-raise is
    # absorbed, so runtime.stop() below waits for the cameras' shutdown to finish and the exit code is 0.
    previous = {sig: signal.signal(sig, _absorb) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig in previous:
            signal.signal(sig, _force_quit)  # a second Ctrl-C while cameras stop: give up waiting
        try:
            runtime.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def uvicorn_config(app: ASGIApp, server_config: ServerConfig) -> uvicorn.Config:
    """How ``serve`` runs uvicorn: quiet access log, request headers bounded by ``header_timeout_s``."""
    return uvicorn.Config(
        app,
        host=server_config.host,
        port=server_config.port,
        http=serve_protocol(server_config.header_timeout_s),
        log_level="warning",
        access_log=False,  # request lines may carry ?token=...
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        lifespan="off",
    )


def _shutdown_when_stopping(runtime: SiteRuntime) -> None:
    """Shut the site down as soon as a stop is requested (on its own thread: nobody else would see an error)."""
    runtime.stopping.wait()
    try:
        runtime.shutdown()
    except Exception:
        log.exception("stopping the site failed")


def _absorb(signum: int, _frame: FrameType | None) -> None:
    log.info("%s: stopping", signal.Signals(signum).name)


def _force_quit(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise SiteServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
