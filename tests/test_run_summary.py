"""The run summary (har_stream/stats.py RunSummary): its JSON keys are those `har-stream run` has always printed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import supervision as sv

from har_stream.frame import FrameRecord
from har_stream.stats import ClassifierInfo, MeanP95, RunStats, RunSummary, SourceCounters, mean_p95

#: The keys of `har-stream run`'s last line (before outputs, interrupted and error), in order.
SUMMARY_KEYS = [
    "frames",
    "wall_s",
    "fps",
    "stages_ms",
    "frame_age_ms",
    "people_per_frame",
    "classifier_calls_per_frame",
    "alerts_started",
    "source",
    "temporal_model",
    "classifier",
]


def record(index: int, people: int) -> FrameRecord:
    detections = sv.Detections(xyxy=np.zeros((people, 4), np.float32), class_id=np.zeros(people, int))
    return FrameRecord(
        index=index,
        timestamp=index / 10,
        wall_time=1000.0 + index / 10,
        captured_at=0.0,
        image=np.zeros((4, 4, 3), np.uint8),
        detections=detections,
        timings={"detect": 10.0 + index, "track": 1.0},
    )


def finished_summary() -> RunSummary:
    stats = RunStats()
    for i in range(5):
        stats.add(record(i, people=i), frame_age_s=0.05, classifier_calls=i)
    summary = stats.summary()
    summary.stages_ms["encode"] = MeanP95.of([2.0, 4.0])
    summary.source = SourceCounters(
        status="finished", frames_in=5, frames_dropped=0, reconnects=0, outages=0, decode_errors=0, fps_in=25.0
    )
    summary.temporal_model = "none"
    summary.classifier = ClassifierInfo(model="vgg16_seed", runtime="onnx-int8")
    return summary


def test_summary_json_keeps_the_run_commands_keys() -> None:
    data = json.loads(json.dumps(finished_summary().as_json()))
    assert list(data) == SUMMARY_KEYS
    assert data["frames"] == 5 and data["people_per_frame"] == 2.0 and data["classifier_calls_per_frame"] == 2.0
    assert list(data["stages_ms"]) == ["detect", "track", "encode"]
    assert data["stages_ms"]["detect"] == {"mean": 12.0, "p95": 13.8} and data["frame_age_ms"]["mean"] == 50.0
    assert data["source"] == {
        "status": "finished",
        "frames_in": 5,
        "frames_dropped": 0,
        "reconnects": 0,
        "outages": 0,
        "decode_errors": 0,
        "fps_in": 25.0,
    }
    assert data["classifier"] == {"model": "vgg16_seed", "runtime": "onnx-int8"}
    assert RunSummary.model_validate(data).as_json() == data  # the JSON reads back as the same summary


def test_summary_reads_by_key_like_the_dict_it_was() -> None:
    summary = finished_summary()
    assert summary["frames"] == summary.frames == 5
    assert summary["classifier"] == {"model": "vgg16_seed", "runtime": "onnx-int8"}
    assert summary["source"]["frames_in"] == 5 and summary["stages_ms"]["track"] == {"mean": 1.0, "p95": 1.0}
    with pytest.raises(KeyError):
        summary["nope"]


def test_a_summary_of_stats_alone_leaves_out_what_the_pipeline_adds() -> None:
    data = RunStats().summary().as_json()
    assert list(data) == SUMMARY_KEYS[:8] and data["frames"] == 0 and data["frame_age_ms"] == {"mean": 0.0, "p95": 0.0}
    assert RunSummary.empty().as_json()["frames"] == 0
    assert mean_p95([]) == {"mean": 0.0, "p95": 0.0} and mean_p95([1.0, 3.0]) == {"mean": 2.0, "p95": 2.9}
