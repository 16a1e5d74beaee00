"""Output that fits the terminal, as a person sees it: every listing within 80 columns with its ids
and names whole (wide terminals get the columns dropped at 80), one audit event on a few lines at
most, `--help` with conventional metavars, plain text off a terminal and with NO_COLOR, and a
progress bar for a long fan-out on a terminal only (plain lines elsewhere)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from rich.cells import cell_len
from support.cli import RUN, as_json
from support.terminal import Terminal

Cli = Callable[..., Any]

LONG = "carolina_montgomery"  # a person whose name is longer than any column's header
COMMENT = " ".join(f"point {n}: the claim about boil time needs a source." for n in range(60))
MARKETS = ["US", "DE", "FR", "JP", "BR", "IN"]
TOOLS = """\
tools:
  lookup_ticket:
    python: tools.tickets:lookup_ticket
    approval: {person}
    approve_when: "priority > 3 and customer in ['acme', 'globex', 'initech', 'umbrella']"
"""
TICKETS = '''\
"""Ticket lookups."""


def lookup_ticket(
    ticket: str, customer: str, priority: int = 0, include_history: bool = False
) -> dict:
    """Find a support ticket by its id and return its status, the customer's plan, every
    message exchanged so far and who is assigned to it, for a clerk deciding on a refund."""
    return {}
'''


@pytest.fixture
def team(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project with carol renamed to a long name, and a tool with a long signature."""
    files = [example / "crew.yaml", *example.glob("agents/*.yaml"), *example.glob("playbooks/*")]
    for path in files:
        path.write_text(re.sub(r"\bcarol\b", LONG, path.read_text()))
    crew_yaml = yaml.safe_load((example / "crew.yaml").read_text())
    crew_yaml.setdefault("tools", {}).update(yaml.safe_load(TOOLS.format(person=LONG))["tools"])
    (example / "crew.yaml").write_text(yaml.safe_dump(crew_yaml, sort_keys=False))
    (example / "tools").mkdir(exist_ok=True)
    (example / "tools" / "__init__.py").touch()
    (example / "tools" / "tickets.py").write_text(TICKETS)
    monkeypatch.setenv("COLUMNS", "80")
    return example


WORKER = "build-host-07.eu-west.example.internal:48213:9f3c"
IN_HAND = [f"r{n:06x}" for n in range(0xA00000, 0xA00000 + 12)]


@pytest.fixture
def runs(
    team: Path, crew_cli: Cli, client: Any, unique_name: str
) -> Iterator[tuple[str, str]]:
    """Two runs: one answered with a long comment (done), one waiting on LONG; and a live
    worker with a long name and a dozen runs in hand."""
    from crew.board import Board
    from crew.board.runs import WorkerState

    answered = as_json(crew_cli(*RUN, "--json"))
    crew_cli("answer", answered["waiting_on"][0]["card"], "approve", "-m", COMMENT, "--as", LONG)
    waiting = as_json(crew_cli(*RUN, "--json"))
    assert waiting["status"] == "waiting" and waiting["waiting_on"][0]["assignee"] == LONG
    board = Board(client, unique_name)
    now = board.now()
    worker = WorkerState(WORKER, "build-host-07", 48213, 16, IN_HAND, now, now)
    board.beat_worker(worker, ttl=600)
    yield answered["run"], waiting["run"]


def too_wide(out: str, columns: int) -> list[str]:
    return [shown for shown in out.splitlines() if cell_len(shown) > columns]


def words(out: str) -> set[str]:
    return set(re.findall(r"[\w.:-]+", out))


def listings(crew_cli: Cli, done: str, waiting: str) -> dict[tuple[str, ...], Any]:
    commands: list[tuple[str, ...]] = [
        ("log", done),
        ("log", waiting),
        ("board",),
        ("board", "--all"),
        ("inbox", "--as", LONG),
        ("runs",),
        ("status", done),
        ("status", waiting),
        ("tools",),
        ("workers",),
        ("audit", "verify"),
        ("report",),
    ]
    shown = {}
    for args in commands:
        result = crew_cli(*args)
        assert result.code == 0, (args, result.err)
        shown[args] = result.out
    return shown


@pytest.mark.parametrize("columns", [80, 200])
def test_every_listing_fits_the_terminal_with_ids_and_names_whole(
    crew_cli: Cli, runs: tuple[str, str], monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    done, waiting = runs
    shown = listings(crew_cli, done, waiting)
    for args, out in shown.items():
        assert not too_wide(out, columns), (args, too_wide(out, columns))

    cards = as_json(crew_cli("board", "--all", "--json"))
    for card in cards:  # every card on the board, with its run, step, kind and who has it
        assert {card["card"], card["run"], card["step"], card["kind"], card["assignee"]} <= words(
            shown[("board", "--all")]
        ), card
    for args in (("board",), ("board", "--all"), ("runs",), ("inbox", "--as", LONG)):
        assert "…" not in shown[args], args  # nothing cut
    assert LONG in words(shown[("runs",)])  # who the waiting run waits on
    inbox = shown[("inbox", "--as", LONG)]
    (mine,) = as_json(crew_cli("inbox", "--as", LONG, "--json"))
    assert f"crew answer {mine['card']} approve|reject|edit --as {LONG}" in inbox

    for run in (done, waiting):
        log = shown[("log", run)]
        for event in as_json(crew_cli("log", run, "--json")):
            assert {event["event"], event["actor"], event["card"] or event["event"]} <= words(log)
        rows = [n for n, text in enumerate(log.splitlines()) if re.match(r"\d\d:\d\d:\d\d ", text)]
        tallest = max(b - a for a, b in zip(rows, [*rows[1:], len(log.splitlines())], strict=True))
        assert tallest < 9  # one event never wraps over nine lines

        status = shown[("status", run)]
        steps = as_json(crew_cli("status", run, "--json"))["steps"]
        for step in steps:
            assert {step["step"], *([step["card"]] if step["card"] else [])} <= words(status)
        assert LONG in words(status)

    assert {WORKER, *IN_HAND} <= words(shown[("workers",)])

    tools = shown[("tools",)]
    assert "lookup_ticket  (python: tools.tickets:lookup_ticket)" in tools
    assert "include_history: boolean?" in " ".join(tools.split())

    comment = [text for text in shown[("log", done)].splitlines() if "comment=" in text]
    assert comment and "point 0" in comment[0]  # the long comment is there, cut after a few lines
    if columns == 80:
        # What went to fit: the board's due stamps, the status's tokens (the totals stay).
        assert "due at" not in shown[("board",)] and "in 3h59m" in shown[("board",)]
        assert "tokens" not in header(shown[("status", done)])
        assert "usage: " in shown[("status", done)]
    else:
        assert "due at" in shown[("board",)] and "tokens" in header(shown[("status", done)])
    note = [text for text in shown[("status", done)].splitlines() if "point" in text]
    assert 1 < len(note) <= 4 and note[-1].endswith("…")  # a long comment, cut to 4 lines


def header(status: str) -> str:
    return next(text for text in status.splitlines() if text.startswith("step "))


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


def test_help_uses_conventional_metavars_in_every_command(
    crew_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crew.cli import app

    monkeypatch.setenv("COLUMNS", "80")
    paths = list(_commands(typer.main.get_command(app)))
    assert ("run",) in paths and ("new", "role") in paths
    for path in paths:
        result = crew_cli(*path, "--help")
        assert result.code == 0, (path, result.err)
        # typer 0.29's own names (<str>, <bool>, <int range>, <path>, {playbook}) never show.
        assert not re.search(r"<[a-z][a-z ,|\[\]]*>", result.out), (path, result.out)
        assert not re.search(r"\{[a-z_]+\}", result.out), (path, result.out)
        assert not too_wide(result.out, 80), (path, too_wide(result.out, 80))

    run = " ".join(crew_cli("run", "--help").out.split())
    assert "crew run [OPTIONS] PLAYBOOK" in run
    assert "--inputs PATH" in run and "--as TEXT" in run and "--input -i TEXT" in run
    assert re.search(r"--replay Answer every model call", run)  # a flag: no metavar
    board = " ".join(crew_cli("board", "--help").out.split())
    assert "--limit INTEGER" in board and re.search(r"--all Also show", board)
    output = " ".join(crew_cli("output", "--help").out.split())
    assert "crew output [OPTIONS] RUN [STEP]" in output
    assert "--format [md|json|yaml]" in output
    assert "Missing argument 'PLAYBOOK'" in crew_cli("run").err


def test_output_off_a_terminal_is_plain_text(crew_cli: Cli, runs: tuple[str, str]) -> None:
    done, waiting = runs
    for args, out in listings(crew_cli, done, waiting).items():
        assert "\x1b" not in out, args
    result = crew_cli(*RUN)
    assert "\x1b" not in result.out + result.err


def _on_a_terminal(args: list[str], cwd: Path, until: bytes, **env: str) -> str:
    terminal = Terminal(args, cwd, TERM="xterm-256color", COLUMNS="80", **env)
    try:
        terminal.read_until(until)
    finally:
        terminal.close()
    return terminal.seen.decode(errors="replace")


def test_no_color_on_a_terminal_is_plain_text(team: Path, crew_cli: Cli) -> None:
    run = as_json(crew_cli(*RUN, "--json"))["run"]

    plain = _on_a_terminal(["runs"], team, f"{LONG}".encode(), NO_COLOR="1")
    assert run in plain and "\x1b" not in plain
    coloured = _on_a_terminal(["runs"], team, f"{LONG}".encode(), NO_COLOR="")
    assert "\x1b[" in coloured  # the same command on the same terminal, colours allowed


FAN_OUT = {
    "crew.yaml": (
        "name: fans\nmodels:\n  default: {model: gpt-4.1-mini}\n"
        "people:\n  alice: {name: Alice Chen}\n  bob: {name: Bob Singh}\n"
    ),
    "agents/scout.yaml": (
        "name: scout\ntitle: Market Scout\ngoal: Size a market.\nowner: bob\n"
        "output:\n  size: {type: number}\n"
    ),
    "playbooks/scan.yaml": (
        "name: scan\ninputs:\n  markets: {type: array, items: {type: string}}\nsteps:\n"
        "  - id: size\n    role: scout\n    for_each: inputs.markets\n"
        '    task: "Size the market for kettles in {{item}}."\n'
        "  - id: sign_off\n    checkpoint: {owner: alice, question: Go on?, show: [size]}\n"
    ),
    "playbooks/scan.cassette.yaml": yaml.safe_dump(
        {"size": [{"size": 5, "confidence": 0.9, "rationale": "r"}] * len(MARKETS)}
    ),
}


def _long_fan_out(root: Path) -> list[str]:
    """A playbook whose first step fans out over six markets (answers from its cassette), then
    waits on alice."""
    for name, text in FAN_OUT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return ["run", "scan", "--replay", "-i", f"markets={json.dumps(MARKETS)}", "--as", "bob"]


def test_a_long_fan_out_shows_a_progress_bar_on_a_terminal(project_dir: Path) -> None:
    args = _long_fan_out(project_dir)
    seen = _on_a_terminal(args, project_dir, b"answer with:", NO_COLOR="1", CREW_USER="")
    assert f"{len(MARKETS)}/{len(MARKETS)} items" in seen
    assert "size [DE] started" not in seen  # the bar stands for its items' lines
    assert "sign_off waits on alice" in seen


def test_a_long_fan_out_prints_plain_lines_off_a_terminal(project_dir: Path, crew_cli: Cli) -> None:
    result = crew_cli(*_long_fan_out(project_dir))
    assert result.code == 3, result.err
    for market in MARKETS:
        assert f"size [{market}] started" in result.err
        assert f"size [{market}] done" in result.err
    assert "items" not in result.err and "━" not in result.err


class Lines:
    """The line-printing observer `crew run` wraps: what it was asked to print."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Callable[[Any], None]:
        return lambda card: self.said.append((name, f"{card.step} {card.item}"))


def item(n: int, status: str, **detail: Any) -> Any:
    from crew.board.cards import Card
    from crew.types import CardKind, CardStatus

    return Card(
        id=f"c{n}", run="r1", playbook="scan", step="size", kind=CardKind.AGENT,
        status=CardStatus(status), assignee="scout", owner="bob", version=1, created=0.0,
        updated=0.0, item=MARKETS[n % len(MARKETS)],
        detail={"index": n % len(MARKETS), "items": len(MARKETS), **detail},
    )  # fmt: skip


def test_the_bar_counts_settled_items_and_a_retried_item_gets_its_lines() -> None:
    import io

    from rich.console import Console

    from crew.cli.progress import FanOutBars, with_fanout_bars
    from crew.types import CardStatus

    lines = Lines()
    assert with_fanout_bars(lines, Console(file=io.StringIO()), quiet=False) is lines  # no tty
    screen = io.StringIO()
    bars = FanOutBars(lines, Console(file=screen, force_terminal=True, width=80, no_color=True))
    for n in range(len(MARKETS)):
        bars.step_started(item(n, "running"))
    for n in range(len(MARKETS) - 1):
        bars.step_finished(item(n, "done"))
    bars.step_escalated(item(5, "escalated"))
    assert bars.progress is None  # every item settled: the bar is done, the terminal is back
    assert "6/6 items" in re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", screen.getvalue())
    assert lines.said == [("step_escalated", "size IN")]  # only what needs a person's eye

    bars.step_started(item(6, "running", retry_of="c5"))  # a retry runs one item, at revision 1
    bars.step_finished(item(6, "done", retry_of="c5"))
    assert lines.said[1:] == [("step_started", "size US"), ("step_finished", "size US")]
    assert bars.progress is None

    # A resumed run runs only the item it lacked: its bar comes down when the next step starts.
    resumed = replace(item(8, "running"), revision=2)
    bars.step_started(resumed)
    assert bars.progress is not None
    bars.step_finished(replace(resumed, status=CardStatus.DONE))
    assert bars.progress is not None  # 1/6: the other items were done before
    bars.step_started(replace(resumed, step="draft", detail={}))
    assert bars.progress is None and lines.said[-1] == ("step_started", "draft FR")


def test_the_log_says_the_day_in_its_title_and_when_it_changes(
    project_dir: Path, client: Any, unique_name: str, clock: Any, crew_cli: Cli
) -> None:
    from crew.board import Board

    (project_dir / "crew.yaml").write_text(
        "name: t\npeople:\n  alice: {name: Alice}\n  carol: {name: Carol}\n"
    )
    board = Board(client, unique_name, clock=clock)  # 2027-01-15T08:00:00Z
    board.create_run("r1", playbook="p", inputs={}, started_by="alice")
    card = board.create_card(
        run="r1", playbook="p", step="legal_review", kind="checkpoint", assignee="carol",
        owner="carol", status="waiting",
    )  # fmt: skip
    clock.advance(86400 + 3600)
    board.answer(card.id, person="carol", decision="approve", comment="ok")

    shown = crew_cli("log", "r1").out.splitlines()
    assert shown[0].startswith("run r1 · 2027-01-15 (UTC)")
    assert [text.split()[0] for text in shown[2:] if text[:1].strip()] == [
        "08:00:00", "08:00:00", "2027-01-16", "09:00:00",
    ]  # fmt: skip
