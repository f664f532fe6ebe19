"""The ``har-stream`` command line; each command mirrors a Python entry point."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="har-stream",
    help="Real-time human action recognition for video surveillance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Real-time human action recognition for video surveillance."""


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
