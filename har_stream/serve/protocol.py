"""The HTTP protocol ``serve`` runs uvicorn with: the request-header deadline, and stalled responses cut at shutdown.

At shutdown uvicorn waits for every response in progress. The endless ones (live views, live updates) end by
themselves once the site is stopping, but only between two writes: a viewer that stopped reading (a background
tab, a dead network) leaves the write blocked until uvicorn's graceful-shutdown timeout cancels it with an
error. Such a response is cut at once instead: nobody is reading it.
"""

from __future__ import annotations

import logging

from har_stream.serve.header_timeout import HeaderTimeoutProtocol

log = logging.getLogger(__name__)


class ServeProtocol(HeaderTimeoutProtocol):
    """:class:`HeaderTimeoutProtocol` that, at shutdown, drops responses whose client has stopped reading."""

    def shutdown(self) -> None:
        """Begin a graceful shutdown of this connection (called by uvicorn)."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and self.flow.write_paused:
            log.debug("closing a response to %s at shutdown: the client is not reading it", self.client)
            self.transport.abort()  # close() would wait for the unread data to be sent first
            return
        super().shutdown()


def serve_protocol(header_timeout_s: float) -> type[ServeProtocol]:
    """A :class:`ServeProtocol` subclass with its request-header deadline set to ``header_timeout_s``."""
    return type("ServeProtocol", (ServeProtocol,), {"header_timeout_s": float(header_timeout_s)})
