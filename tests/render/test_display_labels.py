"""Show only what the system believes: the one label each person is shown with (render.min_label_confidence),
drawn by the overlay and named by alerts. Real stages: smoother, labeller, rule engine and overlay renderer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from har_stream.actions import ACTIONS, ALL_ACTIONS
from har_stream.config import ConfigError, HarStreamConfig, load_config, parse_yaml, validate_config
from har_stream.config.site import validate_site
from har_stream.frame import (
    ACTION,
    ACTION_PROBS,
    ACTION_SCORES,
    DISPLAY_CONFIDENCE,
    DISPLAY_LABEL,
    FLAGGED,
    FrameRecord,
)
from har_stream.notify.message import alert_message
from har_stream.render.labels import PersonLabeler
from har_stream.render.overlay import OverlayRenderer, person_labels
from har_stream.rules.engine import RuleEngine
from har_stream.smoothing import ActionSmoother

WIDTH, HEIGHT = 640, 480
BOXES = [(60, 120, 140, 400), (260, 120, 340, 400), (460, 120, 540, 400)]


def probs(classes: tuple[str, ...], **values: float) -> np.ndarray:
    """A probability row: ``values`` where given, the rest spread evenly over the other classes."""
    row = np.array([values.get(c, np.nan) for c in classes], dtype=np.float32)
    rest = np.isnan(row)
    row[rest] = (1.0 - sum(values.values())) / rest.sum()
    return row


def frame(t: float, classes: tuple[str, ...], *rows: np.ndarray | None) -> FrameRecord:
    """A record at ``t`` seconds with one tracked person (ids 1, 2, ...) per row; ``None``: not classified now."""
    n = len(rows)
    detections = sv.Detections(
        xyxy=np.array(BOXES[:n], dtype=np.float32),
        confidence=np.full(n, 0.9, dtype=np.float32),
        class_id=np.zeros(n, dtype=int),
        tracker_id=np.arange(1, n + 1),
    )
    detections.data[ACTION_PROBS] = np.array(
        [np.full(len(classes), np.nan, dtype=np.float32) if r is None else r for r in rows], dtype=np.float32
    ).reshape(n, len(classes))
    return FrameRecord(
        index=round(t * 10),
        timestamp=t,
        wall_time=1_800_000_000.0 + t,
        captured_at=0.0,
        image=np.full((HEIGHT, WIDTH, 3), 40, dtype=np.uint8),
        detections=detections,
    )


class Stages:
    """The pipeline's stages from smoothing to render, in its order, built from one config."""

    def __init__(self, config: HarStreamConfig, classes: tuple[str, ...]) -> None:
        self.smoother = ActionSmoother(config.smoothing, classes)
        self.labeler = PersonLabeler(config.render.min_label_confidence)
        self.rules = RuleEngine(
            config.rules, config.zones, camera=config.camera, min_label_confidence=config.render.min_label_confidence
        )
        self.renderer = OverlayRenderer(config.render, config.zones)

    def __call__(self, record: FrameRecord) -> FrameRecord:
        for stage in (self.smoother, self.labeler, self.rules, self.renderer):
            stage(record)
        return record


def config(**sections: object) -> HarStreamConfig:
    return validate_config(dict(sections), "test")


def shown(record: FrameRecord) -> list[str]:
    return person_labels(record.detections)


def test_default_threshold_is_six_tenths() -> None:
    assert HarStreamConfig().render.min_label_confidence == 0.6


def test_below_the_threshold_a_person_is_shown_as_ordinary_or_by_id_alone() -> None:
    """The walker the classifier calls "fighting 0.48": with walking/standing/other scored, the box says the best
    of those; with a closed-set classifier, just the id. Nobody is drawn with an action it does not pass."""
    open_set = Stages(config(), ALL_ACTIONS)
    walker = probs(ALL_ACTIONS, fighting=0.48, walking=0.30, standing=0.05)
    record = open_set(frame(0.0, ALL_ACTIONS, walker, None))
    assert list(record.detections.data[ACTION]) == ["fighting", "unknown"]  # the rules' label is kept as it is
    assert shown(record) == ["#1 walking", "#2"]
    assert record.detections.data[DISPLAY_LABEL].tolist() == ["walking", "unknown"]
    assert record.detections.data[DISPLAY_CONFIDENCE].tolist() == pytest.approx([0.30, 0.0])

    closed_set = Stages(config(), ACTIONS)
    dancer = probs(ACTIONS, dancing=0.35, fighting=0.2)
    assert shown(closed_set(frame(0.0, ACTIONS, dancer))) == ["#1"]


def test_above_the_threshold_the_action_is_shown_with_its_evidence() -> None:
    stages = Stages(config(), ALL_ACTIONS)
    record = stages(frame(0.0, ALL_ACTIONS, probs(ALL_ACTIONS, fighting=0.72), probs(ALL_ACTIONS, walking=0.8)))
    assert shown(record) == ["#1 fighting 0.72", "#2 walking"]
    # The threshold is the config's: at 0.4 the walker's 0.48 is shown as fighting.
    lenient = Stages(config(render={"min_label_confidence": 0.4}), ALL_ACTIONS)
    walker = probs(ALL_ACTIONS, fighting=0.48, walking=0.30)
    assert shown(lenient(frame(0.0, ALL_ACTIONS, walker))) == ["#1 fighting 0.48"]


def test_an_action_the_evidence_passes_is_shown_while_the_smoothed_label_lags_behind() -> None:
    """Hysteresis keeps the label "sitting" (0.45) although fighting (0.55) leads by less than the margin: the box
    shows the action whose evidence passes the threshold, not the lagging label."""
    settings = config(smoothing={"alpha": 1.0, "switch_margin": 0.2}, render={"min_label_confidence": 0.5})
    stages = Stages(settings, ACTIONS)
    stages(frame(0.0, ACTIONS, probs(ACTIONS, sitting=0.9)))
    record = stages(frame(0.1, ACTIONS, probs(ACTIONS, fighting=0.55, sitting=0.45)))
    assert list(record.detections.data[ACTION]) == ["sitting"]
    assert shown(record) == ["#1 fighting 0.55"]


def _label_width(image: np.ndarray, box: tuple[int, int, int, int], colour_bgr: tuple[int, int, int]) -> int:
    """Width in pixels of the label drawn above ``box`` in ``colour_bgr`` (the label's background)."""
    x1, y1 = box[0], box[1]
    band = image[max(0, y1 - 12) : y1 - 2, x1 : x1 + 190]  # the next person's box starts 200 px to the right
    filled = np.all(band == np.array(colour_bgr, dtype=np.uint8), axis=2).any(axis=0)
    return int(filled.sum())


def test_the_drawn_label_is_the_shown_label() -> None:
    """Rendered for real: the label drawn above a below-threshold person (id alone, closed-set) is narrower than
    the one above a person shown with an action and its evidence."""
    stages = Stages(config(), ACTIONS)
    record = stages(frame(0.0, ACTIONS, probs(ACTIONS, fighting=0.48), probs(ACTIONS, fighting=0.9)))
    assert shown(record) == ["#1", "#2 fighting 0.90"]
    green = (0, 200, 0)  # render.normal_color #00C800 in BGR
    narrow, wide = (_label_width(record.image, BOXES[i], green) for i in range(2))
    assert 0 < narrow < wide / 2, (narrow, wide)


def test_an_alert_of_a_fighting_rule_names_fighting_with_its_evidence_not_the_top_action() -> None:
    """Hugging scores highest (0.50) but the rule tests fighting (0.42 against min_confidence 0.4): the alert, its
    notification message and its end record name fighting with the fighting evidence."""
    rules = [{"name": "fight", "actions": ["fighting"], "min_confidence": 0.4, "end_grace_s": 0, "cooldown_s": 0}]
    stages = Stages(config(rules=rules), ALL_ACTIONS)
    row = probs(ALL_ACTIONS, hugging=0.50, fighting=0.42, walking=0.05)
    record = stages(frame(0.0, ALL_ACTIONS, row))
    assert list(record.detections.data[ACTION]) == ["hugging"]
    assert record.detections.data[FLAGGED].tolist() == [True]
    [start] = record.alerts
    assert (start.type, start.action, start.confidence) == ("alert_start", "fighting", pytest.approx(0.42, abs=1e-4))
    message = alert_message(start, None, "http://127.0.0.1:8080")
    assert (message["action"], message["confidence"]) == ("fighting", pytest.approx(0.42, abs=1e-4))
    # The box, meanwhile, claims neither hugging nor fighting at 0.50 / 0.42.
    assert shown(record) == ["#1 walking"]
    calm = stages(frame(0.1, ALL_ACTIONS, probs(ALL_ACTIONS, hugging=0.6, fighting=0.1, walking=0.05)))
    [end] = calm.alerts
    # The end record names fighting too, with its smoothed evidence now (0.5 x 0.1 + 0.5 x 0.42).
    assert (end.type, end.action, end.confidence) == ("alert_end", "fighting", pytest.approx(0.26, abs=1e-4))
    assert end.peak_confidence == pytest.approx(0.42, abs=1e-4)


def test_an_alert_of_a_rule_on_any_action_names_the_shown_label() -> None:
    """A "*" rule (e.g. people moving in a zone) names what the box shows: the ordinary label for the walker the
    classifier calls "fighting 0.48", the action for a person above the threshold, "unknown" for the id alone."""
    rules = [{"name": "anyone", "actions": ["*"], "min_confidence": 0.0}]
    stages = Stages(config(rules=rules), ALL_ACTIONS)
    walker = probs(ALL_ACTIONS, fighting=0.48, walking=0.30)
    fighter = probs(ALL_ACTIONS, fighting=0.72)
    record = stages(frame(0.0, ALL_ACTIONS, walker, fighter, None))
    assert shown(record) == ["#1 walking", "#2 fighting 0.72", "#3"]
    named = {e.track_id: (e.action, e.confidence) for e in record.alerts}
    assert named == {
        1: ("walking", pytest.approx(0.30, abs=1e-4)),
        2: ("fighting", pytest.approx(0.72, abs=1e-4)),
        3: ("unknown", 0.0),
    }
    messages = [alert_message(e, None, "http://127.0.0.1:8080") for e in record.alerts]
    assert [m["action"] for m in messages] == ["walking", "fighting", "unknown"]

    closed_set = Stages(config(rules=rules), ACTIONS)
    [alert] = closed_set(frame(0.0, ACTIONS, probs(ACTIONS, fighting=0.48, dancing=0.35))).alerts
    assert (alert.action, alert.confidence) == ("unknown", 0.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.5", "render.min_label_confidence: Input should be less than or equal to 1 (got 1.5)"),
        ("-0.1", "render.min_label_confidence: Input should be greater than or equal to 0 (got -0.1)"),
        ("high", "render.min_label_confidence: Input should be a valid number"),
        (".nan", "render.min_label_confidence: Input should be a finite number"),
    ],
)
def test_a_bad_threshold_in_yaml_is_a_clear_error_naming_the_field(tmp_path: Path, value: str, expected: str) -> None:
    path = tmp_path / "camera.yaml"
    path.write_text(f"render:\n  min_label_confidence: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any(str(issue).startswith(expected) for issue in info.value.issues), info.value.issues
    assert expected in str(info.value)


def test_the_threshold_is_set_per_camera_in_a_site_config_and_named_there_when_bad() -> None:
    good = "cameras:\n  - name: hall\n    render: {min_label_confidence: 0.8}\n"
    site = validate_site(parse_yaml(good, "site.yaml"), "site.yaml", env={})
    assert site.cameras[0].render.min_label_confidence == 0.8
    bad = "cameras:\n  - name: hall\n    render: {min_label_confidence: 2}\n"
    with pytest.raises(ConfigError) as info:
        validate_site(parse_yaml(bad, "site.yaml"), "site.yaml", env={})
    issues = [str(issue) for issue in info.value.issues]
    expected = "cameras[0].render.min_label_confidence: Input should be less than or equal to 1 (got 2)"
    assert any(issue.startswith(expected) for issue in issues), issues


def test_a_red_box_names_the_action_its_alert_names() -> None:
    """The smoothed label is fighting (0.8) but a running rule flags the person on running evidence 0.75 (as the
    temporal stage fuses it): the red box says running 0.75, as the alert does."""
    rules = [{"name": "run", "actions": ["running"], "min_confidence": 0.7, "min_duration_s": 0}]
    stages = Stages(config(rules=rules), ALL_ACTIONS)
    record = frame(0.0, ALL_ACTIONS, probs(ALL_ACTIONS, fighting=0.8, running=0.1))
    stages.smoother(record)
    record.detections.data[ACTION_SCORES][:, record.action_classes.index("running")] = 0.75  # the temporal stage
    for stage in (stages.labeler, stages.rules, stages.renderer):
        stage(record)
    assert list(record.detections.data[ACTION]) == ["fighting"]
    assert record.detections.data[FLAGGED].tolist() == [True]
    [start] = record.alerts
    assert (start.action, start.confidence) == ("running", pytest.approx(0.75, abs=1e-3))
    assert shown(record) == ["#1 running 0.75"]
