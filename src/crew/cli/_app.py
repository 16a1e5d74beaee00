"""The root Typer app and what every command shares: the consoles, the project, identity.

Command modules must not import LangChain/LangGraph at module level: `crew --help` and the
board commands have to feel instant (a test asserts it). Import heavy parts inside commands.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from crew.cli.help import CrewGroup

app = typer.Typer(
    cls=CrewGroup,  # --help with conventional metavars (TEXT, PATH, INTEGER; none on flags)
    name="crew",
    help="Work management for human + AI teams: run playbooks, answer checkpoints, see the board.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
# NO_COLOR (no-color.org): plain text, no escape sequence at all (rich alone drops colours but
# keeps bold and dim). Off a terminal (a pipe, a file) rich writes plain text by itself.
_PLAIN: dict[str, Any] = {"color_system": None} if os.environ.get("NO_COLOR") else {}
console = Console(**_PLAIN)
err_console = Console(stderr=True, **_PLAIN)


def follow_columns() -> None:
    """Size the consoles from COLUMNS as it is now. rich reads COLUMNS once, when a Console is
    made (here, at import); a process that runs several commands (tests, a program embedding
    crew's CLI) may change it between them. Without COLUMNS, rich asks the terminal (again, for
    a process whose earlier command had COLUMNS)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        console.width = err_console.width = int(columns)
        options.sized = True
    elif options.sized:
        console.width = Console(**_PLAIN).width
        err_console.width = Console(stderr=True, **_PLAIN).width


class _Options:
    project: Path | None = None
    sized: bool = False  # the consoles were sized from COLUMNS (follow_columns)


options = _Options()


@app.callback()
def _root(
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            envvar="CREW_PROJECT",
            help="The project directory (default: the nearest crew.yaml above the current one).",
            show_default=False,
        ),
    ] = None,
) -> None:
    options.project = project


def project_option() -> Path | None:
    """The directory given by `--project` / `CREW_PROJECT`, if any."""
    return options.project


def current_person(explicit: str | None, people: dict[str, Any]) -> str | None:
    """`--as PERSON`, else `CREW_USER`, else the OS login if it is a key of `people`."""
    if explicit:
        return explicit
    env = os.environ.get("CREW_USER")
    if env:
        return env
    try:
        login = getpass.getuser()
    except Exception:  # no login name on this system (containers without passwd entries)
        return None
    return login if login in people else None


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    typer.echo(json.dumps(data, indent=2, default=str))
