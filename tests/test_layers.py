"""The product apart from the lab (docs/architecture/layers.md).

- The runtime imports nothing from training, evaluation, benchmarking or the experiments: every runtime module is
  imported in a fresh interpreter where importing a lab module raises, and a Pipeline is built from the default
  config there (its weights are local: nothing is downloaded).
- No import circles between har_stream's files or its packages, lazy imports inside functions included (grimp).
- The layers of pyproject's ``[tool.importlinter]`` hold (import-linter).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Lab code: the runtime must run without any of it.
LAB = ("har_stream.training", "har_stream.video_eval", "har_stream.bench", "har_stream.cli", "experiments")
#: Runtime packages and modules of har_stream (everything but the lab and the CLI).
RUNTIME = (
    "actions", "api", "clips", "config", "detection", "frame", "geometry", "log_setup", "notify", "output_paths",
    "pipeline", "redaction", "render", "rules", "serve", "sinks", "smoothing", "sources", "stage_thread", "stats",
    "store", "temporal", "tf_guard", "tracking", "action_model", "classification", "weights",
)  # fmt: skip

_CHECK = r"""
import importlib, importlib.abc, json, pkgutil, sys

LAB = tuple(json.loads(sys.argv[1]))
RUNTIME = json.loads(sys.argv[2])
build = sys.argv[3] == "1"


class BlockLab(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == lab or name.startswith(lab + ".") for lab in LAB):
            raise ImportError(f"LAB-IMPORT: {name}")
        return None


sys.meta_path.insert(0, BlockLab())
import har_stream

names = []
for short in RUNTIME:
    name = f"har_stream.{short}"
    names.append(name)
    module = importlib.import_module(name)
    if hasattr(module, "__path__"):
        names += [info.name for info in pkgutil.walk_packages(module.__path__, name + ".")]
imported, lab, missing = [], [], []
for name in names:
    try:
        importlib.import_module(name)
        imported.append(name)
    except ImportError as exc:
        if "LAB-IMPORT" in str(exc):
            lab.append(f"{name}: {exc}")
        elif isinstance(exc, ModuleNotFoundError) and exc.name and not exc.name.startswith("har_stream"):
            missing.append(f"{name}: {exc.name}")  # an optional extra that is not installed here
        else:
            raise
pipeline = False
if build and not lab:
    from har_stream.api import build_config
    from har_stream.pipeline import Pipeline

    Pipeline(build_config())
    pipeline = True
leaked = sorted(m for m in sys.modules if any(m == x or m.startswith(x + ".") for x in LAB))
print(json.dumps({"imported": imported, "lab": lab, "missing": missing, "pipeline": pipeline, "leaked": leaked}))
"""


def _run_check(build: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHECK, json.dumps(LAB), json.dumps(RUNTIME), "1" if build else "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_runtime_module_imports_without_the_lab() -> None:
    built = (ROOT / "models" / "yolo11n-pose-int8.onnx").is_file()  # the default detector, without a download
    result = _run_check(build=built)
    assert not result["lab"], "runtime modules importing lab code:\n" + "\n".join(result["lab"])
    assert not result["leaked"], f"lab modules loaded by the runtime: {result['leaked']}"
    assert len(result["imported"]) > 60, result
    assert "har_stream.pipeline" in result["imported"] and "har_stream.temporal.stage" in result["imported"]
    assert result["pipeline"] or not built


def test_the_blocker_catches_a_runtime_module_that_imports_lab_code(tmp_path: Path) -> None:
    """The check above is not vacuous: a runtime module that imports training is reported."""
    probe = tmp_path / "probe.py"
    probe.write_text(_CHECK.replace("import har_stream\n", "import har_stream\nimport har_stream.training.harvest\n"))
    out = subprocess.run(
        [sys.executable, str(probe), json.dumps(LAB), json.dumps(["frame"]), "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode != 0 and "LAB-IMPORT: har_stream.training" in out.stderr


def _graph():
    grimp = pytest.importorskip("grimp")
    return grimp.build_graph("har_stream", include_external_packages=False, cache_dir=None)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (each holds at least one import circle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graphs are small (about 150 modules)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _edges(graph, level) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = level(module), level(imported)
            if a != b:
                edges.setdefault(a, set()).add(b)
    return edges


def test_no_import_circles_between_files() -> None:
    graph = _graph()
    assert len(graph.modules) > 140  # serve and temporal are regular packages, so grimp sees them
    assert _cycles(_edges(graph, lambda m: m)) == []


def test_no_import_circles_between_packages() -> None:
    package = lambda module: ".".join(module.split(".")[:2])  # noqa: E731  har_stream.<package or module>
    assert _cycles(_edges(_graph(), package)) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_import_linter_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.is_file():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's packages, not an installed copy
    out = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout
