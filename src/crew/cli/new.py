"""`crew new role NAME` / `crew new playbook NAME`: scaffold a valid, commented file."""

from __future__ import annotations

from pathlib import Path
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


@app.command("init")
def init(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="DIR",
            help="Where to make the project (default: the current directory; created if missing).",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="The project's name (default: the directory's name).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start a project that validates and runs offline at once (never overwrites a file)."""
    import shlex

    from crew.spec.init import PLAYBOOK, TOPIC, init_project

    made = init_project(directory if directory is not None else Path.cwd(), name)
    elsewhere = made.root != Path.cwd().resolve()
    typer.echo(f"Created a crew project in {shown(made.root) if elsewhere else '.'}:")
    for path in made.files:
        typer.echo(f"  {path.relative_to(made.root)}")
    steps = ["Next steps:"]
    if elsewhere:
        steps.append(f"  cd {shlex.quote(shown(made.root))}")
    steps += [
        "  crew validate",
        "  # run the example offline, its model answers replayed from the cassette:",
        f'  crew run {PLAYBOOK} --replay -i topic="{TOPIC}" --as {made.login}',
        "  # add a role (then use it in a playbook step), or a playbook:",
        "  crew new role NAME",
        "  crew new playbook NAME",
        "  # use a real model: drop --replay and set OPENAI_API_KEY, or edit `models:` in",
        "  # crew.yaml (model, base_url for any OpenAI-compatible server, api_key_env)",
    ]
    typer.echo("\n".join(steps))
