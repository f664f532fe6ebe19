"""A stage on its own thread hands records out in order, and errors after the records before them."""

from __future__ import annotations

import numpy as np
import pytest

from har_stream.frame import FrameRecord
from har_stream.stage_thread import StageThread, inline_stage


def upstream_of(n: int, error: BaseException):
    records = iter(
        FrameRecord(index=i, timestamp=i, wall_time=i, captured_at=0, image=np.zeros((2, 2, 3), np.uint8))
        for i in range(n)
    )

    def read(timeout: float) -> FrameRecord | None:
        try:
            return next(records)
        except StopIteration:
            raise error from None

    return read


def mark(record: FrameRecord) -> FrameRecord:
    record.raw_detections = record.index * 10
    return record


@pytest.mark.parametrize("threaded", [True, False])
@pytest.mark.parametrize("error", [StopIteration(), RuntimeError("camera lost")])
def test_records_in_order_then_the_error(threaded: bool, error: BaseException) -> None:
    upstream = upstream_of(20, error)
    worker = StageThread(upstream, mark, "detect", depth=2) if threaded else None
    read = worker.read if worker else inline_stage(upstream, mark, "detect")
    got = []
    with pytest.raises(type(error)):
        while True:
            record = read(1.0)
            if record is not None:
                got.append((record.index, record.raw_detections, "detect" in record.timings))
    if worker:
        worker.close()
    assert got == [(i, i * 10, True) for i in range(20)]
