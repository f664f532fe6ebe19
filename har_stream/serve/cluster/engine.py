"""Connecting the head (``har-stream serve``) to a Ray cluster; the only place that starts Ray."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from har_stream.config.cluster import ClusterConfig

log = logging.getLogger(__name__)

#: Environment variables forwarded to camera workers (where weights and shared data live).
FORWARDED_ENV = ("HAR_STREAM_WEIGHTS", "HAR_STREAM_SHARED", "XDG_CACHE_HOME")


class ClusterError(RuntimeError):
    """The cluster cannot be reached or Ray is not installed."""


def connect(config: ClusterConfig) -> None:
    """Join the cluster at ``config.address`` as its driver (once per process)."""
    try:
        import ray
    except ImportError:
        raise ClusterError("cluster mode needs Ray: pip install 'har-stream[cluster]' on every node") from None
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"namespace": config.namespace, "runtime_env": runtime_env(), "configure_logging": False}
    if config.address == "local":
        options["include_dashboard"] = False
    else:
        options["address"] = config.address
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cluster.address: cannot join the Ray cluster at {config.address!r}: {exc}") from None
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = ray.cluster_resources().get("CPU", 0)
    log.info("joined Ray cluster at %s: %d nodes, %s CPUs", config.address, len(nodes), cpus)


def disconnect() -> None:
    """Leave the cluster (the cluster itself keeps running)."""
    import sys

    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def runtime_env() -> dict[str, Any]:
    """What camera workers get: this checkout on their ``PYTHONPATH`` (when run from one) and forwarded settings.

    Every node must see har-stream, its models and the sources at the same paths as the head (a shared or
    identical layout); the checkout is put first so that nodes run the head's code, not another install.
    """
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        paths = [str(root), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return {"env_vars": env} if env else {}
