"""`crew new role NAME` / `crew new playbook NAME`: scaffold a valid, commented file."""

from __future__ import annotations

from typing import Annotated

import typer

from crew.cli._app import app, project_option
from crew.cli.schema import shown

new_app = typer.Typer(help="Scaffold a role or a playbook that passes crew validate.")
app.add_typer(new_app, name="new")

NameArgument = Annotated[
    str, typer.Argument(help="Letters, digits, '_' and '-'; also the file's name.")
]


@new_app.command("role")
def new_role(name: NameArgument) -> None:
    """Write agents/NAME.yaml (never overwrites) and print its path."""
    from crew.spec.loader import find_project_root
    from crew.spec.scaffold import new_role as scaffold_role

    typer.echo(shown(scaffold_role(find_project_root(project_option()), name)))


@new_app.command("playbook")
def new_playbook(name: NameArgument) -> None:
    """Write playbooks/NAME.yaml (never overwrites) and print its path."""
    from crew.spec.loader import find_project_root
    from crew.spec.scaffold import new_playbook as scaffold_playbook

    typer.echo(shown(scaffold_playbook(find_project_root(project_option()), name)))
