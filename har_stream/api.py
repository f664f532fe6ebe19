"""Python entry points that mirror the command line: ``har_stream.run(...)`` is ``har-stream run``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from har_stream.config.loading import load_config
from har_stream.config.schema import HarStreamConfig
from har_stream.pipeline import Pipeline, RunResult


def build_config(
    config: str | Path | HarStreamConfig | None = None,
    *,
    source: str | int | None = None,
    export: str | Path | None = None,
    events: str | Path | None = None,
    snapshots: str | Path | None = None,
    show: bool | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> HarStreamConfig:
    """Load ``config`` (a YAML path, a config object, or None for defaults) and apply the given options."""
    merged: dict[str, Any] = dict(overrides or {})
    for key, value in (
        ("source.uri", None if source is None else str(source)),
        ("output.video", export),
        ("output.events", events),
        ("output.snapshots", snapshots),
        ("output.show", show),
    ):
        if value is not None:
            merged[key] = str(value) if isinstance(value, Path) else value
    if isinstance(config, HarStreamConfig):
        data = config.model_dump(mode="json", exclude_none=True)
        for dotted, value in merged.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
        return HarStreamConfig.model_validate(data)
    return load_config(config, merged)


def run(
    source: str | int | None = None,
    config: str | Path | HarStreamConfig | None = None,
    *,
    export: str | Path | None = None,
    events: str | Path | None = None,
    snapshots: str | Path | None = None,
    show: bool = False,
    max_frames: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> RunResult:
    """Annotate ``source`` with the rules of ``config``; write the export, events and snapshots asked for."""
    cfg = build_config(
        config, source=source, export=export, events=events, snapshots=snapshots, show=show or None, overrides=overrides
    )
    return Pipeline(cfg).run(max_frames=max_frames, progress=progress)
