"""The camera actor: one camera's :class:`~har_stream.serve.camera.CameraWorker` inside a Ray worker process.

The worker runs the unchanged pipeline; its alert events go to an :class:`EventRelay` that the head drains.
Ray restarts the actor (on any node with room) when its process or node dies; ``__init__`` then runs again,
reopens the source and reports a new ``incarnation``, which tells the head that alerts of the old one were lost.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from har_stream.config.schema import HarStreamConfig
from har_stream.config.site import MediaConfig
from har_stream.serve.camera import CameraWorker
from har_stream.serve.cluster.relay import EventRelay


class CameraActor:
    """Plain class; :mod:`har_stream.serve.cluster.supervisor` turns it into a Ray actor with the site's options."""

    def __init__(self, config: HarStreamConfig, media: MediaConfig, cwd: str | None = None) -> None:
        if cwd and os.path.isdir(cwd):
            os.chdir(cwd)  # one actor per process: relative paths in the config mean what they mean on the head
        self.incarnation = uuid.uuid4().hex[:12]
        self.node = _node_id()
        self.host = socket.gethostname()
        self.relay = EventRelay()
        self.worker = CameraWorker(config, media, self.relay).start()
        self._frame_sent = 0

    def drain(self, incarnation: str | None, acked: int, want_frame: bool) -> dict[str, Any]:
        """Alert events not yet acknowledged (``acked`` counts only for this incarnation), health, a new frame."""
        events = self.relay.pending(acked if incarnation == self.incarnation else 0)
        frame = None
        if want_frame:
            seq, jpeg = self.worker.live.get()
            if seq != self._frame_sent:
                self._frame_sent, frame = seq, jpeg
        return {
            "incarnation": self.incarnation,
            "node": self.node,
            "host": self.host,
            "pid": os.getpid(),
            "events": events,
            "health": self.worker.health().as_json(),  # plain data over the wire; the head validates it
            "stages": self.worker.stage_totals(),
            "frame": frame,
            "relay_dropped": self.relay.dropped,
        }

    def stop(self, timeout: float, incarnation: str | None, acked: int) -> dict[str, Any]:
        """Stop the pipeline (open alerts get their ``shutdown`` ends) and return the last events."""
        self.worker.stop(timeout)
        return self.drain(incarnation, acked, want_frame=False)


def _node_id() -> str:
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # not in a Ray worker (e.g. used directly)
        return socket.gethostname()
