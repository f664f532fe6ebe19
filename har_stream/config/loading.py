"""Read a YAML config and turn every problem into one clear error that names the field and the reason."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from har_stream.config.schema import HarStreamConfig


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: where in the YAML (``rules[0].min_duration_s``) and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ConfigError(ValueError):
    """The config could not be read or is invalid; ``issues`` lists each problem."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        body = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"invalid config {source}:\n{body}")


#: Deepest nesting of lists and mappings accepted (a config needs about six levels).
MAX_NESTING = 50


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose as SafeLoader does, but refuse nesting past ``MAX_NESTING`` (PyYAML recurses per level)."""
        if self._depth >= MAX_NESTING:
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_NESTING} levels", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, typing.Hashable):
            raise yaml.constructor.ConstructorError(None, None, f"unhashable key {key!r}", key_node.start_mark)
        if key in mapping:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        if not isinstance(key, str):
            # Every mapping in a config is a section of named fields; 1: or true: as a key is a mistake.
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is not a field name (keys must be text)", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


def _construct_timestamp(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as exc:  # e.g. 2024-13-45: the date does not exist
        raise yaml.constructor.ConstructorError(
            None, None, f"invalid date or time {node.value!r} ({exc})", node.start_mark
        ) from None


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


#: Configs are small: a larger file, or one whose aliases expand to more nodes than this, is refused at once
#: (a few hundred bytes of nested YAML anchors can otherwise expand to billions of values).
MAX_CONFIG_BYTES = 1_000_000
MAX_EXPANDED_NODES = 100_000


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many nodes ``node`` becomes once every alias is expanded (computed without expanding anything)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, memo) for child in node.value)
    else:
        size = 1
    memo[id(node)] = size
    return size


def _load_bounded(text: str, source: str) -> Any:
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            source, [ConfigIssue("", f"the file is {len(text):,} bytes; configs are limited to {MAX_CONFIG_BYTES:,}")]
        )
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {})
        if size > MAX_EXPANDED_NODES:
            raise ConfigError(
                source,
                [ConfigIssue("", f"its anchors and aliases expand to {size:,} values, more than the "
                             f"{MAX_EXPANDED_NODES:,} a config may have; use fewer nested aliases")],
            )  # fmt: skip
        return loader.construct_document(node)
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str = "<string>") -> dict[str, Any]:
    """Parse YAML text into a mapping, raising :class:`ConfigError` with line and column on syntax errors, and
    refusing oversized files and alias bombs (see ``MAX_CONFIG_BYTES`` and ``MAX_EXPANDED_NODES``)."""
    try:
        data = _load_bounded(text, source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [ConfigIssue(where, f"YAML syntax error: {problem}")]) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            source,
            [ConfigIssue("", f"the top level must be a mapping of sections, got {type(data).__name__}")],
        )
    return dict(data)


def validate_config(data: Mapping[str, Any], source: str = "<config>") -> HarStreamConfig:
    """Validate a parsed mapping into a :class:`HarStreamConfig`."""
    try:
        return HarStreamConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(source, [_issue_from(error) for error in exc.errors()]) from None


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> HarStreamConfig:
    """Load ``path`` (or the defaults when None), apply dotted ``overrides`` such as ``{"detector.imgsz": 960}``."""
    if path is None:
        data: dict[str, Any] = {}
        source = "<defaults>"
    else:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise ConfigError(source, [ConfigIssue("", f"config file not found: {path.resolve()}")])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(source, [ConfigIssue("", f"cannot read the file: {exc}")]) from None
        data = parse_yaml(text, source)
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    return validate_config(data, source)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, leaf = dotted.split(".")
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[leaf] = value


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _issue_from(error: Mapping[str, Any], root: type[BaseModel] = HarStreamConfig) -> ConfigIssue:
    loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
    field = _format_loc(loc)
    message = str(error["msg"])
    kind = error["type"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1], root)
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
        message = "unknown field" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        if known:
            message += f"; allowed here: {', '.join(known)}"
    elif kind != "missing" and "input" in error and not isinstance(error["input"], Mapping):
        message += (
            " (the secret value is not shown)" if _is_secret(loc, root) else f" (got {_short_repr(error['input'])})"
        )
    # Model-level checks report their own dotted path at the front of the message.
    if (
        not field
        and ": " in message
        and message.split(": ", 1)[0].replace("[", "").replace("]", "").replace(".", "").replace("_", "").isalnum()
    ):
        field, message = message.split(": ", 1)
    return ConfigIssue(field, message)


def _is_union_tag(part: int | str) -> bool:
    """Pydantic adds the union member name (e.g. ``function-after[...]``, ``float``) to locations."""
    return isinstance(part, str) and (
        "[" in part or part in {"float", "int", "str", "bool", "none", "literal['24:00']", "time", "datetime"}
    )


def _fields_at(loc: tuple[int | str, ...], root: type[BaseModel] = HarStreamConfig) -> list[str]:
    """Field names of the model found at ``loc`` inside a ``root`` config, for did-you-mean hints."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = _unwrap(model.model_fields[part].annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _is_secret(loc: tuple[int | str, ...], root: type[BaseModel]) -> bool:
    """Whether ``loc`` is (inside) a field declared as a secret (``SecretStr``, e.g. ``server.token``)."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        if _mentions(annotation, SecretStr):
            return True
        model = _unwrap(annotation)
    return False


def _mentions(annotation: Any, kind: type) -> bool:
    """Whether ``kind`` appears anywhere in ``annotation`` (``SecretStr | None``, ``dict[str, SecretStr]``)."""
    return annotation is kind or any(_mentions(arg, kind) for arg in typing.get_args(annotation))


def _unwrap(annotation: Any) -> Any:
    """The model class inside ``list[Model]``, ``Model | None`` and similar annotations."""
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            inner = _unwrap(arg)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return annotation


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
