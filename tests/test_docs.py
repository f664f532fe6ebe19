"""The documentation: the MkDocs site builds in strict mode (a broken link, a missing page or anchor fails), the
README stays a short user's page whose links resolve, and the har-stream commands written in the README and the
docs name real subcommands and options."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 200
#: Markdown links and images: [text](target) / ![alt](target), target up to a space or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CLI = ".venv/bin/har-stream"
#: Options whose value is a file the command writes: it need not exist yet.
OUTPUT_OPTIONS = {"--export", "-o", "--events", "-e", "--snapshots", "--summary", "--out", "--json", "--media"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs-site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml")]
    done = subprocess.run(
        [*command, "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def test_the_site_builds_strictly_with_the_generated_pages(site: Path) -> None:
    from har_stream.config.schema import HarStreamConfig
    from har_stream.config.site import SiteSettings

    assert (site / "index.html").is_file()
    reference = (site / "configuration" / "reference" / "index.html").read_text(encoding="utf-8")
    for model in (HarStreamConfig, SiteSettings):
        for name in model.model_fields:
            assert f"<code>{name}</code>" in reference, f"{model.__name__}.{name} missing from the reference"
    assert "min_label_confidence" in reference and "max_age_days" in reference and "camera_resources" in reference
    for card in sorted((ROOT / "models").glob("*/card.md")):
        assert (site / "models" / "cards" / card.parent.name / "index.html").is_file(), card
    assert (site / "operations" / "security" / "index.html").is_file()
    assert (site / "research" / "benchmarks" / "index.html").is_file()
    assert not (site / "hooks").exists(), "the hooks' Python files must not be published"


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; the limit is {MAX_README_LINES}"


def test_readme_relative_links_point_to_files() -> None:
    text = README.read_text(encoding="utf-8")
    targets = [t for t in LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]
    assert targets, "no relative links found: the link pattern is broken"
    missing = [t for t in targets if not (ROOT / t.split("#")[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
    assert "docs/annotated_frame.jpg" in targets and "docs/dashboard.png" in targets


def _commands(text: str) -> list[str]:
    """Every ``.venv/bin/har-stream ...`` command line in ``text``: in code blocks (continuation lines joined)
    and in inline code."""
    found: list[str] = []
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            if CLI in line:
                found.append(line[line.index(CLI) :])
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    for span in re.findall(r"`([^`]+)`", prose):
        span = " ".join(span.split())
        if CLI in span:
            found.append(span[span.index(CLI) :])
    return [re.split(r"\s(?:&&|\|\||\|)\s", command)[0] for command in found]


def _cli_options() -> tuple[dict[str, set[str]], set[str]]:
    """The options of every listed command, keyed by its spelling after ``har-stream`` (``run``, ``models train``),
    and the names of the command groups. Hidden commands (the old flat names) are left out: the docs use the new
    spelling."""
    from typer.core import TyperGroup
    from typer.main import get_command

    from har_stream.cli import app

    options: dict[str, set[str]] = {}
    groups: set[str] = set()

    def walk(group: TyperGroup, prefix: str) -> None:
        for name, command in group.commands.items():
            if command.hidden:
                continue
            if isinstance(command, TyperGroup):
                groups.add(prefix + name)
                walk(command, f"{prefix}{name} ")
                continue
            opts = {"--help"}
            for param in command.params:
                opts.update(param.opts)
                opts.update(getattr(param, "secondary_opts", []))
            options[prefix + name] = opts

    walk(get_command(app), "")  # type: ignore[arg-type]
    return options, groups


def _is_placeholder(word: str) -> bool:
    """``--help`` or a placeholder such as COMMAND or GROUP in place of a subcommand."""
    return word == "--help" or word.isupper()


@pytest.mark.parametrize("page", [README, *sorted(DOCS.rglob("*.md"))], ids=lambda p: str(p.relative_to(ROOT)))
def test_documented_commands_use_real_subcommands_and_options(page: Path) -> None:
    options, groups = _cli_options()
    for command in _commands(page.read_text(encoding="utf-8")):
        words = shlex.split(command, comments=True)
        assert len(words) >= 2, f"{page.name}: {command!r} names no subcommand"
        sub, rest = words[1], words[2:]
        if _is_placeholder(sub):
            continue
        if sub in groups:
            assert rest, f"{page.name}: {command!r}: the group {sub!r} needs a command"
            if _is_placeholder(rest[0]):
                continue
            sub, rest = f"{sub} {rest[0]}", rest[1:]
        assert sub in options, f"{page.name}: {command!r}: no subcommand {sub!r}"
        for word in rest:
            if word.startswith("-") and not word.lstrip("-")[:1].isdigit():
                flag = word.split("=")[0]
                assert flag in options[sub], f"{page.name}: {command!r}: {sub} has no option {flag}"


@pytest.mark.parametrize("page", [README, *sorted(DOCS.rglob("*.md"))], ids=lambda p: str(p.relative_to(ROOT)))
def test_documented_experiments_exist(page: Path) -> None:
    """``python -m experiments.<name>`` in the README and the docs names a module of experiments/."""
    for name in re.findall(r"python -m experiments\.([A-Za-z0-9_]+)", page.read_text(encoding="utf-8")):
        assert (ROOT / "experiments" / f"{name}.py").is_file(), f"{page.name}: no experiments/{name}.py"


def test_the_command_check_knows_the_groups() -> None:
    options, groups = _cli_options()
    assert groups == {"models", "clips", "bench"}
    assert {"run", "serve", "check-config", "models train", "clips evaluate-video", "bench pipeline"} <= set(options)
    assert "evaluate-video" not in options and "train" not in options, "old flat names must not count as documented"


def test_readme_commands_name_files_that_exist() -> None:
    for command in _commands(README.read_text(encoding="utf-8")):
        words = shlex.split(command, comments=True)
        for before, word in itertools.pairwise(words):
            if before in OUTPUT_OPTIONS or not re.match(r"^(configs|models|experiments|docs)/", word):
                continue
            assert (ROOT / word).exists(), f"README: {command!r} names {word}, which does not exist"
