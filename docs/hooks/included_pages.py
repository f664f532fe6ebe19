"""MkDocs hook: pages whose single source lives elsewhere in the repository, added to the site at build time.

- ``models/cards/<name>.md``: each model's ``models/<name>/card.md`` (written by the training commands), listed
  in the navigation in place of the ``models/cards/index.md`` entry, with an index page that lists them;
- ``operations/security.md``: ``SECURITY.md``;
- ``research/benchmarks.md``: ``experiments/RESULTS.md``;
- ``research/results.md``: ``experiments/results/README.md`` (the index of the experiments' result files).

Nothing is copied into docs/: edit the original, the site follows. Registered under ``hooks:`` in mkdocs.yml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CARDS_INDEX = "models/cards/index.md"
#: Site page -> repository file it is made from.
SINGLE_FILES = {
    "operations/security.md": "SECURITY.md",
    "research/benchmarks.md": "experiments/RESULTS.md",
    "research/results.md": "experiments/results/README.md",
}


def _root(config: Any) -> Path:
    return Path(config["config_file_path"]).resolve().parent


def _cards(root: Path) -> list[Path]:
    return sorted((root / "models").glob("*/card.md"))


def _title(text: str, fallback: str) -> str:
    match = re.search(r"^# (.+)$", text, flags=re.MULTILINE)
    return match.group(1).replace("`", "") if match else fallback


def on_config(config: Any) -> Any:
    """Put every model card in the navigation, under the entry that names the cards' index page."""
    root = _root(config)
    cards = [
        {_title(card.read_text(encoding="utf-8"), card.parent.name): f"models/cards/{card.parent.name}.md"}
        for card in _cards(root)
    ]

    def expand(items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if isinstance(item, dict):
                (title, value), *_ = item.items()
                if value == CARDS_INDEX:
                    out.append({title: [CARDS_INDEX, *cards]})
                    continue
                if isinstance(value, list):
                    out.append({title: expand(value)})
                    continue
            out.append(item)
        return out

    if config["nav"]:
        config["nav"] = expand(config["nav"])
    return config


def on_files(files: Any, config: Any) -> Any:
    """Add the model cards, their index, SECURITY.md, experiments/RESULTS.md and the results index as site pages."""
    from mkdocs.structure.files import File

    root = _root(config)
    rows = []
    for card in _cards(root):
        name = card.parent.name
        text = card.read_text(encoding="utf-8")
        files.append(File.generated(config, f"models/cards/{name}.md", content=text))
        rows.append(f"| [`{name}`]({name}.md) | {_title(text, name)} |")
    index = [
        "# Model cards",
        "",
        "Each shipped model's `card.md` (in `models/<name>/`, written by the command that trained it): data and split,",
        "recipe, figures, latency, and where its weights came from. These pages are made from those files when the",
        "site is built.",
        "",
        "| model | card |",
        "|---|---|",
        *rows,
    ]
    files.append(File.generated(config, CARDS_INDEX, content="\n".join(index) + "\n"))
    for page, source in SINGLE_FILES.items():
        files.append(File.generated(config, page, content=(root / source).read_text(encoding="utf-8")))
    return files


def on_serve(server: Any, config: Any, builder: Any) -> Any:
    """``mkdocs serve``: rebuild when an included file changes."""
    root = _root(config)
    for card in _cards(root):
        server.watch(str(card))
    for source in SINGLE_FILES.values():
        server.watch(str(root / source))
    return server
