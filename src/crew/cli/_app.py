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

app = typer.Typer(
    name="crew",
    help="Work management for human + AI teams: run playbooks, answer checkpoints, see the board.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)


class _Options:
    project: Path | None = None


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
