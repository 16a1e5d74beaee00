"""A run's results where people look: after a finished `crew run`/`answer`/`resume`, and in full
with `crew output RUN [STEP] [--format md|json|yaml]`.

A run's results are the outputs of its final steps (`crew.spec.flow.final_steps`: the playbook's
declared `outputs`, else the agent steps nothing else uses); a step that did not run (skipped by
a route) has no output and is left out. `md` renders each for a person (`crew.cli.outputs`);
`json` and `yaml` print the outputs exactly: with STEP that step's output alone, else a mapping of
step id to output. LangGraph loads inside the command (it reads the run's saved state).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.text import Text

from crew.cli._app import app, console, print_json
from crew.cli.display import line
from crew.cli.outputs import render_output
from crew.exceptions import ConfigError

if TYPE_CHECKING:
    from crew.board.board import Board
    from crew.spec.models import PlaybookSpec
    from crew.spec.project import Project

__all__ = ["followed_playbook", "print_results", "results"]


class Format(StrEnum):
    MD = "md"
    JSON = "json"
    YAML = "yaml"


def followed_playbook(
    project: Project, board: Board, run_id: str, name: str
) -> PlaybookSpec | None:
    """The playbook version run `run_id` follows (its pinned one, else today's file; None when
    neither is there)."""
    from crew.engine.runtime import started_with

    started = started_with(board, run_id)
    source = started.project(project) if started else project
    return source.playbooks.get(name)


def results(playbook: PlaybookSpec | None, outputs: dict[str, Any]) -> dict[str, Any]:
    """Final step id -> its output, in playbook order, for the steps that have one."""
    from crew.spec.flow import final_steps

    if playbook is None:
        return {}
    return {step: outputs[step] for step in final_steps(playbook) if outputs.get(step) is not None}


def print_results(playbook: PlaybookSpec | None, outputs: dict[str, Any]) -> None:
    """Each final output under its step's name, rendered for a person, on stdout."""
    for step, output in results(playbook, outputs).items():
        _print_step(step, output, fan_out=_fans_out(playbook, step))


def _fans_out(playbook: PlaybookSpec | None, step: str) -> bool:
    return playbook is not None and playbook.step(step).for_each is not None


def _print_step(step: str, output: Any, *, fan_out: bool) -> None:
    if fan_out and isinstance(output, list):  # one output per item, in the items' order
        for number, item in enumerate(output, 1):
            console.print(Text.assemble("\n", (f"{line(step)} [{number}]", "bold underline")))
            console.print(render_output(item))
        return
    console.print(Text.assemble("\n", (line(step), "bold underline")))
    console.print(render_output(output))


@app.command("output")
def output_command(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run.")],
    step: Annotated[
        str | None,
        typer.Argument(
            metavar="STEP",
            help="One step's output (a fan-out step's: the list of its items' outputs); "
            "default: the run's final outputs.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        Format,
        typer.Option(
            "--format",
            help="md: rendered for a person; json or yaml: the output exactly.",
        ),
    ] = Format.MD,
) -> None:
    """Print a run's final outputs, or one step's output, in full."""
    from crew.cli.board import open_project
    from crew.engine.runtime import Session, read_outputs

    project = open_project()
    session = Session.open(project)
    try:
        run = session.board.get_run(run_id)
        outputs = read_outputs(session, run_id)
        playbook = followed_playbook(project, session.board, run_id, run.playbook)
    finally:
        session.close()
    if step is not None:
        steps = [s.id for s in playbook.steps] if playbook else list(outputs)
        if step not in steps:
            raise ConfigError(
                f"run {run_id} ({run.playbook}) has no step '{step}'",
                hint=f"Its steps: {', '.join(steps)}.",
            )
        if step not in outputs:
            raise ConfigError(
                f"step '{step}' of run {run_id} has no output (it has not run, or was skipped)",
                hint=f"See `crew status {run_id}`.",
            )
        chosen: dict[str, Any] = {step: outputs[step]}
    else:
        chosen = results(playbook, outputs)
    data = chosen[step] if step is not None else chosen
    # Both escape every control and non-ASCII character: exact, and safe on a terminal.
    if output_format is Format.JSON:
        print_json(data)
    elif output_format is Format.YAML:
        typer.echo(yaml.safe_dump(data, sort_keys=False), nl=False)
    elif not chosen:
        console.print(f"run {run_id} has no final outputs yet (see `crew status {run_id}`)")
    else:
        for name, value in chosen.items():
            _print_step(name, value, fan_out=_fans_out(playbook, name))
