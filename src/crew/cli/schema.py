"""`crew schema [--out DIR]`: write the JSON Schemas editors use to check the project's YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crew.cli._app import app, project_option
from crew.exceptions import ConfigError


def shown(path: Path) -> str:
    """`path` relative to the current directory when it is below it (shorter to read and copy)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@app.command("schema")
def schema(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Directory to write into (default: schemas/ in the project).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write crew.schema.json, role.schema.json and playbook.schema.json."""
    from crew.spec.loader import find_project_root
    from crew.spec.schema import write_schemas

    directory = out if out is not None else find_project_root(project_option()) / "schemas"
    try:
        written = write_schemas(directory)
    except OSError as exc:
        raise ConfigError(
            f"cannot write schemas into {directory}: {exc.strerror}",
            hint="Pass --out DIR with a writable directory.",
        ) from None
    for path in written:
        typer.echo(shown(path))
