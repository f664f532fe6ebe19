"""Video-evaluation figures, clip selection, the score collector and the pictures, without any model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv

from har_stream.clips import LabelledClip, save_clip_split
from har_stream.config.schema import HarStreamConfig
from har_stream.frame import ACTION_SCORES, FrameRecord
from har_stream.rules.events import ALERT_END, ALERT_START, AlertEvent
from har_stream.video_eval.clip_result import ClipResult
from har_stream.video_eval.collector import ScoreCollector, thumbnail
from har_stream.video_eval.metrics import action_summary, auroc, average_ranks, roc_points
from har_stream.video_eval.report import contact_sheet, plot_roc, worst_clips
from har_stream.video_eval.results import summary_table
from har_stream.video_eval.selection import ClipSelectionError, flagged_actions, select_split_part
from har_stream.video_eval.uncertainty import group_bootstrap, wilson_interval


def test_average_ranks_share_ties() -> None:
    assert average_ranks(np.array([0.5, 0.1, 0.5, 0.9])).tolist() == [2.5, 1.0, 2.5, 4.0]


def test_auroc_by_hand_with_a_tie() -> None:
    # Positives 0.9, 0.5, 0.3 against negatives 0.5, 0.2: pairs won 2 + (0.5 + 1) + 1 = 4.5 of 6.
    assert auroc([0.9, 0.5, 0.3, 0.5, 0.2], [True, True, True, False, False]) == pytest.approx(0.75)
    assert auroc([0.1, 0.2], [False, True]) == 1.0
    assert auroc([0.2, 0.1], [False, True]) == 0.0
    assert auroc([0.4, 0.4, 0.4], [True, False, False]) == 0.5


def test_auroc_needs_both_classes() -> None:
    assert auroc([0.1, 0.9], [True, True]) is None
    assert auroc([0.1, 0.9], [False, False]) is None
    assert auroc([], []) is None


def test_roc_points_enclose_the_auroc() -> None:
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(40), 1)  # many ties
    positive = rng.random(40) < 0.4
    fpr, tpr = roc_points(scores, positive)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(auroc(scores, positive))


def _clip(name: str, label: str, score: float, alerts: tuple[str, ...] = (), first: float | None = None) -> ClipResult:
    clip = ClipResult(name, label, name, frames=10, scores={"fighting": score}, alerts=list(alerts))
    if first is not None:
        clip.first_alert_s["fighting"] = first
    return clip


def test_action_summary_rates() -> None:
    clips = [
        _clip("f1", "fighting", 0.9, ("fighting",), 1.0),
        _clip("f2", "fighting", 0.8, ("fighting", "fighting"), 3.0),
        _clip("f3", "fighting", 0.2),
        _clip("f4", "fighting", 0.7, ("fighting",), 2.0),
        _clip("n1", "none", 0.6, ("fighting",), 0.5),
        _clip("n2", "none", 0.1),
        _clip("w1", "walking", 0.3, ("running",)),
        _clip("s1", "sitting", 0.95, ("fighting",), 4.0),
        ClipResult("broken", "fighting", "broken", error="cannot open video"),
    ]
    figures = action_summary(clips, "fighting")
    assert (figures["n_pos"], figures["n_neg"], figures["n_none"]) == (4, 4, 2)  # the broken clip is left out
    assert figures["alert_recall"] == 0.75
    assert figures["false_alarm_rate"] == 0.5  # n1 and s1 of four negatives
    assert figures["false_alarm_rate_none"] == 0.5
    assert figures["median_s_to_alert"] == 2.0  # of the positives' first alerts 1, 3, 2
    # Positives 0.9 0.8 0.2 0.7 against 0.6 0.1 0.3 0.95: (3 + 3 + 1 + 3) of 16 pairs.
    assert figures["auroc"] == pytest.approx(10 / 16)
    running = action_summary(clips, "running")
    assert running["auroc"] is None and running["alert_recall"] is None and running["median_s_to_alert"] is None
    assert running["false_alarm_rate"] == pytest.approx(1 / 8)
    table = summary_table({"fighting": figures, "running": running})
    assert figures["alert_recall_ci95"] == [0.301, 0.954]  # Wilson, 3 of 4
    assert (
        "fighting  0.625 [0.133-1.000]  75% [30%-95%]           50%  50% [10%-90%]      4      4         2.0" in table
    )
    assert table.splitlines()[2].startswith("running")


def test_flagged_actions_skip_any_and_unknown() -> None:
    config = HarStreamConfig.model_validate(
        {
            "rules": [
                {"name": "a", "actions": ["fighting", "running"]},
                {"name": "b", "actions": ["*"]},
                {"name": "c", "actions": ["unknown", "running", "sleeping"]},
            ]
        }
    )
    assert flagged_actions(config) == ["fighting", "running", "sleeping"]


def _labelled(tmp_path: Path) -> list[LabelledClip]:
    return [LabelledClip(f"{n}.mp4", label, group, tmp_path / f"{n}.mp4") for n, label, group in (
        ("a", "fighting", "g1"), ("b", "fighting", "g1"), ("c", "none", "g2"), ("d", "none", "g3"))]  # fmt: skip


def test_split_part_selects_only_that_part(tmp_path: Path) -> None:
    clips = _labelled(tmp_path)
    split = save_clip_split(tmp_path / "split.csv", clips[:3], {"a.mp4": "val", "b.mp4": "val", "c.mp4": "train"})
    assert [c.file for c in select_split_part(clips, split, "val")] == ["a.mp4", "b.mp4"]
    assert [c.file for c in select_split_part(clips, split, "train")] == ["c.mp4"]
    with pytest.raises(ClipSelectionError, match="none of the clips in part 'test'"):
        select_split_part(clips, split, "test")
    with pytest.raises(ClipSelectionError, match="--part must be one of train, val, test"):
        select_split_part(clips, split, "dev")
    other = save_clip_split(tmp_path / "other.csv", [LabelledClip("x.mp4", "none", "x", tmp_path)], {"x.mp4": "val"})
    with pytest.raises(ClipSelectionError, match="lists none of the 4 clips"):
        select_split_part(clips, other, "val")
    with pytest.raises(ClipSelectionError, match="does not exist"):
        select_split_part(clips, tmp_path / "missing.csv", "val")


def _record(index: int, scores: list[list[float]], classes: tuple[str, ...], alerts: list[AlertEvent]) -> FrameRecord:
    n = len(scores)
    detections = sv.Detections(
        xyxy=np.tile(np.array([[0, 0, 10, 20]], dtype=np.float32), (n, 1)),
        tracker_id=np.arange(n),
        data={ACTION_SCORES: np.array(scores, dtype=np.float32).reshape(n, len(classes))},
    )
    image = np.full((360, 960, 3), index * 20, dtype=np.uint8)
    record = FrameRecord(index, index * 0.5, 1e9 + index, 0.0, image, detections=detections)
    record.action_classes = classes
    record.alerts = alerts
    return record


def _event(kind: str, action: str, t: float) -> AlertEvent:
    return AlertEvent(kind, "id", "cam", "rule", "high", 1, action, 0.9, None, t, 1e9 + t, 0, [0, 0, 1, 1])  # type: ignore[arg-type]


def test_collector_keeps_the_peak_over_frames_and_people() -> None:
    classes = ("fighting", "sitting")
    result = ClipResult("c.mp4", "fighting", "g")
    collect = ScoreCollector(result, ["fighting", "running"], thumbnail_width=480)
    collect(_record(0, [], classes, []))
    collect(_record(1, [[0.2, 0.8], [0.6, 0.1]], classes, []))
    collect(_record(2, [[0.9, 0.0]], classes, [_event(ALERT_START, "fighting", 1.0)]))
    collect(
        _record(3, [[0.4, 0.1]], classes, [_event(ALERT_END, "fighting", 1.5), _event(ALERT_START, "fighting", 1.5)])
    )
    assert result.frames == 4
    assert result.scores == {"fighting": pytest.approx(0.9), "running": 0.0}  # the model has no running column
    assert result.alerts == ["fighting", "fighting"] and result.first_alert_s == {"fighting": 1.0}
    peak = cv2.imdecode(np.frombuffer(result.peak_frames["fighting"], np.uint8), cv2.IMREAD_COLOR)
    assert peak.shape == (180, 480, 3) and abs(int(peak.mean()) - 40) <= 2  # frame 2, downscaled
    assert "running" in result.peak_frames  # the first frame, for the contact sheet


def test_roc_and_contact_sheet_are_pictures(tmp_path: Path) -> None:
    frame = thumbnail(np.full((720, 1280, 3), 90, dtype=np.uint8))
    clips = [_clip(f"f{i}", "fighting", i / 10) for i in range(8)] + [_clip(f"n{i}", "none", i / 9) for i in range(5)]
    for clip in clips:
        clip.peak_frames["fighting"] = frame
    misses, alarms = worst_clips(clips, "fighting")
    assert [c.file for c in misses] == ["f0", "f1", "f2", "f3", "f4", "f5"]
    assert [c.file for c in alarms] == ["n4", "n3", "n2", "n1", "n0"]
    roc = cv2.imread(str(plot_roc(clips, "fighting", tmp_path / "roc.png", title="t")))
    sheet = cv2.imread(str(contact_sheet(clips, ["fighting", "running"], tmp_path / "sheet.jpg")))
    assert roc is not None and roc.shape[2] == 3
    assert sheet is not None and sheet.shape[1] == 3 * 480 and sheet.shape[0] > 4 * 270


def test_wilson_intervals_match_published_values_and_stay_inside_0_1() -> None:
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = wilson_interval(3, 22)  # type: ignore[misc]
    assert low < 3 / 22 < high and (low, high) == pytest.approx((0.0475, 0.3333), abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 0) is None  # type: ignore[index]


def test_the_auroc_interval_resamples_whole_recordings() -> None:
    """Clips cut from one recording share its look and score alike: 40 clips from 8 recordings must get a wider
    interval than 40 clips from 40 recordings would; a perfect separation stays at 1; one class alone has none."""
    rng = np.random.default_rng(0)
    recording = np.repeat(np.arange(8), 5)  # recordings 0-3 are fights, 4-7 are not
    positive = recording < 4
    offset = np.array([1.0, 0.2, 0.8, -0.3, 0.0, 0.5, -0.5, 0.9])
    scores = offset[recording] + rng.normal(0.0, 0.05, 40)
    clustered = group_bootstrap(auroc, scores, positive, [f"r{r}" for r in recording])
    independent = group_bootstrap(auroc, scores, positive, [f"c{i}" for i in range(40)])
    assert clustered is not None and independent is not None
    assert clustered[0] <= auroc(scores, positive) <= clustered[1]
    assert clustered[1] - clustered[0] > 1.5 * (independent[1] - independent[0])
    assert group_bootstrap(auroc, [0.9, 0.8, 0.1, 0.2], [True, True, False, False], ["a", "b", "c", "d"]) == (1.0, 1.0)
    assert group_bootstrap(auroc, [0.9, 0.8], [True, True], ["a", "b"]) is None


def test_several_splits_select_from_several_folders(tmp_path: Path) -> None:
    clips = _labelled(tmp_path)
    first = save_clip_split(tmp_path / "one.csv", clips[:2], {"a.mp4": "test", "b.mp4": "train"})
    second = save_clip_split(tmp_path / "two.csv", clips[2:], {"c.mp4": "test", "d.mp4": "val"})
    assert [c.file for c in select_split_part(clips, [first, second], "test")] == ["a.mp4", "c.mp4"]


def test_time_to_alert_counts_from_the_labelled_start_of_the_action() -> None:
    late = _clip("late", "fighting", 0.9, ("fighting",), first=16.0)
    late.start_s = 15.0  # the action starts 15 s into the clip: the alert came 1 s after it
    early = _clip("early", "fighting", 0.8, ("fighting",), first=3.0)  # no start given: from the clip's start
    figures = action_summary([late, early, _clip("n", "none", 0.1)], "fighting")
    assert figures["median_s_to_alert"] == pytest.approx(2.0)
    assert late.to_json()["start_s"] == 15.0 and "start_s" not in early.to_json()


def test_labels_start_s_is_read_and_checked(tmp_path: Path) -> None:
    from har_stream.clips import ClipLabelError, read_clip_labels

    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "labels.csv").write_text("file,label,group,start_s\na.mp4,falling,g,1.5\nb.mp4,none,g,\n")
    assert [c.start_s for c in read_clip_labels(tmp_path)] == [1.5, None]
    (tmp_path / "labels.csv").write_text("file,label,start_s\na.mp4,falling,soon\n")
    with pytest.raises(ClipLabelError, match="line 2: start_s 'soon' is not a number"):
        read_clip_labels(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label,start_s\na.mp4,falling,-2\n")
    with pytest.raises(ClipLabelError, match="at least 0"):
        read_clip_labels(tmp_path)
