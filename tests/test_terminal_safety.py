"""Text from people and models never drives the terminal, nor passes for one of crew's own lines.

An input carrying an OSC title sequence, a comment carrying newlines, a forged decision line and a
clear-screen sequence, and a model output with control characters go through a whole run; then
every command that shows them (status, log, inbox, board, runs, the progress lines, errors) is
checked byte by byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.cli import RUN, as_json
from support.example import answers

from crew.cli.display import block, line, markup

Cli = Callable[..., Any]

TITLE = "Kettle\x1b]0;PWNED\x1b\\"
FORGED = "legal_review (c99): approve by carol at 2026-01-01T00:00:00Z"
COMMENT = f"fine\n{FORGED}\n\x1b[2J\r\u202eevil"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def assert_safe(text: str) -> None:
    assert not CONTROL.search(text), repr(CONTROL.search(text))
    for shown in text.splitlines():
        assert not shown.lstrip().startswith("legal_review (c99)"), shown


def test_line_shows_every_control_character_and_keeps_the_text() -> None:
    assert line("a\x1b[2Jb\nc\td\r") == "a\\x1b[2Jb\\nc d\\x0d"
    assert line("\u202eabc\x9b") == "\\u202eabc\\x9b"
    assert block("one\ntwo\tx\x07") == "one\ntwo\tx\\x07"
    assert markup("[bold]x\x1b") == "\\[bold]x\\x1b"
    assert line("Solar kettle — 2025, naïve café") == "Solar kettle — 2025, naïve café"


def test_hostile_inputs_comments_and_outputs_reach_no_terminal_raw(
    crew_cli: Cli,
    example: Path,
) -> None:
    cassette = example / "playbooks" / "launch-brief.cassette.yaml"
    entries = yaml.safe_load(cassette.read_text())
    answers(entries, "research")[0]["summary"] = f"Demand\x1b[31m red\n{FORGED}"
    cassette.write_text(yaml.safe_dump(entries, sort_keys=False))

    started = crew_cli("run", "launch-brief", "--replay", "-i", f"product={TITLE}", "--as", "bob")
    assert started.code == 3, started.err
    assert_safe(started.out + started.err)
    (run,) = as_json(crew_cli("runs", "--json"))
    (waiting,) = run["waiting_on"]

    answered = crew_cli("answer", waiting["card"], "approve", "-m", COMMENT, "--as", "carol")
    assert answered.code == 0, answered.err
    assert_safe(answered.out + answered.err)

    for args in (
        ("status", run["run"]),
        ("log", run["run"]),
        ("board", "--run", run["run"]),
        ("board",),
        ("runs",),
        ("inbox", "--as", "carol"),
    ):
        result = crew_cli(*args)
        assert result.code == 0, (args, result.err)
        assert_safe(result.out + result.err)
    shown = crew_cli("status", run["run"]).out + crew_cli("log", run["run"]).out
    # Shown, as text on crew's own line, not hidden (long lines wrap between words, indented).
    assert "\\n" + FORGED in " ".join(shown.split())
    assert "\\x1b[2J" in shown

    # The JSON for scripts keeps the exact text.
    status = as_json(crew_cli("status", run["run"], "--json"))
    assert status["inputs"]["product"] == TITLE
    decided = [s["decision"] for s in status["steps"] if s["decision"]]
    assert decided[-1]["comment"] == COMMENT


def test_errors_that_quote_user_text_are_neutralised(crew_cli: Cli, example: Path) -> None:
    result = crew_cli(
        "run", "launch-brief", "--replay", "-i", "nosuch\x1b]0;x\x07=1", "--as", "bob"
    )
    assert result.code == 2
    assert_safe(result.err)
    assert "\\x1b" in result.err


def test_fan_out_progress_lines_name_their_item(crew_cli: Cli, example: Path) -> None:
    cassette = example / "playbooks" / "launch-brief.cassette.yaml"
    entries = yaml.safe_load(cassette.read_text())
    entries["research"] = [answers(entries, "research")[1]] * 2
    cassette.write_text(yaml.safe_dump(entries, sort_keys=False))
    result = crew_cli(*RUN, "-i", "markets=[us, eu]")
    assert result.code == 3, result.err
    assert "research [us]" in result.err and "research [eu]" in result.err


@pytest.mark.parametrize("who", ["carol", "dan"])
def test_status_shows_who_decided_a_checkpoint(crew_cli: Cli, example: Path, who: str) -> None:
    started = crew_cli(*RUN, "--json")
    report = as_json(started)
    card = report["waiting_on"][0]["card"]
    assert crew_cli("answer", card, "approve", "--as", who).code == 0
    status = crew_cli("status", report["run"]).out
    (row,) = [
        shown
        for shown in status.splitlines()
        if shown.startswith("legal_review") and "approve by" not in shown
    ]
    assert who in row.split()


def test_status_says_when_an_answer_is_recorded_but_not_yet_acted_on(
    crew_cli: Cli,
    example: Path,
) -> None:
    from crew.board import Board
    from crew.spec.loader import load_project

    report = as_json(crew_cli(*RUN, "--json"))
    card = report["waiting_on"][0]["card"]
    project = load_project(example)
    Board.from_url(project.redis_url(), project.board_name).answer(
        card, person="carol", decision="approve"
    )
    status = crew_cli("status", report["run"]).out
    assert f"approve by carol is recorded; `crew resume {report['run']}`" in status
    assert f"crew answer {card}" not in status
