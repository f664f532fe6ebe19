"""Configs are bounded: alias bombs and oversized files are refused with a clear error; --set values that are not
YAML name their key. Real files, the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from har_stream.config import ConfigError, parse_yaml
from har_stream.config.loading import MAX_CONFIG_BYTES

REPO = Path(__file__).resolve().parents[2]


def alias_bomb(width: int = 9, depth: int = 10, top: str = "camera") -> str:
    """A few hundred bytes of nested anchors that expand to width ** depth values."""
    lines = ['a0: &a0 ["x"]']
    for level in range(1, depth + 1):
        refs = ", ".join(f"*a{level - 1}" for _ in range(width))
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append(f"{top}: *a{depth}")
    return "\n".join(lines) + "\n"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    # The timeout only guards against a hang (the unbounded loader ran out of memory after minutes).
    return subprocess.run([sys.executable, "-m", "har_stream.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO)  # fmt: skip


def test_alias_bomb_is_refused_by_the_parser() -> None:
    text = alias_bomb()
    assert len(text) < 600
    with pytest.raises(ConfigError, match="anchors and aliases expand to"):
        parse_yaml(text, "bomb.yaml")
    # Modest, legitimate reuse of anchors still works.
    data = parse_yaml("base: &b {imgsz: 960}\ndetector: *b\n")
    assert data["detector"] == {"imgsz": 960}


@pytest.mark.parametrize("command", [["check-config"], ["serve", "--check", "--config"]])
def test_cli_refuses_an_alias_bomb(tmp_path: Path, command: list[str]) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb(top="cameras" if "serve" in command else "camera"))
    result = cli(*command, str(bomb))
    assert result.returncode != 0
    assert "anchors and aliases expand to" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_oversized_config_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("camera: big\n" + "# padding\n" * (MAX_CONFIG_BYTES // 10 + 10))
    result = cli("check-config", str(big))
    assert result.returncode != 0
    assert "configs are limited to" in result.stderr + result.stdout


@pytest.mark.parametrize("item", ["camera=[unclosed", "source.uri=@home/cam.mp4"])
def test_set_value_that_is_not_yaml_names_its_key(item: str) -> None:
    result = cli("run", "--source", "nothing.mp4", "--set", item)
    key = item.split("=")[0]
    assert result.returncode == 2
    assert key in result.stderr and "not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr
