"""Property-based config validation: well over 1,000 malformed or edge-case YAML configs, each one a clear error.

Each strategy starts from a valid config that uses every section, breaks one thing (a wrong type at any
field, an unknown key, a bad polygon, a negative duration, an unknown action, a bad schedule, a bad or
duplicate name, a YAML syntax error), dumps it to YAML text and loads it the way ``har-stream`` does. Every
example must raise :class:`ConfigError` (never another exception) with issues that each name a field path
or a YAML line and column, one of them the field that was broken. The example counts add up to 1,150.
"""

from __future__ import annotations

import copy
import math
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from har_stream.actions import ACTIONS, UNKNOWN_ACTION
from har_stream.config import ConfigError, HarStreamConfig, parse_yaml, validate_config
from har_stream.config.schema import ANY_ACTION, WEEKDAYS

#: A valid config that uses every section, two zones (normalized and pixels) and two rules.
BASE: dict[str, Any] = {
    "camera": "gate_2",
    "source": {
        "uri": "rtsp://127.0.0.1:8554/cam",
        "open_timeout_s": 5.0,
        "read_timeout_s": 2.0,
        "queue_size": 4,
        "reconnect": {"initial_delay_s": 0.5, "max_delay_s": 8.0, "give_up_after_s": 60.0},
        "image_fps": 2.0,
    },
    "detector": {"imgsz": 960, "confidence": 0.3, "iou": 0.6, "max_detections": 100, "device": "cpu"},
    "tracker": {"lost_track_buffer_s": 1.0, "activation_threshold": 0.35, "speed_window_s": 0.5},
    "classifier": {"model": "none", "every_n_frames": 10, "reclassify_iou": 0.5, "max_per_frame": 4},
    "smoothing": {"method": "ema", "alpha": 0.5, "window": 5, "switch_margin": 0.1},
    "zones": [
        {"name": "door", "polygon": [[0.1, 0.2], [0.9, 0.2], [0.9, 0.95], [0.1, 0.95]]},
        {"name": "hall", "polygon": [[10, 10], [600, 10], [600, 300]], "units": "pixels"},
    ],
    "rules": [
        {
            "name": "running_at_door",
            "actions": ["running", "fighting"],
            "min_confidence": 0.6,
            "min_duration_s": 1.5,
            "end_grace_s": 0.5,
            "min_speed": 0.2,
            "max_speed": 5.0,
            "zones": ["door", "hall"],
            "schedule": {"days": ["mon", "tue", "fri"], "start": "08:00", "end": "16:30"},
            "cooldown_s": 30.0,
            "severity": "high",
        },
        {"name": "anyone_at_night", "actions": ["*"], "schedule": {"start": "22:00", "end": "06:00"}},
    ],
    "render": {"flagged_color": "#FF0000", "draw_zones": True, "box_thickness": 2, "text_scale": 0.5},
    "output": {"video": "out/a.mp4", "events": "out/e.jsonl", "video_crf": 23, "video_preset": "veryfast"},
}

Path_ = tuple[str | int, ...]
FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same examples on every run, so CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
LINE_COLUMN = re.compile(r"^line \d+, column \d+$")


def dotted(path: Path_) -> str:
    """``("rules", 0, "schedule")`` → ``rules[0].schedule``, as :class:`ConfigIssue` names fields."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def with_value(path: Path_, value: Any) -> dict[str, Any]:
    """A deep copy of BASE with the value at ``path`` replaced."""
    data = copy.deepcopy(BASE)
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def get(path: Path_) -> Any:
    node: Any = BASE
    for part in path:
        node = node[part]
    return node


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def field_paths(model: type[BaseModel] = HarStreamConfig, prefix: Path_ = ()) -> list[tuple[Path_, Any]]:
    """Every field path in BASE (sections, list items and leaves) with its annotation."""
    paths: list[tuple[Path_, Any]] = []
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        try:
            value = get(path)
        except (KeyError, IndexError):
            value = None
        paths.append((path, info.annotation))
        inner = _unwrap_model(info.annotation)
        if inner is None:
            continue
        if isinstance(value, list):
            for i in range(len(value)):
                paths.append(((*path, i), inner))
                paths += field_paths(inner, (*path, i))
        elif isinstance(value, dict):
            paths += field_paths(inner, path)
    return paths


FIELDS = field_paths()


def _kinds(annotation: Any) -> set[Any]:
    """The plain types an annotation accepts (unions and Annotated unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_kinds(a) for a in typing.get_args(annotation)))
    if origin is typing.Literal:
        return {str}
    return {origin or annotation}


def _not_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.strip().lower() not in {"true", "false", "yes", "no", "on", "off", "1", "0", "t", "f", "y", "n"}
    return False


printable = st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=12)
junk_mapping = st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.integers(), min_size=1, max_size=3)


def wrong_values(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of a type that ``annotation`` never accepts."""
    kinds = _kinds(annotation)
    if _unwrap_model(annotation) is not None or list in kinds:  # a section, a list of items, or a list field
        return st.one_of(st.integers(), printable.filter(_not_a_number), st.booleans())
    options = [junk_mapping, st.lists(junk_mapping, min_size=1, max_size=2)]
    if kinds & {float, int}:
        options.append(printable.filter(_not_a_number))
    if kinds & {str, Path}:
        options.append(st.integers() | st.floats(allow_nan=False) | st.booleans())
    if bool in kinds:
        options.append(printable.filter(_not_a_number))
    return st.one_of(options)


def assert_clear_error(data: Any, broken: str, text: str | None = None) -> ConfigError:
    """Load ``data`` (or raw YAML ``text``) as the CLI does; it must fail naming ``broken`` (a field prefix)."""
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True) if text is None else text
    with pytest.raises(ConfigError) as info:
        validate_config(parse_yaml(text, "fuzz.yaml"), "fuzz.yaml")
    issues = info.value.issues
    assert issues, "an error without issues"
    for issue in issues:
        assert issue.field and issue.message.strip(), f"vague issue {issue!r} for:\n{text}"
    if broken == "line/column":
        assert all(LINE_COLUMN.match(issue.field) for issue in issues), issues
    else:
        names = [issue.field for issue in issues]
        assert any(f == broken or f.startswith((f"{broken}.", f"{broken}[")) for f in names), (broken, names, text)
        assert broken in str(info.value)
    return info.value


def test_base_config_is_valid() -> None:
    config = validate_config(parse_yaml(yaml.safe_dump(BASE), "base.yaml"))
    assert len(config.zones) == 2 and len(config.rules) == 2 and len(FIELDS) > 60


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_wrong_type_at_any_field(data: st.DataObject) -> None:
    path, annotation = data.draw(st.sampled_from(FIELDS), label="field")
    value = data.draw(wrong_values(annotation), label="value")
    assert_clear_error(with_value(path, value), dotted(path))


def _mapping_paths() -> list[tuple[Path_, type[BaseModel]]]:
    found = [((), HarStreamConfig)]
    for path, annotation in FIELDS:
        model = _unwrap_model(annotation)
        try:
            node = get(path)
        except (KeyError, IndexError):
            continue
        if model is not None and isinstance(node, dict):
            found.append((path, model))
    return found


MAPPINGS = _mapping_paths()


@settings(FUZZ, max_examples=150)
@given(where=st.sampled_from(MAPPINGS), key=st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True))
def test_unknown_keys_are_named(where: tuple[Path_, type[BaseModel]], key: str) -> None:
    path, model = where
    if key in model.model_fields:
        key += "_x"
    data = copy.deepcopy(BASE)
    node: Any = data
    for part in path:
        node = node[part]
    node[key] = 1
    error = assert_clear_error(data, dotted((*path, key)))
    assert any(i.message.startswith("unknown field") for i in error.issues)


coordinate = st.floats(min_value=0, max_value=1, allow_nan=False)
point = st.tuples(coordinate, coordinate).map(list)


@st.composite
def bad_polygons(draw: st.DrawFn) -> tuple[list[Any], str]:
    """A polygon that no zone may have, and the units to give it."""
    kind = draw(
        st.sampled_from(["few", "collinear", "repeated", "bowtie", "outside", "negative", "nonfinite", "shape"])
    )
    units = draw(st.sampled_from(["auto", "normalized", "pixels"]))
    if kind == "few":
        return draw(st.lists(point, max_size=2)), units
    if kind == "collinear":
        origin, step = draw(point), draw(st.tuples(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3)))
        ts = draw(st.lists(st.floats(0, 1), min_size=3, max_size=6))
        return [[origin[0] + t * step[0], origin[1] + t * step[1]] for t in ts], units
    if kind == "repeated":
        return [draw(point)] * draw(st.integers(3, 6)), units
    if kind == "bowtie":  # corners in crossing order: edges cross in the middle
        x0, x1 = sorted(draw(st.lists(coordinate, min_size=2, max_size=2, unique=True)))
        y0, y1 = sorted(draw(st.lists(coordinate, min_size=2, max_size=2, unique=True)))
        return [[x0, y0], [x1, y1], [x1, y0], [x0, y1]], units
    if kind == "outside":  # normalized coordinates beyond the frame
        polygon = [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]
        i, axis = draw(st.integers(0, 2)), draw(st.integers(0, 1))
        polygon[i][axis] = draw(st.floats(1.001, 1e6))
        return polygon, "normalized"
    if kind == "negative":
        polygon = [[10.0, 10.0], [600.0, 10.0], [300.0, 300.0]]
        polygon[draw(st.integers(0, 2))][draw(st.integers(0, 1))] = draw(st.floats(-1e6, -1e-3))
        return polygon, units
    if kind == "nonfinite":
        polygon = [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]
        polygon[draw(st.integers(0, 2))][draw(st.integers(0, 1))] = draw(
            st.sampled_from([math.inf, -math.inf, math.nan])
        )
        return polygon, units
    broken = draw(st.sampled_from([[0.5], [0.1, 0.2, 0.3], "a b", None, {"x": 1}]))
    polygon = [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]
    polygon[draw(st.integers(0, 2))] = broken
    return polygon, units


@settings(FUZZ, max_examples=200)
@given(zone=st.integers(0, 1), bad=bad_polygons())
def test_bad_polygons_are_named(zone: int, bad: tuple[list[Any], str]) -> None:
    polygon, units = bad
    data = copy.deepcopy(BASE)
    data["zones"][zone].update(polygon=polygon, units=units)
    assert_clear_error(data, f"zones[{zone}]")


DURATIONS = [
    p
    for p, a in FIELDS
    if isinstance(p[-1], str) and (p[-1].endswith("_s") or p[-1] in {"min_speed", "max_speed", "image_fps"})
]


@settings(FUZZ, max_examples=120)
@given(
    path=st.sampled_from(DURATIONS),
    value=st.floats(max_value=-1e-6, allow_nan=False) | st.integers(max_value=-1),
)
def test_negative_durations_are_named(path: Path_, value: float) -> None:
    assert_clear_error(with_value(path, value), dotted(path))


KNOWN = {*ACTIONS, UNKNOWN_ACTION, ANY_ACTION}


@settings(FUZZ, max_examples=120)
@given(
    rule=st.integers(0, 1),
    name=printable.filter(lambda s: s not in KNOWN),
    position=st.integers(0, 2),
)
def test_unknown_action_names_are_named(rule: int, name: str, position: int) -> None:
    actions = list(BASE["rules"][rule]["actions"])
    actions.insert(min(position, len(actions)), name)
    error = assert_clear_error(with_value(("rules", rule, "actions"), actions), f"rules[{rule}].actions")
    assert any("unknown action" in i.message for i in error.issues)


time_text = st.from_regex(r"([01][0-9]|2[0-3]):[0-5][0-9]", fullmatch=True)


@st.composite
def bad_schedules(draw: st.DrawFn) -> dict[str, Any]:
    """A schedule with one thing wrong: days, a time, or a window that is never active."""
    schedule: dict[str, Any] = {"days": ["mon", "wed"], "start": "08:00", "end": "17:00"}
    kind = draw(st.sampled_from(["day", "no_days", "twice", "days_type", "time", "number", "offset", "equal"]))
    if kind == "day":
        schedule["days"] = [*schedule["days"], draw(printable.filter(lambda s: s not in WEEKDAYS))]
    elif kind == "no_days":
        schedule["days"] = []
    elif kind == "twice":
        day = draw(st.sampled_from(WEEKDAYS))
        schedule["days"] = [day, day]
    elif kind == "days_type":
        schedule["days"] = draw(st.sampled_from(WEEKDAYS))  # a single day, not a list
    elif kind == "time":
        schedule[draw(st.sampled_from(["start", "end"]))] = draw(
            st.from_regex(r"(2[4-9]|[3-9][0-9]):[0-5][0-9]|[0-2][0-9]:[6-9][0-9]|[a-z]{1,6}", fullmatch=True)
        )
    elif kind == "number":  # an unquoted 8:00 is the number 480 in YAML 1.1
        schedule[draw(st.sampled_from(["start", "end"]))] = draw(st.integers(0, 1439) | st.floats(0, 1e5))
    elif kind == "offset":
        schedule["start"] = draw(time_text) + draw(st.sampled_from(["+02:00", "Z", "-05:30"]))
    else:
        schedule["start"] = schedule["end"] = draw(time_text)
    return schedule


@settings(FUZZ, max_examples=150)
@given(rule=st.integers(0, 1), schedule=bad_schedules())
def test_bad_schedules_are_named(rule: int, schedule: dict[str, Any]) -> None:
    assert_clear_error(with_value(("rules", rule, "schedule"), schedule), f"rules[{rule}].schedule")


bad_name = st.one_of(
    st.just(""),
    st.from_regex(r"[A-Za-z0-9_]{65,70}", fullmatch=True),  # too long
    st.from_regex(r"[-./ ][a-z]{0,5}", fullmatch=True),  # must start with a letter, digit or _
    st.from_regex(r"[a-z]{1,5}[/\\:*?\"<>|@#$%^&()]{1,3}", fullmatch=True),
)


@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_bad_duplicate_and_undefined_names_are_named(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["zone_name", "rule_name", "duplicate_zone", "duplicate_rule", "undefined"]))
    d = copy.deepcopy(BASE)
    if kind in ("zone_name", "rule_name"):
        section = "zones" if kind == "zone_name" else "rules"
        i = data.draw(st.integers(0, 1))
        d[section][i]["name"] = data.draw(bad_name)
        if section == "zones":  # keep the rules' zone references valid: only the name itself is wrong
            d["rules"][0]["zones"] = [z["name"] for z in d["zones"]]
        broken = f"{section}[{i}].name" if section == "rules" else "zones[" + str(i) + "]"
    elif kind == "duplicate_zone":
        d["zones"][1]["name"] = d["zones"][0]["name"]
        d["rules"][0]["zones"] = ["door"]
        broken = "zones[1].name"
    elif kind == "duplicate_rule":
        d["rules"][1]["name"] = d["rules"][0]["name"]
        broken = "rules[1].name"
    else:
        missing = data.draw(
            st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True).filter(lambda s: s not in ("door", "hall"))
        )
        d["rules"][0]["zones"] = ["door", missing]
        broken = "rules[0].zones[1]"
    assert_clear_error(d, broken)


@st.composite
def broken_yaml(draw: st.DrawFn) -> str:
    """The base config as YAML text with one syntax error: an unclosed bracket, a tab, or a duplicate key."""
    lines = yaml.safe_dump(BASE, sort_keys=False).splitlines()
    kind = draw(st.sampled_from(["unclosed", "tab", "duplicate"]))
    keyed = [i for i, line in enumerate(lines) if re.match(r"^\s*[a-z_]+:", line)]
    i = draw(st.sampled_from(keyed))
    indent, key = re.match(r"^(\s*)([a-z_]+):", lines[i]).groups()
    if kind == "unclosed":
        value = draw(st.sampled_from(["[1, 2", "{a: 1", "[", "{", '"open']))
        lines[i] = f"{indent}{key}: {value}"
    elif kind == "tab":
        lines.insert(i + 1, "\t" + lines[i].lstrip())
    else:
        lines.insert(i + 1, f"{indent}{key}: 1")
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=60)
@given(text=broken_yaml())
def test_yaml_syntax_errors_give_line_and_column(text: str) -> None:
    assert_clear_error(None, "line/column", text=text)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        # Found by the strategies above; each used to validate silently or raise a raw exception.
        (
            "rules:\n  - {name: r, actions: [running], schedule: {start: 8:00}}\n",
            'rules[0].schedule.start: write times as quoted "HH:MM" text',
        ),
        (
            "rules:\n  - {name: r, actions: [running], schedule: {start: '08:00+02:00'}}\n",
            "rules[0].schedule.start: schedule times are local times; remove the UTC offset",
        ),
        ("source: {start_time: 2024-02-30 10:00:00}\n", "line 1, column 22: YAML syntax error: invalid date or time"),
        ("zones: " + "[" * 2000 + "]" * 2000 + "\n", "line 1, column 57: YAML syntax error: nested deeper than 50"),
        ("detector: {imgsz: 640}\n1: x\n", "line 2, column 1: YAML syntax error: key 1 is not a field name"),
    ],
)
def test_edge_cases_found_by_fuzzing(yaml_text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(parse_yaml(yaml_text, "edge.yaml"), "edge.yaml")
    assert any(str(issue).startswith(expected) for issue in info.value.issues), info.value.issues
