"""`crew run`, `crew resume`, `crew cancel`: drive playbooks from the terminal.

Progress goes to stderr, one line per step as it starts and finishes; the result (a summary, or
with `--json` the run's JSON of DESIGN §3) goes to stdout. Exit codes: 0 done, 1 failed, rejected
or cancelled, 2 usage/config error, 3 waiting on a human. LangGraph loads inside the commands.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from crew.cli._app import app, console, current_person, err_console, print_json
from crew.cli.display import markup
from crew.cli.fit import hanging
from crew.exceptions import BoardError, ConfigError
from crew.types import CardKind, CardStatus, RunStatus

if TYPE_CHECKING:
    from crew.board.cards import Card
    from crew.engine.runtime import RunReport, Session
    from crew.spec.models import Limits, PlaybookSpec
    from crew.spec.project import Project
    from crew.spec.snapshot import FileChange

__all__ = ["finish", "open_session"]

AsOption = Annotated[
    str | None,
    typer.Option(
        "--as", help="Act as this person (default: CREW_USER, else your login).", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the run as JSON on stdout.")]


def load(*, code: bool = False) -> Project:
    """The project; `code` for the commands that drive runs (see `open_project`)."""
    from crew.cli.board import open_project

    return open_project(code=code)


def open_session(project: Project, person: str | None, *, quiet: bool = False) -> Session:
    """A runtime session for this terminal: progress lines on stderr (unless `quiet`), after the
    bounded SLA sweep every command that touches the board runs."""
    from crew.engine.runtime import Session
    from crew.people.notify import shared_deliverer
    from crew.people.sla import enforce_slas

    session = Session.open(project, person=person, observer=_progress(quiet))
    # One per board and process: one wait at exit.
    session.webhooks = shared_deliverer(session.board)
    enforce_slas(project, session.board, deliverer=session.deliverer)
    return session


def _progress(quiet: bool) -> Any:
    from crew.engine.runtime import Observer

    class Progress(Observer):
        lock = threading.Lock()

        def _line(self, text: str) -> None:
            if not quiet:
                with self.lock:  # a long line (a reason) wraps indented under its mark
                    err_console.print(hanging(err_console, text), highlight=False)

        def step_started(self, card: Card) -> None:
            self._line(f"[cyan]▸[/] {_name(card)} [dim]started · {markup(card.role or '')}[/]")

        def step_finished(self, card: Card) -> None:
            if card.status is CardStatus.DONE:
                confidence = (
                    "" if card.confidence is None else f" · confidence {card.confidence:.2f}"
                )
                self._line(f"[green]✓[/] {_name(card)} [dim]done{confidence}[/]")
            else:
                self._line(f"[red]✗[/] {_name(card)} {card.status}: {markup(card.reason or '')}")

        def step_reused(self, card: Card) -> None:
            self._line(
                f"[green]✓[/] {_name(card)} [dim]done before (card {card.id}), not run again[/]"
            )

        def checkpoint_opened(self, card: Card) -> None:
            self._line(f"[yellow]⏸[/] {_name(card)} [dim]waits on {markup(card.assignee)}[/]")

        def step_escalated(self, card: Card) -> None:
            self._line(
                f"[yellow]⚠[/] {_name(card)} escalated to {markup(card.assignee)}: "
                f"{markup(card.reason or '')}"
            )

        def tool_call_waiting(self, card: Card) -> None:
            self._line(
                f"[yellow]⏸[/] {_name(card)} waits on {markup(card.assignee)} "
                f"[dim](card {card.id}): {markup(card.reason or '')}[/]"
            )

        def run_upgraded(
            self, run: str, old: str | None, new: str, changes: list[FileChange]
        ) -> None:
            from crew.spec.snapshot import short

            files = ", ".join(f"{c.file} {c.change}" for c in changes) or "files changed"
            self._line(
                f"[cyan]↑[/] run {run} now follows the current files "
                f"[dim]({short(old) if old else 'unpinned'} → {short(new)}: {markup(files)})[/]"
            )

    from crew.cli.progress import with_fanout_bars

    return with_fanout_bars(Progress(), err_console, quiet)  # long fan-outs: a bar on a terminal


def _name(card: Card) -> str:
    # `\[`: a bare `[us]` would be read as a rich markup tag and vanish.
    item = "" if card.item is None else f" \\[{markup(_short(card.item))}]"
    revision = f" (revision {card.revision})" if card.revision else ""
    return f"[bold]{markup(card.step)}[/]{item}{revision}"


def _short(value: Any, limit: int = 40) -> str:
    text = (
        value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip()
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_inputs(
    pairs: list[str], file: Path | None, limits: Limits | None = None
) -> dict[str, Any]:
    """`--inputs FILE` (YAML or JSON mapping), then each `-i key=value` (value parsed as YAML).

    Bounded by `limits` (default: crew's defaults): the file's size before it is read and the
    YAML aliases of the file and of every value. All the inputs together are bounded where every
    surface starts a run (`crew.engine.runtime.start_run`)."""
    from crew.spec.models import Limits
    from crew.spec.yamlfile import NotYAML, load_yaml, read_text

    limits = limits or Limits()
    bounds: dict[str, Any] = {"max_aliases": limits.yaml_aliases, "max_size": limits.inputs}
    given: dict[str, Any] = {}
    if file is not None:
        what = f"--inputs file '{file}'"
        text = read_text(file, what=what, max_size=limits.inputs, setting="inputs")
        loaded = load_yaml(text, what, **bounds)
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(
                f"{what} holds {type(loaded).__name__}, not a mapping",
                hint="Write a mapping of input names to values, e.g. product: Solar kettle.",
            )
        given.update(loaded or {})
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"-i {pair!r} is not key=value", hint='Write e.g. -i product="Solar kettle".'
            )
        try:
            value = load_yaml(raw, f"-i {key.strip()}", **bounds) if raw.strip() else ""
        except NotYAML:
            value = raw  # not YAML: the plain string the user typed
        given[key.strip()] = value
    return given


def _ask(session: Session) -> Any:
    """The interactive checkpoint prompt: panels, then approve / reject / edit."""
    from crew.cli.review import CheckpointView, ask_decision, show_checkpoint
    from crew.people.answering import answer_card, parse_output

    def ask(card: Card, payload: dict[str, Any]) -> bool:
        if card.kind is CardKind.TASK:
            return False  # a task's output is handed in with crew answer CARD submit --file
        escalation = card.kind is CardKind.ESCALATION
        shown: dict[str, Any] = card.output if isinstance(card.output, dict) else {}
        if escalation:  # the step's own output (none when it stayed invalid or failed)
            shown = {card.step: card.output} if card.output is not None else {}
        call = card.detail.get("tool_call")
        if isinstance(call, dict):  # a tool call: its arguments (edit changes them)
            shown = {f"{call.get('tool')} arguments": card.output}
        view = CheckpointView(
            card=card.id,
            run=card.run,
            playbook=card.playbook,
            step=card.step,
            question=str(payload.get("question") or card.reason or ""),
            owner=card.owner,
            shown=shown,
            revision=card.revision,
            kind=card.kind,
        )
        show_checkpoint(err_console, view)
        answer = ask_decision(err_console, view)
        try:
            edited = None
            if answer.edited is not None:
                limits = session.project.crew.settings.limits
                edited = parse_output(answer.edited, "the edited output", limits)
            answer_card(
                session.project,
                session.board,
                card.id,
                session.person or "",
                answer.decision,
                answer.comment or None,
                edited,
            )
        except (BoardError, ConfigError) as refused:  # e.g. answered elsewhere first, bad edit
            err_console.print(f"[yellow]not recorded:[/] {markup(str(refused))}")
        return True

    return ask


def finish(report: RunReport, *, as_json: bool, playbook: PlaybookSpec | None = None) -> None:
    """Print the result of driving a run and exit with its code. A finished run's summary is
    followed by its final outputs (`crew.cli.results`), which `playbook` (the version the run
    follows) defines; `--json` prints the run's JSON only."""
    if as_json:
        print_json(report.to_json())
    else:
        _summary(report, playbook)
    raise typer.Exit(report.exit_code)


def _summary(report: RunReport, playbook: PlaybookSpec | None = None) -> None:
    head = f"run [bold]{report.run}[/] ({markup(report.playbook)})"
    if report.status is RunStatus.QUEUED:
        console.print(f"{head} [cyan]queued[/]: a worker drives it (`crew worker`)")
        console.print(
            f"  follow it with: [bold]crew status {report.run}[/]", highlight=False, soft_wrap=True
        )
    elif report.status is RunStatus.DONE:
        from crew.cli.results import print_results

        console.print(f"{head} [green]done[/]")
        print_results(playbook, report.outputs)
    elif report.status is RunStatus.WAITING:
        # Within 80 columns: the reason on its own (wrapped, indented) line, then one command a
        # line, so none is split and each can be copied whole.
        for waiting in report.waiting_on:
            console.print(
                hanging(
                    console,
                    f"{head} [yellow]waits on {markup(waiting.assignee)}[/] at "
                    f"[bold]{markup(waiting.step)}[/] ({waiting.kind}, card {waiting.card}):",
                ),
                highlight=False,
            )
            if waiting.reason:
                console.print(hanging(console, "  " + markup(waiting.reason), 4), highlight=False)
            person = markup(waiting.assignee)
            others = (
                ['retry -m "guidance"', "edit --file EDITED.yaml", 'reject -m "why"']
                if waiting.kind is CardKind.ESCALATION
                else ["edit --file ARGS.yaml", 'reject -m "why"']
                if waiting.kind is CardKind.TOOL_CALL
                else ['reject -m "why"', "edit --file EDITED.yaml"]
            )
            first = "submit --file OUT.yaml" if waiting.kind is CardKind.TASK else "approve"
            if waiting.kind is CardKind.TASK:
                others = ['reject -m "why"']
            console.print(
                f"  answer with: [bold]crew answer {waiting.card} {first} --as {person}[/]",
                highlight=False,
                soft_wrap=True,
            )
            for index, other in enumerate(others):
                console.print(
                    f"  {'or:' if index == 0 else '':<13}crew answer {waiting.card} {other} "
                    f"--as {person}",
                    highlight=False,
                    soft_wrap=True,
                    style="dim",
                )
    else:
        where = f" at [bold]{markup(report.step)}[/]" if report.step else ""
        reason = f": {markup(report.reason)}" if report.reason else ""
        console.print(f"{head} [red]{report.status}[/]{where}{reason}", soft_wrap=True)


def _interactive(as_json: bool) -> bool:
    # The prompt and panels go to stderr, so stdout may be piped.
    return not as_json and sys.stdin.isatty() and sys.stderr.isatty()


def _person(explicit: str | None, project: Project) -> str | None:
    """Who runs this: --as, CREW_USER or the login (None when none of them names anyone);
    a name that is not one of crew.yaml's people is an error."""
    if current_person(explicit, dict(project.crew.people)) is None:
        return None
    from crew.cli.board import identify

    return identify(explicit, project)


@app.command("run")
def run(
    playbook: Annotated[str, typer.Argument(help="A playbook name, or the path to its file.")],
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "-i",
            "--input",
            help="An input as key=value (value parsed as YAML).",
            show_default=False,
        ),
    ] = None,
    inputs_file: Annotated[
        Path | None,
        typer.Option("--inputs", help="A YAML or JSON file of inputs.", show_default=False),
    ] = None,
    replay: Annotated[
        bool, typer.Option("--replay", help="Answer every model call from the playbook's cassette.")
    ] = False,
    record: Annotated[
        bool, typer.Option("--record", help="Call the real models and write the cassette.")
    ] = False,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach",
            help="Queue the run for a worker (`crew worker`) and print its id at once.",
        ),
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            metavar="KEY",
            help="With --detach: a run already submitted with this key is returned instead "
            "of a new one.",
            show_default=False,
        ),
    ] = None,
    priority: Annotated[
        str | None,
        typer.Option(
            "--priority",
            metavar="N",
            help="With --detach: workers take higher priorities first (-1000 to 1000; "
            "default 0), then first in first out.",
            show_default=False,
        ),
    ] = None,
    as_: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a playbook until it finishes or waits on a person (--detach: for a worker)."""
    from crew.cli import remote
    from crew.cli.board import identify
    from crew.engine.runtime import LIVE, RECORD, REPLAY, start_run, submit_run
    from crew.spec.inputs import check_inputs

    if (api := remote.remote()) is not None:  # `crew login`: queued through the server's API
        given = parse_inputs(inputs or [], inputs_file)
        remote.run(
            api, playbook, given, replay=replay, record=record, key=key, as_person=as_,
            as_json=as_json,
        )  # fmt: skip
        return
    if replay and record:
        raise ConfigError(
            "--replay and --record exclude each other",
            hint="--replay answers from the cassette; --record calls the models and writes it.",
        )
    if not detach and (key is not None or priority is not None):
        option = "--key" if key is not None else "--priority"
        raise ConfigError(
            f"{option} goes with --detach",
            hint="Submit the run to workers: `crew run PLAYBOOK --detach " + option + " ...`.",
        )
    if detach and record:
        raise ConfigError(
            "--detach and --record exclude each other: a worker on any machine drives the run",
            hint="Record in this process: `crew run PLAYBOOK --record` without --detach.",
        )
    rank = _priority(priority)
    project = load(code=True)
    spec: PlaybookSpec = project.playbook(playbook)
    limits = project.crew.settings.limits
    given = check_inputs(spec, parse_inputs(inputs or [], inputs_file, limits))
    person = identify(as_, project)  # only people of crew.yaml start runs (crew.people.access)
    session = open_session(project, person, quiet=as_json)
    mode = REPLAY if replay else RECORD if record else LIVE
    if detach:  # never asks anything: a worker drives it
        try:
            report = submit_run(session, spec, given, mode=mode, key=key, priority=rank)
        finally:
            session.close()
        _submitted(report, as_json=as_json)
    if _interactive(as_json) and person:
        session.ask = _ask(session)
    try:
        report = start_run(session, spec, given, mode=mode)
    finally:
        session.close()
    finish(report, as_json=as_json, playbook=spec)


def _submitted(report: RunReport, *, as_json: bool) -> None:
    """What `crew run --detach` prints: the run id alone on stdout (or the run's JSON), how to
    follow it on stderr; exit 0 (also when --key found a run submitted before)."""
    if as_json:
        print_json(report.to_json())
    else:
        console.print(report.run, highlight=False, markup=False)
        if report.status is RunStatus.QUEUED:
            said = "queued: a worker drives it (`crew worker`)"
        else:
            said = f"submitted before with this key; it is {report.status}"
        err_console.print(
            f"run [bold]{report.run}[/] ({markup(report.playbook)}) {said}; "
            f"follow it with `crew status {report.run}`",
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(0)


def _priority(raw: str | None) -> int:
    """--priority N: a whole number from -1000 to 1000 (one clear line otherwise)."""
    from crew.board.board import check_priority

    if raw is None:
        return 0
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(
            f"--priority {raw!r} is not a whole number",
            hint="Use e.g. --priority 10 (higher goes first; -1000 to 1000).",
        ) from None
    return check_priority(value)


@app.command("resume")
def resume(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run to continue.")],
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            metavar="SECONDS",
            help="Wait up to this long for another driver's lease to run out (a crashed driver).",
        ),
    ] = 0.0,
    upgrade: Annotated[
        bool,
        typer.Option(
            "--upgrade",
            help="Move the run to the current playbook and role files (it goes on with the "
            "version it started with otherwise); refused if a step it did is gone.",
        ),
    ] = False,
    as_: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Continue a run: act on a recorded answer, or take over after its driver stopped."""
    from crew.cli.results import followed_playbook
    from crew.engine.runtime import resume_run

    project = load(code=True)
    if upgrade:  # the audit trail names who moved the run: a person of crew.yaml
        from crew.cli.board import identify

        person: str | None = identify(as_, project)
    else:
        person = _person(as_, project)
    session = open_session(project, person, quiet=as_json)
    if _interactive(as_json) and person:
        session.ask = _ask(session)
    try:
        report = resume_run(session, run_id, wait=wait, upgrade=upgrade)
        playbook = followed_playbook(project, session.board, run_id, report.playbook)
    finally:
        session.close()
    finish(report, as_json=as_json, playbook=playbook)


@app.command("cancel")
def cancel(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run to cancel.")],
    message: Annotated[
        str | None, typer.Option("-m", "--message", help="Why (kept in the audit log).")
    ] = None,
    as_: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a running or waiting run and every open card of it."""
    from crew.cli.board import identify
    from crew.engine.runtime import cancel_run

    project = load()
    person = identify(as_, project)  # cancelling is for known people only (crew.people.access)
    session = open_session(project, person, quiet=True)
    try:
        report = cancel_run(session, run_id, message)
    finally:
        session.close()
    if as_json:
        print_json(report.to_json())
    else:
        console.print(f"run [bold]{run_id}[/] cancelled: {markup(report.reason or '')}")

