"""Run one pipeline stage on its own thread, a frame or two ahead of the stages after it."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from har_stream.frame import FrameRecord

#: Reads the next record, or None if none arrived within the timeout; raises StopIteration at the end.
RecordReader = Callable[[float], FrameRecord | None]


class _End:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class StageThread:
    """Applies ``stage`` to records from ``upstream`` on a worker thread; :meth:`read` hands them out in order.

    The queue between the worker and the reader holds ``depth`` records, so the worker runs at most that far
    ahead (a live source keeps dropping its oldest frames meanwhile, so latency stays bounded). Exceptions,
    StopIteration included, reach the reader after the records that came before them. The stage's time is
    stored in ``record.timings[name]``.
    """

    def __init__(self, upstream: RecordReader, stage: Callable[[FrameRecord], FrameRecord], name: str, depth: int = 2):
        self.upstream = upstream
        self.stage = stage
        self.name = name
        self._queue: queue.Queue[FrameRecord | _End] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stage-{name}", daemon=True)
        self._thread.start()

    def _put(self, item: FrameRecord | _End) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                record = self.upstream(0.1)
                if record is None:
                    continue
                start = time.perf_counter()
                self.stage(record)
                record.timings[self.name] = (time.perf_counter() - start) * 1000
            except BaseException as exc:  # handed to the reader, in order
                self._put(_End(exc))
                return
            if not self._put(record):
                return

    def read(self, timeout: float) -> FrameRecord | None:
        """The next processed record, None on timeout; re-raises the worker's exception at the end."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, _End):
            raise item.error
        return item

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker and wait for it."""
        self._stop.set()
        self._thread.join(timeout)


def inline_stage(upstream: RecordReader, stage: Callable[[FrameRecord], FrameRecord], name: str) -> RecordReader:
    """The same contract as :class:`StageThread.read`, running ``stage`` on the caller's thread."""

    def read(timeout: float) -> FrameRecord | None:
        record = upstream(timeout)
        if record is not None:
            start = time.perf_counter()
            stage(record)
            record.timings[name] = (time.perf_counter() - start) * 1000
        return record

    return read
