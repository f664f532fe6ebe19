"""MkDocs hook: the configuration reference page, generated from the pydantic models at build time.

One source of truth: every field's name, type, constraints and default come from ``model_fields`` of
``har_stream.config.schema.HarStreamConfig`` (a camera) and ``har_stream.config.site.SiteSettings`` (a site, with
``har_stream.config.cluster.ClusterConfig``); its description is the ``#:`` comment above the field in the class's
source (or the field's ``description``), and each section's introduction is the class docstring. Nested models
become their own sections, in the order a YAML file would list them. Registered under ``hooks:`` in mkdocs.yml;
the page is ``configuration/reference.md`` and exists only in the built site.
"""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

PAGE = "configuration/reference.md"


def on_files(files: Any, config: Any) -> Any:
    """Add the generated reference page to the site's files."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=reference_page()))
    return files


def on_serve(server: Any, config: Any, builder: Any) -> Any:
    """``mkdocs serve``: rebuild when the config models change."""
    root = Path(config["config_file_path"]).parent
    server.watch(str(root / "har_stream" / "config"))
    server.watch(str(root / "har_stream" / "cluster" / "config.py"))
    return server


@dataclass(frozen=True)
class Section:
    """One model at one place in a YAML file, e.g. ``rules[].schedule``."""

    title: str
    anchor: str
    model: type[BaseModel]


def reference_page() -> str:
    """The whole page as Markdown."""
    from har_stream.actions import ALL_ACTIONS, UNKNOWN_ACTION
    from har_stream.config.schema import ANY_ACTION, HarStreamConfig
    from har_stream.config.site import SiteSettings

    lines = [
        "# Configuration reference",
        "",
        "Generated from the pydantic models when the site is built (`docs/hooks/config_reference.py`): the names,",
        "types, limits and defaults below are the ones `har-stream check-config` and `har-stream serve --check`",
        "enforce. Every section is optional unless a field says *required*; unknown keys are errors, so a typo is",
        "reported instead of ignored. Besides the per-field limits listed here, a few checks span fields (e.g.",
        "`max_delay_s` not below `initial_delay_s`, a rule's zones must be defined); `check-config` names each.",
        "",
        f"Action names a rule may list: {', '.join(f'`{a}`' for a in ALL_ACTIONS)}, `{UNKNOWN_ACTION}`, or "
        f"`{ANY_ACTION}` for any.",
        "",
        "## Camera config {#camera}",
        "",
        "What `har-stream run --config` reads, and what each entry of a site's `cameras` list holds "
        "(its `name` is the `camera` field here). Model: `har_stream.config.schema.HarStreamConfig`.",
        "",
    ]
    lines += _model_block(Section("camera config", "camera", HarStreamConfig), "camera")
    lines += [
        "",
        "## Site config {#site}",
        "",
        "What `har-stream serve --config` reads. Model: `har_stream.config.site.SiteSettings` (the `cluster` "
        "section: `har_stream.config.cluster.ClusterConfig`). `${NAME}` in any string is replaced by that "
        "environment variable at start; an unset one is an error naming the field.",
        "",
    ]
    lines += _model_block(Section("site config", "site", SiteSettings), "site")
    return "\n".join(lines) + "\n"


def _model_block(root: Section, prefix: str) -> list[str]:
    lines = _table(root, prefix, top=True)
    for section in _nested(root.model, "", prefix):
        lines += ["", f"### `{section.title}` {{#{section.anchor}}}", ""]
        lines += _table(section, prefix, top=False)
    return lines


def _nested(model: type[BaseModel], path: str, prefix: str) -> Iterator[Section]:
    """Every model reachable from ``model``'s fields, depth first in field order."""
    for name, field in model.model_fields.items():
        for sub, is_list in _models_in(field.annotation):
            title = f"{path}{name}{'[]' if is_list else ''}"
            yield Section(title, _anchor(prefix, title), sub)
            yield from _nested(sub, f"{title}.", prefix)


def _models_in(annotation: Any, in_list: bool = False) -> Iterator[tuple[type[BaseModel], bool]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, in_list
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _models_in(typing.get_args(annotation)[0], in_list)
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg, in_list or origin is list)


def _anchor(prefix: str, title: str) -> str:
    return f"{prefix}-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _table(section: Section, prefix: str, top: bool) -> list[str]:
    model = section.model
    doc = model.__dict__.get("__doc__")
    lines = [_one_paragraph(doc), ""] if doc and not top else []
    comments: dict[str, str] = {}
    for cls in reversed(model.__mro__):  # inherited fields keep their comments; a subclass's own ones win
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel:
            comments.update(_field_comments(cls))
    # md_in_html: the class lets docs/stylesheets/extra.css keep field names on one line.
    lines += ['<div class="config-ref" markdown>', "", "| field | type | default | description |", "|---|---|---|---|"]
    path = "" if top else f"{section.title}."
    for name, field in model.model_fields.items():
        kind = _type_text(field.annotation, prefix, f"{path}{name}")
        limits = _limits(field.metadata)
        if limits:
            kind += f" ({limits})"
        text = comments.get(name) or field.description or _summary_of(field.annotation)
        default = _default_text(field)
        lines.append(f"| `{name}` | {_cell(kind)} | {_cell(default)} | {_cell(_prose(text))} |")
    return [*lines, "", "</div>"]


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """The ``#:`` comment lines right above each field of ``model``'s class body."""
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    out: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            comment: list[str] = []
            i = node.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#:"):
                comment.insert(0, lines[i].strip()[2:].strip())
                i -= 1
            if comment:
                out[node.target.id] = " ".join(comment)
    return out


def _type_text(annotation: Any, prefix: str, path: str) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Annotated:
        inner = _type_text(args[0], prefix, path)
        limits = _limits(
            [m for extra in args[1:] for m in (extra.metadata if isinstance(extra, FieldInfo) else [extra])]
        )
        return f"{inner} ({limits})" if limits else inner
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a, prefix, path) for a in args)
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type_text(args[0], prefix, path + '[]')}"
    if origin is tuple:
        return "[" + ", ".join(_type_text(a, prefix, path) for a in args) + "]"
    if origin is dict:
        return f"mapping of {_type_text(args[0], prefix, path)} to {_type_text(args[1], prefix, path)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"section [`{path}`](#{_anchor(prefix, path)})"
    names = {
        str: "text",
        int: "integer",
        float: "number",
        bool: "true / false",
        Path: "path",
        SecretStr: "secret text",
        dt.datetime: 'date-time, e.g. `"2026-01-31T08:00:00"`',
        dt.time: 'time `"HH:MM"`',
    }
    if annotation is Any:
        return "any"
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _limits(metadata: list[Any]) -> str:
    parts = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            parts.append(_limits(item.metadata))
        elif isinstance(item, annotated_types.Ge):
            parts.append(f"≥ {item.ge}")
        elif isinstance(item, annotated_types.Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, annotated_types.Le):
            parts.append(f"≤ {item.le}")
        elif isinstance(item, annotated_types.Lt):
            parts.append(f"< {item.lt}")
        elif isinstance(item, annotated_types.MultipleOf):
            parts.append(f"multiple of {item.multiple_of}")
        elif isinstance(item, annotated_types.MinLen):
            parts.append(f"length ≥ {item.min_length}")
        elif isinstance(item, annotated_types.MaxLen):
            parts.append(f"length ≤ {item.max_length}")
        elif getattr(item, "pattern", None):
            parts.append(f"matching `{item.pattern}`")
    return ", ".join(p for p in parts if p)


def _default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "*required*"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "its fields' defaults"
    return f"`{_yaml(value)}`"


def _yaml(value: Any) -> str:
    """``value`` as it would be written in a YAML config."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.time):
        return f'"{value:%H:%M}"'
    if isinstance(value, str | Path):
        return f'"{value}"' if isinstance(value, str) and (value == "*" or ":" in value) else str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def _summary_of(annotation: Any) -> str:
    """The first line of the docstring of the model a field holds, if it holds one."""
    for model, _ in _models_in(annotation):
        doc = model.__dict__.get("__doc__")
        if doc:
            return inspect.cleandoc(doc).splitlines()[0]
    return ""


def _prose(text: str) -> str:
    """A source comment as Markdown: code spans kept (reST's double backticks work as they are), ``<``, ``>``,
    ``&`` and ``*`` outside them escaped so that ``<host>`` or ``"*"`` show as written."""
    parts = re.split(r"(`+[^`]*`+)", text)
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")
    return "".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _one_paragraph(doc: str) -> str:
    return " ".join(line.strip() for line in inspect.cleandoc(doc).splitlines())
