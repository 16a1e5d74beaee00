"""`crew graph PLAYBOOK`: the playbook as its author wrote it, as Mermaid (stdout) and a sketch
(stderr). `--internal` prints the compiled LangGraph graph instead (LangGraph loads only then)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from crew.cli._app import app, err_console
from crew.cli.display import markup

if TYPE_CHECKING:
    from crew.spec.models import PlaybookSpec

__all__ = ["sketch"]

TITLE_WIDTH = 20  # a longer step title gets a line of its own


@app.command("graph")
def graph(
    playbook: Annotated[str, typer.Argument(help="A playbook name, or the path to its file.")],
    internal: Annotated[
        bool,
        typer.Option("--internal", help="Print the compiled LangGraph graph (its internal nodes)."),
    ] = False,
) -> None:
    """Draw a playbook's steps, routes and revision loops: Mermaid on stdout, a sketch on stderr."""
    from crew.cli.board import open_project

    spec = open_project().playbook(playbook)
    if internal:
        from crew.engine.graph import mermaid as compiled

        typer.echo(compiled(spec))
    else:
        from crew.spec.drawing import mermaid

        typer.echo(mermaid(spec), nl=False)
    err_console.print(sketch(spec), highlight=False)


def sketch(playbook: PlaybookSpec) -> str:
    """One block per step: its title (with any fan-out), who does it and when, then where it can
    go next (route cases, `on reject` loops, the end). Rich markup; fits 80 columns."""
    from crew.spec.drawing import sketch_lines

    rows = sketch_lines(playbook)
    width = max((len(title) for title, _, _ in rows if len(title) <= TITLE_WIDTH), default=0)
    lines = [f"[bold]{markup(playbook.name)}[/]"]
    for title, what, notes in rows:
        if len(title) > width:
            lines.append(f"  [bold]{markup(title)}[/]")
            lines.append(f"  {' ' * width}  {markup(what)}")
        else:
            lines.append(f"  [bold]{markup(title)}[/]{' ' * (width - len(title))}  {markup(what)}")
        lines.extend(f"  {' ' * width}    [dim]{markup(note)}[/]" for note in notes)
    return "\n".join(lines)
