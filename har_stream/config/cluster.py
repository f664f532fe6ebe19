"""The ``cluster`` section of a site config: which engine runs the cameras and what each camera needs."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from har_stream.config.base import StrictModel

#: ``host:port`` of a Ray cluster's GCS (what ``ray start --head`` prints).
_HOST_PORT = re.compile(r"^\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}$")


class CameraResources(StrictModel):
    """What Ray reserves on a node for one camera (a camera is placed only where these are free)."""

    num_cpus: Annotated[float, Field(ge=0, le=1024)] = 1.0
    num_gpus: Annotated[float, Field(ge=0, le=64)] = 0.0
    #: Memory to reserve, in MiB (None: no reservation).
    memory_mb: Annotated[int, Field(ge=1)] | None = None
    #: Custom node resources, e.g. {camera_node: 1} to keep cameras off nodes started without it.
    resources: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)


class ClusterConfig(StrictModel):
    """Run each camera's pipeline in a Ray actor on any node of a cluster; the dashboard and store stay here."""

    engine: Literal["ray"]
    #: ``auto`` (the cluster this machine joined with ``ray start``), ``local`` (a private Ray on this machine),
    #: ``host:port`` (a cluster's GCS) or ``ray://host:10001`` (Ray Client).
    address: str = "auto"
    camera_resources: CameraResources = CameraResources()
    #: Times Ray restarts a camera's actor (on any node) after its process or node dies; -1: without limit.
    max_restarts: Annotated[int, Field(ge=-1, le=1_000_000)] = -1
    #: How often the head collects each camera's alert events and health.
    poll_interval_s: Annotated[float, Field(gt=0, le=10)] = 0.25
    #: Live-view frames per second shipped from each camera to the head (the dashboard's live view).
    live_fps: Annotated[float, Field(gt=0, le=30)] = 2.0
    #: A camera that has not answered for this long is shown as ``reassigning``.
    reassigning_after_s: Annotated[float, Field(gt=0, le=600)] = 3.0
    #: Ray namespace of the camera actors.
    namespace: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")] = "har-stream"

    @field_validator("address")
    @classmethod
    def _known_address(cls, address: str) -> str:
        address = address.strip()
        if address in ("auto", "local") or address.startswith("ray://") or _HOST_PORT.match(address):
            return address
        raise ValueError(f"expected auto, local, host:port or ray://host:port, got {address!r}")
