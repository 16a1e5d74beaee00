"""`crew report`: quality, time and cost of the AI work (DESIGN §10), rendered.

The figures are `crew.people.report`'s (the same for `--json`, `--html` and `crew serve`); this
module only parses, checks the filters against what exists, and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from crew.cli._app import app, console, err_console, print_json
from crew.cli.display import line
from crew.cli.fit import Column, fit_table

if TYPE_CHECKING:
    from crew.people.report import Report

_ROLE_COLUMNS = [
    Column("role"),
    Column("outputs", justify="right"),
    Column("at once", justify="right"),
    Column("escalated", justify="right"),
    Column("threshold", justify="right", drop=2),
    Column("tokens/run", justify="right", drop=5),
    Column("$/run", justify="right", drop=3),
    Column("$/accepted", justify="right", drop=4),
]
_DECISIONS = ("approve", "edit", "retry", "reject")
_DID_COLUMNS = [
    Column("role"),
    Column("its outputs"),
    *(Column(kind, justify="right") for kind in _DECISIONS),
]
_CALIBRATION_COLUMNS = [
    Column("role"),
    Column("confidence"),
    Column("outputs", justify="right"),
    Column("judged", justify="right"),
    Column("kept", justify="right"),
    Column("kept %", justify="right"),
]
_PEOPLE_COLUMNS = [
    Column("person"),
    Column("decisions", justify="right"),
    Column("by kind", wrap=True, min_width=14, drop=3),
    Column("median", justify="right"),
    Column("p90", justify="right"),
    Column("SLA missed", justify="right", drop=1),
    Column("handed on", justify="right", drop=2),
    Column("edits", justify="right", drop=4),
]
_PLAYBOOK_COLUMNS = [
    Column("playbook"),
    Column("runs", justify="right"),
    Column("outcomes", wrap=True, min_width=12, drop=3),
    Column("lead median", justify="right"),
    Column("lead p90", justify="right", drop=2),
    Column("AI", justify="right", drop=1),
    Column("people", justify="right", drop=1),
]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    from crew.cli.board import ago

    return ago(seconds)


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{round(100 * rate)}%"


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]))


@app.command("report")
def report(
    since: Annotated[
        str, typer.Option("--since", help="How far back: 30d, 12h, 2w or a date (2026-11-01).")
    ] = "30d",
    playbook: Annotated[str | None, typer.Option("--playbook", help="Only this playbook.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Only this role.")] = None,
    person: Annotated[str | None, typer.Option("--person", help="Only this person.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", metavar="FILE", help="Write a self-contained page.")
    ] = None,
    with_suggestions: Annotated[
        bool, typer.Option("--suggest", help="Print the YAML changes the evidence points to.")
    ] = False,
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Recompute the roll-ups from the cards still kept."),
    ] = False,
) -> None:
    """Is the AI work any good, where does the time go: per role, person and playbook."""
    from crew.cli.board import open_board, open_project
    from crew.exceptions import ConfigError
    from crew.people.report import (
        build_report,
        known_names,
        names_in,
        parse_since,
        read_rollups,
        rebuild_rollups,
        rollups_missing,
    )

    project = open_project()
    board = open_board(project)
    now = board.now()
    start = parse_since(since, now)
    if rebuild:
        done = rebuild_rollups(board)
        err_console.print(
            f"roll-ups rebuilt from {done['runs']} runs and {done['cards']} cards still kept"
        )
    rollups = read_rollups(board, start, now)
    missing = rollups_missing(board, rollups)
    if missing:
        raise ConfigError(
            f"this board's {missing} runs have no roll-ups: it was written by an older crew, "
            "which kept none",
            hint="`crew report --rebuild` recomputes them from the cards and streams still kept.",
        )
    found = names_in(rollups)
    unknown = []
    for flag, value, section, listed in (
        ("--playbook", playbook, "b", project.playbooks),
        ("--role", role, "r", project.roles),
        ("--person", person, "p", project.crew.people),
    ):
        names = found[section] | set(listed)
        if value is not None and value not in names:
            unknown.append(f"{flag} {value!r} is unknown (known: {known_names(names)})")
    if unknown:
        raise ConfigError("; ".join(unknown))
    thresholds = {name: spec.confidence.threshold for name, spec in project.roles.items()}
    result = build_report(
        board,
        since=start,
        until=now,
        playbook=playbook,
        role=role,
        person=person,
        thresholds=thresholds,
        rollups=rollups,
    )
    if html is not None:
        from crew.people.report_html import write_html

        write_html(result, html, title=f"crew report: {project.crew.name}")
        err_console.print(f"report written to {html}")
    if as_json:
        print_json(result.to_json())
        return
    if result.empty:
        console.print(
            "no runs yet"
            + (" in this period" if board.runs(limit=1) else "")
            + "; start one with `crew run PLAYBOOK` (or fill a demo board: `crew demo history`)"
        )
        return
    _print(result, with_suggestions)


def _print(result: Report, with_suggestions: bool) -> None:
    from crew.board.cards import iso

    span = f"{(iso(result.since) or '')[:10]} → {(iso(result.until) or '')[:10]}"
    if not with_suggestions:
        _print_tables(result, span)
        return
    _print_suggestions(result)


def _print_tables(result: Report, span: str) -> None:
    if result.roles:
        rows: list[list[str | Text]] = []
        did: list[list[str | Text]] = []
        for r in result.roles:
            cost, per_run = r["cost_per_accepted"], r["cost_per_execution"]
            tokens = r["tokens_per_execution"]
            rows.append(
                [
                    Text(line(r["role"])),
                    str(r["executions"]),
                    _percent(r["accepted_at_once_rate"]),
                    _percent(r["escalated_rate"]),
                    "-" if r["threshold"] is None else f"{r['threshold']:g}",
                    "-" if tokens is None else f"{tokens:.0f}",
                    "-" if per_run is None else f"${per_run:.4f}",
                    "-" if cost is None else f"${cost:.4f}",
                ]
            )
            for where, counts in (
                ("escalated", r["escalation_decisions"]),
                ("at checkpoints", r["checkpoint_decisions"]),
            ):
                if counts:
                    did.append(
                        [
                            Text(line(r["role"])),
                            where,
                            *(str(counts.get(kind, 0)) for kind in _DECISIONS),
                        ]
                    )
        console.print(fit_table(console, _ROLE_COLUMNS, rows, title=f"Roles, {span}"))
        reasons = [
            f"{line(r['role'])}: {_kinds(r['escalated_by'])}"
            for r in result.roles
            if r["escalated_by"]
        ]
        if reasons:
            console.print(Text("escalated because: " + "; ".join(reasons), style="dim"))
        if did:
            console.print()
            console.print(
                fit_table(console, _DID_COLUMNS, did, title="What people did with the outputs")
            )
        calibration: list[list[str | Text]] = []
        for r in result.roles:
            for band in r["calibration"]:
                judged = band["kept"] + band["changed"]
                if band["executions"] or judged:
                    calibration.append(
                        [
                            Text(line(r["role"])),
                            band["band"],
                            str(band["executions"]),
                            str(judged),
                            str(band["kept"]),
                            _percent(band["kept_rate"]),
                        ]
                    )
        if calibration:
            console.print()
            console.print(
                fit_table(
                    console,
                    _CALIBRATION_COLUMNS,
                    calibration,
                    title="Calibration: kept unchanged, per confidence band",
                )
            )
    if result.people:
        rows = []
        for p in result.people:
            ttd = p["time_to_decide"]
            rows.append(
                [
                    Text(line(p["person"])),
                    str(p["total"]),
                    _kinds(p["decisions"]) or "-",
                    _duration(ttd["median"]),
                    _duration(ttd["p90"]),
                    str(p["sla_misses"]),
                    str(p["reassignments"]),
                    str(p["edits"]),
                ]
            )
        console.print()
        console.print(fit_table(console, _PEOPLE_COLUMNS, rows, title="People: time to decide"))
    if result.playbooks:
        rows = []
        for b in result.playbooks:
            rows.append(
                [
                    Text(line(b["playbook"])),
                    str(b["total"]),
                    _kinds(b["runs"]) or "-",
                    _duration(b["lead_time"]["median"]),
                    _duration(b["lead_time"]["p90"]),
                    _duration(b["ai_working"]["median"]),
                    _duration(b["waiting_on_people"]["median"]),
                ]
            )
        console.print()
        console.print(
            fit_table(
                console,
                _PLAYBOOK_COLUMNS,
                rows,
                title="Playbooks: lead time (medians: AI working, waiting on people)",
            )
        )
    if result.suggestions:
        console.print()
        console.print(
            f"{len(result.suggestions)} threshold change(s) suggested: `crew report --suggest`"
        )
    for note in result.notes:
        console.print(Text(note, style="dim"))


def _print_suggestions(result: Report) -> None:
    from crew.people.report import CHANGED_MOST, KEPT_MOST, MIN_BAND, MIN_CHANGED, MIN_JUDGED

    for suggestion in result.suggestions:
        console.print(Text(suggestion.line))
    quiet = [r for r in result.roles if r["suggestion"] is None]
    for r in quiet:
        console.print(Text(f"{r['role']}: no change ({r['suggestion_why_not']})", style="dim"))
    console.print(
        Text(
            f"Evidence required: {MIN_JUDGED} outputs of the role people judged, {MIN_CHANGED} "
            f"of them changed; a confidence band counts with {MIN_BAND} judged outputs, people "
            f"having changed {round(100 * CHANGED_MOST)}% of them (raise the threshold over it) "
            f"or kept {round(100 * KEPT_MOST)}% (lower it under it).",
            style="dim",
        )
    )


def report_json(result: Report) -> dict[str, Any]:
    return result.to_json()
