"""Model cards (``card.md``): one writer for every kind of model folder, from a typed description.

A card is a title, an opening paragraph and sections; a section is a ``## heading`` (or none, for a closing
paragraph) and its body: lines of Markdown and :class:`Table` objects. Each trainer describes its model as a
:class:`ModelCard`; :meth:`ModelCard.write` lays every card out the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CARD_FILE = "card.md"


@dataclass
class Table:
    """A Markdown table: a header row and rows of cells (already formatted)."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The table as Markdown lines: header, separator, rows."""
        return [_row(self.header), "|" + "---|" * len(self.header), *(_row(cells) for cells in self.rows)]


@dataclass
class Section:
    """A ``## title`` and its body (no heading when ``title`` is None); body lines are Markdown, tables are laid out."""

    title: str | None
    body: list[str | Table] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The section as Markdown lines, starting with the blank line that separates it from what precedes it."""
        out = [""] + ([f"## {self.title}"] if self.title is not None else [])
        for part in self.body:
            out += part.lines() if isinstance(part, Table) else [part]
        return out


@dataclass
class ModelCard:
    """What a model folder's card says: ``# title``, the opening lines, then the sections in order."""

    title: str
    intro: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def add(self, title: str | None, *body: str | Table) -> Section:
        """Append a section and return it (its body can still grow)."""
        section = Section(title, list(body))
        self.sections.append(section)
        return section

    def add_notes(self, notes: Iterable[str] | None) -> None:
        """A ``## Notes`` section of bullet points, when there are notes (a model.json's ``notes``)."""
        notes = list(notes or [])
        if notes:
            self.add("Notes", *(f"- {note}" for note in notes))

    def render(self) -> str:
        """The card as Markdown."""
        lines = [f"# {self.title}"]
        if self.intro:
            lines += ["", *self.intro]
        for section in self.sections:
            lines += section.lines()
        return "\n".join(lines) + "\n"

    def write(self, folder: Path) -> Path:
        """Write ``folder/card.md``; returns its path."""
        path = Path(folder) / CARD_FILE
        path.write_text(self.render())
        return path


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
