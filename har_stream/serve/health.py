"""What every camera of a site offers ``serve``: its health as one typed model, and the interface it implements.

A camera is either a local :class:`~har_stream.serve.camera.CameraWorker` (a thread of this process) or, in
cluster mode, a :class:`~har_stream.serve.cluster.supervisor.RemoteCamera` (a Ray actor somewhere in the cluster).
Both implement :class:`CameraHandle`, and both report :class:`CameraHealth`: the API, live updates, MQTT
and metrics read that model only, so a camera that has not reported yet still has a complete health.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from har_stream.config.schema import HarStreamConfig
    from har_stream.serve.live import LatestFrame

#: The status of a camera that has not processed (or, remote, not reported) anything yet.
STARTING = "starting"
#: The ``node`` of a camera that runs in this process.
LOCAL_NODE = "local"


class LineCount(BaseModel):
    """People who crossed one counting line since the camera started (``lines`` of its config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line: str
    in_count: int = Field(description="crossings in the line's in_direction")
    out_count: int = Field(description="crossings the other way")


class ZoneOccupancy(BaseModel):
    """People in one zone now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zone: str
    people: int = Field(description="people whose feet are in the zone on the newest processed frame")


class CameraHealth(BaseModel):
    """A camera's connection state and counters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    status: str = Field(
        description="starting, connecting, connected, reconnecting, lost, finished, error, stopped; in cluster mode"
        " also reassigning (the camera moves to another node)"
    )
    connected: bool
    source: str | None = Field(description="the source, with any password hidden")
    fps_in: float = Field(description="frames per second read from the source")
    fps_processed: float = Field(description="frames per second through the pipeline")
    frames_in: int
    frames_processed: int
    frames_dropped: int = Field(description="live frames dropped because processing was behind")
    reconnects: int = Field(description="attempts to reopen the source")
    outages: int = Field(description="times the source went down, however many attempts each took")
    decode_errors: int
    frame_age_s: float | None = Field(description="seconds since the newest processed frame was captured")
    active_alerts: int
    people: int | None = Field(None, description="people tracked in the newest processed frame")
    width: int | None
    height: int | None
    last_frame_at: float | None = Field(description="epoch seconds of the newest live frame")
    error: str | None
    line_counts: list[LineCount] = Field(default_factory=list, description="per counting line, in and out since start")
    zone_occupancy: list[ZoneOccupancy] = Field(default_factory=list, description="per zone, people in it now")
    # Where the camera runs: "local" and this machine's host name, or in cluster mode its Ray node and host.
    node: str | None = Field(
        None, description="'local' (this process) or, in cluster mode, the Ray node id (null until it reports)"
    )
    host: str | None = Field(None, description="the host name of the machine the camera runs on")
    # Cluster mode only (null for a camera of this process).
    pid: int | None = Field(None, description="cluster mode: the camera's worker process")
    moves: int | None = Field(None, description="cluster mode: times the camera moved to another worker")
    open_alerts: int | None = Field(None, description="cluster mode: alerts open as the head counts them")

    @classmethod
    def starting(cls, name: str, source: str | None) -> CameraHealth:
        """The health of a camera that has processed nothing yet: counters 0, no frame, no error."""
        return cls(
            name=name,
            status=STARTING,
            connected=False,
            source=source,
            fps_in=0.0,
            fps_processed=0.0,
            frames_in=0,
            frames_processed=0,
            frames_dropped=0,
            reconnects=0,
            outages=0,
            decode_errors=0,
            frame_age_s=None,
            active_alerts=0,
            width=None,
            height=None,
            last_frame_at=None,
            error=None,
        )

    def as_json(self) -> dict[str, Any]:
        """The JSON object live updates and MQTT send (the same fields as the API)."""
        return self.model_dump(mode="json")

    # Read access by key, as when health was a plain dict (scripts outside the package still read it that way).
    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in type(self).model_fields and getattr(self, key) is not None


@runtime_checkable
class CameraHandle(Protocol):
    """One camera as ``serve`` uses it, local (:class:`CameraWorker`) or remote (:class:`RemoteCamera`)."""

    name: str
    config: HarStreamConfig
    #: The newest annotated frame (JPEG) for the live view.
    live: LatestFrame

    def start(self) -> Self:
        """Start processing (returns at once)."""
        ...

    def stop(self, timeout: float = 30.0) -> None:
        """Stop processing; open alerts get their ends."""
        ...

    def health(self) -> CameraHealth:
        """Status and counters now; complete from construction on, before the camera has done anything."""
        ...

    def stage_totals(self) -> dict[str, tuple[int, float]]:
        """Per pipeline stage: frames timed and seconds spent in total."""
        ...
