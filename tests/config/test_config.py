"""Config validation: every bad field is named with its reason; good configs load."""

from __future__ import annotations

from pathlib import Path

import pytest

from har_stream.config import ConfigError, load_config, parse_yaml, validate_config
from tests.conftest import REPO


def errors_for(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_config(parse_yaml(text, "test.yaml"), "test.yaml")
    return [str(issue) for issue in info.value.issues]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "rules:\n  - {name: r, actions: [running], min_duraton_s: 2}\n",
            "rules[0].min_duraton_s: unknown field (did you mean 'min_duration_s'?)",
        ),
        (
            "rules:\n  - {name: r, actions: [running], min_duration_s: -2}\n",
            "rules[0].min_duration_s: Input should be greater than or equal to 0 (got -2)",
        ),
        (
            "rules:\n  - {name: r, actions: [runing]}\n",
            "rules[0].actions: item 0: unknown action 'runing' (did you mean 'running'?)",
        ),
        ("rules:\n  - {name: r, actions: []}\n", "rules[0].actions: List should have at least 1 item"),
        ("rules:\n  - {actions: [running]}\n", "rules[0].name: Field required"),
        (
            "rules:\n  - {name: r, actions: [running], severity: urgent}\n",
            "rules[0].severity: Input should be 'info', 'low'",
        ),
        (
            "rules:\n  - {name: r, actions: [running], min_confidence: 1.5}\n",
            "rules[0].min_confidence: Input should be less than or equal to 1",
        ),
        ("rules:\n  - {name: r, actions: [running], zones: [door]}\n", "rules[0].zones[0]: zone 'door' is not defined"),
        (
            "rules:\n  - {name: r, actions: [running], min_speed: 2, max_speed: 1}\n",
            "rules[0]: max_speed (1.0) is below min_speed (2.0)",
        ),
        ("rules:\n  - {name: r, actions: [running, running]}\n", "rules[0].actions: actions are listed more than once"),
        (
            "rules:\n  - {name: r, actions: [running]}\n  - {name: r, actions: [fighting]}\n",
            "rules[1].name: rule name 'r' is used more than once",
        ),
        (
            "rules:\n  - {name: r, actions: [running], schedule: {days: [funday]}}\n",
            "rules[0].schedule.days[0]: Input should be 'mon'",
        ),
        (
            "rules:\n  - {name: r, actions: [running], schedule: {days: []}}\n",
            "rules[0].schedule.days: List should have at least 1 item",
        ),
        (
            "rules:\n  - {name: r, actions: [running], schedule: {start: '25:00'}}\n",
            "rules[0].schedule.start: Input should be in a valid time format",
        ),
        (
            "rules:\n  - {name: r, actions: [running], schedule: {start: '08:00', end: '08:00'}}\n",
            "rules[0].schedule: start and end are equal",
        ),
        (
            "zones:\n  - {name: z, polygon: [[0, 0], [1, 1], [1, 0], [0, 1]]}\n",
            "zones[0].polygon: polygon is not simple: self-intersection",
        ),
        ("zones:\n  - {name: z, polygon: [[0, 0], [1, 1]]}\n", "zones[0].polygon: List should have at least 3 items"),
        ("zones:\n  - {name: z, polygon: [[0, 0], [0.5, 0.5], [1, 1]]}\n", "zones[0].polygon: polygon has zero area"),
        ("zones:\n  - {name: z, polygon: []}\n", "zones[0].polygon: List should have at least 3 items"),
        (
            "zones:\n  - {name: z, units: normalized, polygon: [[0, 0], [1.5, 0], [1, 1]]}\n",
            "zones[0]: normalized polygon coordinates must lie within [0, 1]",
        ),
        (
            "zones:\n  - {name: z, polygon: [[-5, 0], [100, 0], [100, 100]]}\n",
            "zones[0]: polygon coordinates must not be negative",
        ),
        (
            "zones:\n  - {name: z, polygon: [[0, 0], [1, 0], [1, 1]]}\n"
            "  - {name: z, polygon: [[0, 0], [1, 0], [1, 1]]}\n",
            "zones[1].name: zone name 'z' is used more than once",
        ),
        (
            "zones:\n  - {name: z, polygon: [[0, 0], [1, 0], [x, 1]]}\n",
            "zones[0].polygon[2][0]: Input should be a valid number",
        ),
        (
            "rules:\n  - {name: r, actions: [fighting], min_people: 0}\n",
            "rules[0].min_people: Input should be greater than or equal to 1 (got 0)",
        ),
        ("detector: {imgsz: 650}\n", "detector.imgsz: Input should be a multiple of 32 (got 650)"),
        ("detector: {imgsz: big}\n", "detector.imgsz: Input should be a valid integer"),
        ("detectr: {}\n", "detectr: unknown field (did you mean 'detector'?)"),
        (
            "source: {reconnect: {initial_delay_s: 5, max_delay_s: 1}}\n",
            "source.reconnect: max_delay_s (1.0) must not be below initial_delay_s (5.0)",
        ),
        ("render: {flagged_color: red}\n", "render.flagged_color: String should match pattern"),
        ("- a\n- b\n", "the top level must be a mapping of sections, got list"),
        ("rules: [\n", "line 2, column 1: YAML syntax error"),
        (
            "detector: {imgsz: 640}\ndetector: {imgsz: 320}\n",
            "line 2, column 1: YAML syntax error: duplicate key 'detector'",
        ),
    ],
)
def test_bad_config_names_the_field_and_reason(yaml_text: str, expected: str) -> None:
    issues = errors_for(yaml_text)
    assert any(issue.startswith(expected) for issue in issues), issues


def test_every_problem_is_reported_at_once() -> None:
    issues = errors_for("detector: {imgsz: 650, confidence: 2}\nrules:\n  - {name: r, actions: [x]}\n")
    assert len(issues) == 3


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    config = load_config(path)
    assert config.detector.imgsz == 640 and config.rules == []


def test_dotted_overrides_apply_and_are_validated(tmp_path: Path) -> None:
    config = load_config(REPO / "configs" / "classroom.yaml", {"detector.imgsz": 960, "output.video": "x.mp4"})
    assert config.detector.imgsz == 960 and str(config.output.video) == "x.mp4"
    with pytest.raises(ConfigError, match=r"detector.imgsz"):
        load_config(REPO / "configs" / "classroom.yaml", {"detector.imgsz": 7})


# site.yaml (several cameras, for har-stream serve) is checked in tests/serve/test_site_config.py.
CAMERA_CONFIGS = sorted(p for p in (REPO / "configs").glob("*.yaml") if p.name != "site.yaml")


@pytest.mark.parametrize("path", CAMERA_CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path: Path) -> None:
    config = load_config(path)
    assert config.rules, f"{path.name} should show at least one rule"


def test_classroom_config_flags_running_and_fighting() -> None:
    config = load_config(REPO / "configs" / "classroom.yaml")
    flagged = {action for rule in config.rules for action in rule.actions}
    assert {"running", "fighting"} <= flagged
