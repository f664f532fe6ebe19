"""Head side: one :class:`RemoteCamera` per camera stands where a local camera worker would.

Its thread polls the camera's Ray actor for alert events, health and a low-rate live frame, hands events to
the hub exactly once (:class:`AlertLedger`), and notices when Ray has moved the camera: while the actor does
not answer the camera is ``reassigning``; when a new incarnation answers (or Ray gives up on the actor) the
alerts the lost worker left open are ended with reason ``worker_lost``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from pydantic import ValidationError

from har_stream.config.cluster import ClusterConfig
from har_stream.config.schema import HarStreamConfig
from har_stream.config.site import MediaConfig, SiteConfig
from har_stream.serve.cluster.ledger import AlertLedger
from har_stream.serve.health import CameraHealth
from har_stream.serve.hub import AlertHub
from har_stream.serve.live import LatestFrame
from har_stream.sources import redact

log = logging.getLogger(__name__)

#: Statuses only a remote camera has.
REASSIGNING, GONE = "reassigning", "error"
#: Seconds to wait for one reply before polling again (the actor keeps the unacknowledged events).
REPLY_TIMEOUT_S = 2.0
#: Seconds without a first answer after which health says the camera is waiting for a node.
PLACEMENT_HINT_S = 30.0


def remote_cameras(site: SiteConfig, hub: AlertHub) -> dict[str, RemoteCamera]:
    """Join the site's cluster and make a (not yet started) remote camera for every camera."""
    from har_stream.serve.cluster.engine import connect

    assert site.cluster is not None
    connect(site.cluster)
    media = site.media.model_copy(update={"folder": site.media.folder.resolve()})
    return {c.camera: RemoteCamera(c, media, hub, site.cluster) for c in site.cameras}


class RemoteCamera:
    """A camera running as a Ray actor somewhere in the cluster: a :class:`~har_stream.serve.health.CameraHandle`.

    Until its worker first reports, its health is :meth:`CameraHealth.starting` (counters 0, no frame).
    """

    def __init__(self, config: HarStreamConfig, media: MediaConfig, hub: AlertHub, cluster: ClusterConfig) -> None:
        self.config = config
        self.name = config.camera
        self.media = media
        self.hub = hub
        self.cluster = cluster
        self.live = LatestFrame()
        self.ledger = AlertLedger()
        #: Times the camera moved to a new worker, and the seconds each move took (silence to first answer).
        self.moves: list[float] = []
        self._actor: Any = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._health: CameraHealth | None = None  # as the worker last reported it
        self._stages: dict[str, tuple[int, float]] = {}
        self._incarnation: str | None = None
        self._acked = 0
        self._last_reply: float | None = None
        self._silent_since: float | None = None
        self._gone: str | None = None
        self._stopped = False
        self._next_frame = 0.0
        self._started_at: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"remote-camera-{self.name}", daemon=True)

    # -- control -------------------------------------------------------------------------------------
    def start(self) -> RemoteCamera:
        """Ask Ray for the camera's actor and start collecting from it."""
        import ray

        resources = self.cluster.camera_resources
        options: dict[str, Any] = {
            "name": f"camera:{self.name}",
            "num_cpus": resources.num_cpus,
            "num_gpus": resources.num_gpus,
            "max_restarts": self.cluster.max_restarts,
            "max_task_retries": 0,  # a lost reply is not retried: its events come again with the next drain
            "max_concurrency": 2,  # drain answers while stop() waits for the pipeline
        }
        if resources.resources:
            options["resources"] = dict(resources.resources)
        if resources.memory_mb is not None:
            options["memory"] = resources.memory_mb * 1024 * 1024
        from har_stream.serve.cluster.actor import CameraActor

        actor_class = ray.remote(CameraActor)
        self._actor = actor_class.options(**options).remote(self.config, self.media, os.getcwd())
        self._started_at = time.monotonic()
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the pipeline where it runs (its open alerts end as ``shutdown``), collect the last events."""
        self._stop.set()
        if self._thread.is_alive():  # not when never started
            self._thread.join(REPLY_TIMEOUT_S + 5)
        if self._actor is not None and self._gone is None:
            import ray

            try:
                reply = ray.get(self._actor.stop.remote(timeout, self._incarnation, self._acked), timeout=timeout + 5)
                self._handle(reply)
            except Exception as exc:  # the worker is gone or does not answer: its alerts were lost with it
                log.warning("camera %s: no last answer from its worker (%s)", self.name, type(exc).__name__)
            ray.kill(self._actor, no_restart=True)
        self._publish_all(self.ledger.lost(None, self._last_reply or time.time()))
        with self._lock:
            self._stopped = True

    # -- health --------------------------------------------------------------------------------------
    def health(self) -> CameraHealth:
        """The worker's last reported health, with ``reassigning`` while Ray moves it, and where it runs."""
        with self._lock:
            health = self._health or CameraHealth.starting(self.name, _source(self.config))
            silent_since, gone, stopped = self._silent_since, self._gone, self._stopped
            last_reply = self._last_reply
        now = time.monotonic()
        update: dict[str, Any] = {}
        if last_reply is None and self._started_at is not None and now - self._started_at > PLACEMENT_HINT_S:
            wanted = self.cluster.camera_resources.model_dump(exclude_defaults=True) or {"num_cpus": 1.0}
            update["error"] = f"waiting for Ray to place the camera on a node with {wanted} free"
        if stopped:
            update.update(status="stopped", connected=False)
        elif gone is not None:
            update.update(status=GONE, connected=False, error=gone, fps_processed=0.0)
        elif silent_since is not None and now - (last_reply or now) >= self.cluster.reassigning_after_s:
            update.update(status=REASSIGNING, connected=False, fps_processed=0.0)
        update.update(last_frame_at=self.live.updated_at, moves=len(self.moves), open_alerts=self.ledger.open_alerts)
        return health.model_copy(update=update)

    def stage_totals(self) -> dict[str, tuple[int, float]]:
        """Per pipeline stage: frames timed and seconds spent, as the worker last reported (since its start)."""
        with self._lock:
            return dict(self._stages)

    # -- collecting ----------------------------------------------------------------------------------
    def _run(self) -> None:
        import ray
        from ray.exceptions import ActorDiedError, GetTimeoutError, RayActorError

        while not self._stop.is_set():
            want_frame = time.monotonic() >= self._next_frame
            ref = self._actor.drain.remote(self._incarnation, self._acked, want_frame)
            try:
                reply = ray.get(ref, timeout=REPLY_TIMEOUT_S)
            except ActorDiedError as exc:  # a task in flight died with the worker; final only if Ray gave up
                if _actor_state(self._actor) == "DEAD":
                    self._give_up(exc)
                    return
                self._silent()
                self._stop.wait(self.cluster.poll_interval_s)
                continue
            except (GetTimeoutError, RayActorError) as exc:  # node or process died, restarting, or slow
                self._silent()
                log.debug("camera %s: no answer (%s)", self.name, type(exc).__name__)
                self._stop.wait(self.cluster.poll_interval_s)
                continue
            if want_frame and reply["frame"] is not None:
                self._next_frame = time.monotonic() + 1.0 / self.cluster.live_fps
            self._handle(reply)
            self._stop.wait(self.cluster.poll_interval_s)

    def _silent(self) -> None:
        with self._lock:
            if self._silent_since is None:
                self._silent_since = time.monotonic()

    def _handle(self, reply: dict[str, Any]) -> None:
        now, wall = time.monotonic(), time.time()
        incarnation = reply["incarnation"]
        if incarnation != self._incarnation:
            if self._incarnation is not None:
                took = now - (self._silent_since or now)
                self.moves.append(took)
                ended = self.ledger.lost(self._incarnation, self._last_wall or wall)
                log.warning(
                    "camera %s: running again on node %s (host %s) after %.1fs; %d alerts ended as worker_lost",
                    self.name, reply["node"][:12], reply["host"], took, len(ended),
                )  # fmt: skip
                self._publish_all(ended)
            self._incarnation, self._acked = incarnation, 0
        for seq, kind, args in reply["events"]:
            if seq <= self._acked:
                continue
            if kind == "alert":
                event, snapshot = args
                for accepted in self.ledger.accept(event, incarnation, wall):
                    self.hub.publish_alert(accepted, snapshot if accepted is event else None)
            elif kind == "clip":
                self.hub.clip_ready(*args)
            self._acked = seq
        if reply["frame"] is not None:
            self.live.put(reply["frame"])
        health = self._reported_health(reply)
        with self._lock:
            self._health = health
            self._stages = {stage: (int(n), float(t)) for stage, (n, t) in reply.get("stages", {}).items()}
            self._last_reply, self._silent_since = now, None
        self._last_wall = wall

    _last_wall: float | None = None
    _unreadable: str | None = None  # the incarnation whose unreadable health was logged

    def _reported_health(self, reply: dict[str, Any]) -> CameraHealth:
        where = {"node": reply["node"], "host": reply["host"], "pid": reply["pid"]}
        try:
            return CameraHealth.model_validate({**reply["health"], **where})
        except ValidationError as exc:  # a worker on other code than the head: keep collecting its alerts
            error = f"the camera's worker reports a health this head cannot read ({exc.error_count()} errors)"
            if self._unreadable != reply["incarnation"]:
                self._unreadable = reply["incarnation"]
                log.error("camera %s: %s; does every node run the head's har-stream? %s", self.name, error, exc)
            starting = CameraHealth.starting(self.name, _source(self.config))
            return starting.model_copy(update={"status": GONE, "error": error, **where})

    def _publish_all(self, events: list[Any]) -> None:
        for event in events:
            self.hub.publish_alert(event)

    def _give_up(self, exc: Exception) -> None:
        reason = f"camera worker lost and not restarted: {str(exc).splitlines()[0]}"
        log.error("camera %s: %s", self.name, reason)
        self._publish_all(self.ledger.lost(self._incarnation, self._last_wall or time.time()))
        with self._lock:
            self._gone = reason


def _actor_state(actor: Any) -> str:
    """The actor's state in Ray's control store: ALIVE, RESTARTING, DEAD, ... (UNKNOWN if it cannot be read)."""
    try:
        from ray._private import state  # the GCS actor table; ray.util.state would need Ray's dashboard

        return str(state.actors(actor._actor_id.hex())["State"])
    except Exception:
        return "UNKNOWN"


def _source(config: HarStreamConfig) -> str | None:
    return redact(str(config.source.uri)) if config.source.uri is not None else None
