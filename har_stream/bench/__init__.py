"""Benchmarks: har-stream against the naive pipeline, on the crowd and on a light scene."""

from __future__ import annotations

from har_stream.tf_guard import prepare_tensorflow_import

prepare_tensorflow_import()
