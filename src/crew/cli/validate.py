"""`crew validate [PATH]`: check crew.yaml, agents/ and playbooks/ before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crew.cli._app import app, print_json, project_option


def _count(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@app.command("validate")
def validate(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The project directory, or a file in it "
            "(default: the nearest crew.yaml above here).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON on stdout.")
    ] = False,
) -> None:
    """Check the project's files; every problem is one `file:line: what. fix` line (exit 2)."""
    from crew.spec.loader import find_project_root, read_project

    if path is not None and path.is_file() and path.suffix in (".yaml", ".yml"):
        # `crew validate agents/writer.yaml`: the file is checked with the project it belongs to.
        root = find_project_root(start=path.parent)
    else:
        root = find_project_root(path if path is not None else project_option())
    loaded = read_project(root)
    crew = loaded.crew.spec if loaded.crew is not None else None
    if as_json:
        print_json(
            {
                "ok": not loaded.problems,
                "project": crew.name if crew else None,
                "root": str(root),
                "roles": sorted(loaded.roles),
                "playbooks": sorted(loaded.playbooks),
                "people": list(crew.people) if crew else [],
                "problems": [
                    {"file": p.file, "line": p.line, "message": p.message, "hint": p.hint}
                    for p in loaded.problems
                ],
            }
        )
    elif loaded.problems:
        for problem in loaded.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{_count(len(loaded.problems), 'problem', 'problems')} in {root}", err=True)
    else:
        assert crew is not None  # no problems means crew.yaml loaded
        typer.echo(
            f"ok: {_count(len(loaded.roles), 'role', 'roles')}, "
            f"{_count(len(loaded.playbooks), 'playbook', 'playbooks')}, "
            f"{_count(len(crew.people), 'person', 'people')} ({crew.name})"
        )
    if loaded.problems:
        raise typer.Exit(2)
