"""Typed, validated configuration loaded from YAML."""

from __future__ import annotations

from har_stream.config.loading import ConfigError, ConfigIssue, load_config, parse_yaml, validate_config
from har_stream.config.schema import (
    ANY_ACTION,
    ClassifierConfig,
    CrossingConfig,
    DetectorConfig,
    HarStreamConfig,
    LineConfig,
    OutputConfig,
    ReconnectConfig,
    RenderConfig,
    RuleConfig,
    ScheduleConfig,
    SmoothingConfig,
    SourceConfig,
    TemporalConfig,
    TrackerConfig,
    ZoneCalibration,
    ZoneConfig,
)

__all__ = [
    "ANY_ACTION",
    "ClassifierConfig",
    "ConfigError",
    "ConfigIssue",
    "CrossingConfig",
    "DetectorConfig",
    "HarStreamConfig",
    "LineConfig",
    "OutputConfig",
    "ReconnectConfig",
    "RenderConfig",
    "RuleConfig",
    "ScheduleConfig",
    "SmoothingConfig",
    "SourceConfig",
    "TemporalConfig",
    "TrackerConfig",
    "ZoneCalibration",
    "ZoneConfig",
    "load_config",
    "parse_yaml",
    "validate_config",
]
