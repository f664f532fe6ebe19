"""The web app: dashboard and events pages, the JSON API, live views (MJPEG), live updates (SSE) and media."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

from har_stream import __version__
from har_stream.actions import RULE_ACTIONS, UNKNOWN_ACTION
from har_stream.config.schema import SEVERITIES
from har_stream.rules.events import Alert, Verdict
from har_stream.serve.auth import PRINCIPAL, Principal, TokenAuth
from har_stream.serve.health import CameraHandle, CameraHealth
from har_stream.serve.hosts import HostCheck, allowed_host_names
from har_stream.serve.media import media_type, resolve_media
from har_stream.serve.metrics import CONTENT_TYPE, metrics_registry, render
from har_stream.serve.runtime import SiteRuntime
from har_stream.store import EventQuery

STATIC = Path(str(files("har_stream.serve") / "static"))
KEEPALIVE_S = 15.0
POLL_S = 0.5
#: Longest note a review may carry.
NOTE_MAX = 500


class ErrorBody(BaseModel):
    """An error answer."""

    detail: str


class Camera(CameraHealth):
    """A camera with its links, zones and rules."""

    live_url: str = Field(description="MJPEG live view of the annotated frames")
    frame_url: str = Field(description="the newest annotated frame as JPEG")
    zones: list[str]
    rules: list[str]


class Event(Alert):
    """An alert: one person matching one rule, from its start to its end."""


class EventPage(BaseModel):
    """One page of alerts, newest first."""

    total: int = Field(description="alerts matching the filters")
    limit: int
    offset: int
    items: list[Event]


class Filters(BaseModel):
    """Values the events page offers as filters."""

    cameras: list[str]
    actions: list[str]
    rules: list[str]
    severities: list[str]


class Session(BaseModel):
    """Who the request's token is, what it may do, and the CSRF token for its writes."""

    name: str = Field(description="the token's name (what a review records); 'local' without tokens")
    role: Literal["viewer", "operator"]
    can_review: bool
    csrf_token: str = Field(description="send as X-CSRF-Token on writes authorised by the cookie alone")


class ReviewRequest(BaseModel):
    """An operator's verdict on an alert."""

    model_config = {"extra": "forbid"}

    verdict: Verdict
    note: str | None = Field(None, max_length=NOTE_MAX, description=f"optional, at most {NOTE_MAX} characters")


class StoreHealth(BaseModel):
    """The event store."""

    schema_version: int
    alerts: int


class ServerHealth(BaseModel):
    """The server, its cameras, its store and alert delivery."""

    status: str
    version: str
    uptime_s: float
    cameras: list[CameraHealth]
    store: StoreHealth
    notify: dict[str, Any]


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "not found"}}
REVIEW_ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    403: {"model": ErrorBody, "description": "a viewer token, or no token in a header and no CSRF token"},
}
DESCRIPTION = """Live action-recognition alerts from every camera of a har-stream site.

Times in filters are ISO 8601 (naive times are UTC) or epoch seconds. When the server has a token
(always when bound to a non-loopback address), send it as `Authorization: Bearer <token>` or `X-HAR-Token`.
Tokens are viewers or operators (who may review alerts). A write (a review) needs the token in a header, or
the `X-CSRF-Token` that `GET /api/session` gives: the browser's cookie alone is refused.
Live updates: `GET /api/live` is a server-sent events stream with `alert` and `health` events."""


def create_app(runtime: SiteRuntime) -> FastAPIOffline:
    """The ASGI app for ``runtime`` (started or not; the caller starts and stops it)."""
    site = runtime.site
    app = FastAPIOffline(
        title="har-stream",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "cameras", "description": "cameras, their health and live views"},
            {"name": "events", "description": "alerts in the event store"},
            {"name": "server", "description": "server health and live updates"},
        ],
    )
    app.state.runtime = runtime
    registry = metrics_registry(runtime)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def worker(name: str) -> CameraHandle:
        try:
            return runtime.cameras[name]
        except KeyError:
            raise HTTPException(404, f"no camera named {name!r}") from None

    def camera_view(name: str) -> Camera:
        w = worker(name)
        base = f"/api/cameras/{name}"
        return Camera(
            **w.health().model_dump(),
            live_url=f"{base}/stream.mjpeg",
            frame_url=f"{base}/frame.jpg",
            zones=[z.name for z in w.config.zones],
            rules=[r.name for r in w.config.rules],
        )

    # -- pages ---------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def dashboard_page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/events", include_in_schema=False)
    def events_page() -> HTMLResponse:
        return HTMLResponse((STATIC / "events.html").read_text(encoding="utf-8"))

    # -- cameras -------------------------------------------------------------------------------------
    @app.get("/api/cameras", tags=["cameras"], summary="List cameras with health")
    def list_cameras() -> list[Camera]:
        return [camera_view(name) for name in runtime.cameras]

    @app.get("/api/cameras/{name}", tags=["cameras"], summary="One camera", responses=NOT_FOUND)
    def get_camera(name: str) -> Camera:
        return camera_view(name)

    @app.get(
        "/api/cameras/{name}/frame.jpg",
        tags=["cameras"],
        summary="The newest annotated frame",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}, **NOT_FOUND},
    )
    def camera_frame(name: str) -> Response:
        _, jpeg = worker(name).live.get()
        if jpeg is None:
            raise HTTPException(404, f"camera {name!r} has no frame yet")
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get(
        "/api/cameras/{name}/stream.mjpeg",
        tags=["cameras"],
        summary="Live annotated view (MJPEG)",
        description="multipart/x-mixed-replace JPEG stream; use it as an image source. Endless.",
        response_class=StreamingResponse,
        responses={200: {"content": {"multipart/x-mixed-replace": {}}}, **NOT_FOUND},
    )
    async def camera_stream(name: str) -> StreamingResponse:
        live = worker(name).live
        interval = 1.0 / site.media.live_fps

        async def parts() -> Any:
            last = 0
            while not runtime.stopping.is_set():
                seq, jpeg = live.get()
                if jpeg is not None and seq != last:
                    last = seq
                    head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                    yield head.encode("ascii") + jpeg + b"\r\n"
                await asyncio.sleep(interval)

        return StreamingResponse(
            parts(),
            media_type="multipart/x-mixed-replace; boundary=frame",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # -- events --------------------------------------------------------------------------------------
    @app.get("/api/events", tags=["events"], summary="Search alerts")
    def list_events(
        camera: Annotated[str | None, Query(description="camera name")] = None,
        action: Annotated[str | None, Query(description="action label, e.g. running")] = None,
        rule: Annotated[str | None, Query(description="rule name")] = None,
        severity: Annotated[str | None, Query(description="info, low, medium, high or critical")] = None,
        since: Annotated[dt.datetime | None, Query(description="alerts that started at or after")] = None,
        until: Annotated[dt.datetime | None, Query(description="alerts that started at or before")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        review: Annotated[
            Literal["unreviewed", "reviewed", "confirmed", "false_alarm"] | None, Query(description="review state")
        ] = None,
        unreviewed_first: Annotated[bool, Query(description="unreviewed alerts first, then reviewed ones")] = False,
    ) -> EventPage:
        query = EventQuery(
            camera, action, rule, severity, _epoch(since), _epoch(until), limit, offset, review, unreviewed_first
        )
        total, rows = runtime.store.query(query)
        return EventPage(total=total, limit=limit, offset=offset, items=[_served(r) for r in rows])

    @app.get("/api/events/{alert_id}", tags=["events"], summary="One alert", responses=NOT_FOUND)
    def get_event(alert_id: str) -> Event:
        row = runtime.store.get(alert_id)
        if row is None:
            raise HTTPException(404, f"no alert {alert_id!r}")
        return _served(row)

    @app.post(
        "/api/events/{alert_id}/review",
        tags=["events"],
        summary="Review an alert (operators)",
        description="Mark the alert confirmed or false_alarm, with an optional note; replaces an earlier review. "
        "Records the token's name and the time. Needs an operator token, sent in a header (Authorization: Bearer "
        "or X-HAR-Token), or the cookie plus the X-CSRF-Token from GET /api/session.",
        responses=REVIEW_ERRORS,
    )
    def review_event(alert_id: str, body: ReviewRequest, request: Request) -> Event:
        who = _principal(request)
        if not who.can_review:
            raise HTTPException(403, f"the token {who.name!r} is a viewer; reviewing needs an operator token")
        if not runtime.store.review(alert_id, body.verdict, who.name, body.note or None):
            raise HTTPException(404, f"no alert {alert_id!r}")
        row = runtime.store.get(alert_id)
        if row is None:
            raise HTTPException(404, f"no alert {alert_id!r}")
        runtime.hub.publish_review(row)
        return _served(row)

    @app.get(
        "/api/events/{alert_id}/snapshot",
        tags=["events"],
        summary="The alert's snapshot (JPEG)",
        response_class=FileResponse,
        responses={200: {"content": {"image/jpeg": {}}}, **NOT_FOUND},
    )
    def event_snapshot(alert_id: str) -> FileResponse:
        row = runtime.store.get(alert_id)
        path = resolve_media(runtime.media_root, row.snapshot) if row is not None and row.snapshot else None
        if path is None:
            raise HTTPException(404, f"no snapshot for alert {alert_id!r}")
        return FileResponse(path, media_type="image/jpeg")

    @app.get("/api/filters", tags=["events"], summary="Filter values for the events page")
    def filters() -> Filters:
        rules = sorted({r.name for c in site.cameras for r in c.rules} | set(runtime.store.distinct("rule")))
        cameras = list(runtime.cameras) + [c for c in runtime.store.distinct("camera") if c not in runtime.cameras]
        actions = [*RULE_ACTIONS, UNKNOWN_ACTION]
        return Filters(cameras=cameras, actions=actions, rules=rules, severities=list(SEVERITIES))

    # -- server --------------------------------------------------------------------------------------
    @app.get("/api/session", tags=["server"], summary="Who this token is, its role and its CSRF token")
    def session(request: Request) -> Session:
        who = _principal(request)
        role: Literal["viewer", "operator"] = "operator" if who.role == "operator" else "viewer"
        return Session(name=who.name, role=role, can_review=who.can_review, csrf_token=who.csrf)

    @app.get("/api/health", tags=["server"], summary="Server, camera, store and delivery health")
    def health() -> ServerHealth:
        total, _ = runtime.store.query(EventQuery(limit=0))
        return ServerHealth(
            status="stopping" if runtime.stopping.is_set() else "ok",
            version=__version__,
            uptime_s=round(time.time() - runtime.started_at, 3),
            cameras=[w.health() for w in runtime.cameras.values()],
            store=StoreHealth(schema_version=runtime.store.schema_version(), alerts=total),
            notify=runtime.notify_health(),
        )

    @app.get(
        "/metrics",
        tags=["server"],
        summary="Metrics for Prometheus",
        description="Per camera: fps in and processed, frames in, processed and dropped, frame age, outages "
        "(`har_stream_camera_reconnects_total`), active alerts, time per pipeline stage (summaries in seconds), "
        "line crossings by direction (`har_stream_line_crossings_total`) and people per zone; "
        "alerts started by camera, rule and severity; webhook and MQTT delivery; the server process.",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    def metrics() -> Response:
        return Response(render(registry), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    @app.get(
        "/api/live",
        tags=["server"],
        summary="Live updates (server-sent events)",
        description="Events `alert` (an Event, on start, end and when its clip is ready) and `health` "
        "(a camera's health, about once a second). Endless.",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def live(request: Request) -> StreamingResponse:
        subscriber = runtime.hub.subscribe(asyncio.get_running_loop())

        async def stream() -> Any:
            try:
                yield "retry: 2000\n\n"
                for w in runtime.cameras.values():
                    yield _sse("health", {"type": "health", "camera": w.name, "health": w.health().as_json()})
                idle = 0.0
                while not runtime.stopping.is_set():
                    try:
                        message = await asyncio.wait_for(subscriber.queue.get(), POLL_S)
                    except TimeoutError:
                        idle += POLL_S
                        if idle >= KEEPALIVE_S:
                            idle = 0.0
                            yield ": keepalive\n\n"
                        continue
                    idle = 0.0
                    yield _sse(message["type"], message)
            finally:
                runtime.hub.unsubscribe(subscriber)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

    # -- media ---------------------------------------------------------------------------------------
    @app.get(
        "/media/{path:path}",
        tags=["events"],
        summary="A snapshot or clip from the media folder",
        response_class=FileResponse,
        responses={200: {"content": {"image/jpeg": {}, "video/mp4": {}}}, **NOT_FOUND},
    )
    def media(path: str) -> FileResponse:
        resolved = resolve_media(runtime.media_root, path)
        if resolved is None:
            raise HTTPException(404, "not found")
        return FileResponse(resolved, media_type=media_type(resolved))

    # Always on: without tokens it still names the caller ("local") and asks writes for the CSRF token.
    app.add_middleware(TokenAuth, tokens=site.server.access_tokens)
    # Outermost: a request for a foreign host name is refused before anything else looks at it.
    app.add_middleware(HostCheck, allowed=allowed_host_names(site.server.host, site.server.allowed_hosts))
    return app


def _principal(request: Request) -> Principal:
    principal = request.scope.get(PRINCIPAL)
    if not isinstance(principal, Principal):
        raise HTTPException(403, "no access token")
    return principal


def _served(alert: Alert) -> Event:
    return Event.model_validate(alert, from_attributes=True)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _epoch(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()
