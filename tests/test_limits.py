"""Files and sizes a user hands crew, as the user meets them (issue 8, items 2 and 3): a file that
is not UTF-8, a YAML alias bomb, and anything over `settings.limits` is refused in one line that
names the file or the limit (and how to raise it), with exit code 2 and nothing recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from support.board import dump_board

from crew import ScriptedModel
from crew.agents.step import run_agent_step
from crew.board import Board, Card
from crew.spec.models import ModelProfile, RoleSpec

Cli = Callable[..., Any]

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
"""
"""A few hundred bytes of YAML that expand to megabytes (9^6 strings)."""

INTAKE = """\
name: intake
description: Look at a mapping of data.
inputs:
  data: {type: object, description: Anything}
steps:
  - id: research
    role: researcher
    task: "Research this: {{inputs.data}}"
"""


@pytest.fixture
def example(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared example (confident: a run goes on to the checkpoint) with a playbook that takes
    an object input, printed on a wide terminal."""
    (example / "playbooks" / "intake.yaml").write_text(INTAKE)
    monkeypatch.setenv("COLUMNS", "300")
    return example


@pytest.fixture
def board(client: redis.Redis, unique_name: str) -> Board:
    return Board(client, unique_name)


def set_limits(root: Path, **limits: str) -> None:
    """Add `settings.limits` to the example's crew.yaml (its last block is `settings:`)."""
    lines = (root / "crew.yaml").read_text().splitlines()
    text = "\n".join(ln for ln in lines if not ln.startswith("  limits:"))
    pairs = ", ".join(f"{name}: {value}" for name, value in limits.items())
    (root / "crew.yaml").write_text(text.rstrip("\n") + f"\n  limits: {{{pairs}}}\n")


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def checkpoint(board: Board) -> Card:
    return board.create_card(
        run="r1",
        playbook="launch-brief",
        step="legal_review",
        kind="checkpoint",
        assignee="carol",
        owner="carol",
        status="waiting",
        allowed=["carol", "dan"],
        reason="Approve this brief for publication?",
    )


# -- non-UTF-8 files ------------------------------------------------------------------------------


def test_an_inputs_file_that_is_not_utf8_is_one_line_with_the_byte_offset(
    crew_cli: Cli, example: Path, client: redis.Redis, unique_name: str
) -> None:
    (example / "in.yaml").write_bytes(b"product: Solar kettle\nmarkets: [US, Fran\xe7e]\n")

    result = crew_cli("run", "launch-brief", "--as", "alice", "--replay", "--inputs", "in.yaml")

    assert result.code == 2
    line = one_line(result.err)
    assert "in.yaml" in line and "not UTF-8" in line
    assert "byte 0xe7 at offset 40, line 2" in line
    assert dump_board(client, unique_name) == {}  # nothing recorded


def test_an_edit_file_that_is_not_utf8_is_refused_and_the_card_is_unchanged(
    crew_cli: Cli, example: Path, board: Board, client: redis.Redis, unique_name: str
) -> None:
    card = checkpoint(board)
    before = dump_board(client, unique_name)
    (example / "bad-utf8.yaml").write_bytes(b"brief: caf\xc3\n")

    result = crew_cli("answer", card.id, "edit", "--file", "bad-utf8.yaml", "--as", "carol")

    assert result.code == 2
    line = one_line(result.err)
    assert "bad-utf8.yaml" in line and "byte 0xc3 at offset 10" in line
    assert dump_board(client, unique_name) == before


def test_a_cassette_that_is_not_utf8_is_one_line(
    crew_cli: Cli, example: Path, client: redis.Redis, unique_name: str
) -> None:
    cassette = example / "playbooks" / "launch-brief.cassette.yaml"
    cassette.write_bytes(cassette.read_bytes() + b"# \xff\n")

    result = crew_cli("run", "launch-brief", "--as", "alice", "--replay", "-i", "product=Kettle")

    assert result.code == 2
    line = one_line(result.err.splitlines()[-1])
    assert "launch-brief.cassette.yaml is not UTF-8 text (byte 0xff" in line


# -- inputs ---------------------------------------------------------------------------------------


def test_a_20mb_inputs_file_is_refused_in_under_a_second_naming_the_limit(
    crew_cli: Cli, example: Path, client: redis.Redis, unique_name: str
) -> None:
    big = example / "big.json"
    big.write_text(json.dumps({"product": "x" * (20 * 1024**2)}))

    started = time.perf_counter()
    result = crew_cli("run", "launch-brief", "--as", "alice", "--replay", "--inputs", "big.json")
    elapsed = time.perf_counter() - started

    assert result.code == 2
    assert elapsed < 1.0
    line = one_line(result.err)
    assert "--inputs file 'big.json' is 20MB, above the 1MB limit for a run's inputs" in line
    assert "raise settings.limits.inputs in crew.yaml" in line
    assert dump_board(client, unique_name) == {}


def test_the_inputs_limit_counts_i_values_and_is_raised_in_crew_yaml(
    crew_cli: Cli, example: Path
) -> None:
    set_limits(example, inputs="2KB")
    many = [arg for i in range(3) for arg in ("-i", f"markets=[{'x' * 900}{i}]")]

    result = crew_cli(
        "run", "launch-brief", "--as", "alice", "--replay", "-i", f"product={'p' * 1500}", *many
    )
    assert result.code == 2
    assert "the run's inputs (as JSON) is 2.37KB, above the 2KB limit" in one_line(result.err)

    set_limits(example, inputs="4KB")
    result = crew_cli(
        "run", "launch-brief", "--as", "alice", "--replay", "-i", f"product={'p' * 1500}"
    )
    assert result.code == 3, result.err  # accepted: runs to the checkpoint


@pytest.mark.parametrize("how", ["file", "-i"])
def test_a_yaml_alias_bomb_into_an_object_input_is_refused(
    crew_cli: Cli, example: Path, client: redis.Redis, unique_name: str, how: str
) -> None:
    assert len(BOMB) < 300
    if how == "file":
        (example / "bomb.yaml").write_text(
            "data:\n" + "".join(f"  {ln}\n" for ln in BOMB.splitlines())
        )
        args = ["--inputs", "bomb.yaml"]
    else:
        args = ["-i", "data={" + ", ".join(BOMB.splitlines()) + "}"]

    result = crew_cli("run", "intake", "--as", "alice", "--replay", *args)

    assert result.code == 2
    line = one_line(result.err)
    assert "(expanded) is" in line and "settings.limits.inputs" in line
    assert dump_board(client, unique_name) == {}


def test_more_aliases_than_settings_limits_yaml_aliases_are_refused(
    crew_cli: Cli, example: Path
) -> None:
    set_limits(example, yaml_aliases="3")
    (example / "in.yaml").write_text("data:\n  a: &x 1\n  b: *x\n  c: *x\n  d: *x\n  e: *x\n")

    result = crew_cli("run", "intake", "--as", "alice", "--replay", "--inputs", "in.yaml")

    assert result.code == 2
    line = one_line(result.err)
    assert "in.yaml' uses more than 3 YAML aliases" in line
    assert "settings.limits.yaml_aliases" in line


def test_a_recursive_alias_is_refused(crew_cli: Cli, example: Path) -> None:
    (example / "in.yaml").write_text("data: &x {self: *x}\n")

    result = crew_cli("run", "intake", "--as", "alice", "--replay", "--inputs", "in.yaml")

    assert result.code == 2
    assert "recursive YAML alias (line 1)" in one_line(result.err)


def test_an_alias_bomb_in_a_project_file_is_a_problem_of_that_file(
    crew_cli: Cli, example: Path
) -> None:
    playbook = example / "playbooks" / "intake.yaml"
    levels = [f"l0: &l0 {['lol'] * 11}"]
    levels += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 11)}]" for n in range(1, 11)]
    playbook.write_text(INTAKE + "\n".join(levels) + "\n")  # 110 aliases, 11^11 strings

    result = crew_cli("validate")

    assert result.code == 2
    assert "playbooks/intake.yaml:1: the file uses more than 100 YAML aliases" in result.err
    assert "Traceback" not in result.err


# -- edits and comments ---------------------------------------------------------------------------


def test_a_5mb_edit_is_refused_and_the_card_is_unchanged(
    crew_cli: Cli, example: Path, board: Board, client: redis.Redis, unique_name: str
) -> None:
    card = checkpoint(board)
    before = dump_board(client, unique_name)
    (example / "big.yaml").write_text("brief: " + "x" * (5 * 1024**2) + "\n")

    result = crew_cli("answer", card.id, "edit", "--file", "big.yaml", "--as", "carol")

    assert result.code == 2
    line = one_line(result.err)
    assert "--file big.yaml is 5MB, above the 256KB limit for an edited output" in line
    assert "settings.limits.edit" in line
    assert dump_board(client, unique_name) == before


def test_an_aliased_edit_expanding_past_the_edit_limit_is_refused(
    crew_cli: Cli, example: Path, board: Board, client: redis.Redis, unique_name: str
) -> None:
    card = checkpoint(board)
    before = dump_board(client, unique_name)
    (example / "edit.yaml").write_text("brief: ok\n" + BOMB)

    result = crew_cli("answer", card.id, "edit", "--file", "edit.yaml", "--as", "carol")

    assert result.code == 2
    assert "settings.limits.edit" in one_line(result.err)
    assert dump_board(client, unique_name) == before


def test_a_long_comment_is_refused_and_the_card_is_unchanged(
    crew_cli: Cli, example: Path, board: Board, client: redis.Redis, unique_name: str
) -> None:
    card = checkpoint(board)
    before = dump_board(client, unique_name)

    result = crew_cli("answer", card.id, "reject", "-m", "no " * 10_000, "--as", "carol")

    assert result.code == 2
    line = one_line(result.err)
    assert "the comment (-m) is 29.3KB, above the 16KB limit for a comment" in line
    assert "settings.limits.comment" in line
    assert dump_board(client, unique_name) == before


# -- tasks and outputs ----------------------------------------------------------------------------


def test_a_task_over_the_limit_is_not_sent_to_the_model_but_escalated(
    crew_cli: Cli, example: Path
) -> None:
    set_limits(example, task="1KB")
    # The cassette would answer; the task never reaches it.
    result = crew_cli(
        "run", "launch-brief", "--as", "alice", "--replay", "--json", "-i", f"product={'k' * 2000}"
    )

    assert result.code == 3, result.err
    (waiting,) = json.loads(result.out)["waiting_on"]
    assert (waiting["step"], waiting["kind"], waiting["assignee"]) == (
        "research",
        "escalation",
        "alice",
    )
    assert "the task is 1.98KB, above the 1KB limit for one rendered task" in waiting["reason"]
    assert "settings.limits.task" in waiting["reason"]
    assert "not sent to the model" in waiting["reason"]


def test_an_output_over_the_limit_is_invalid_and_asked_for_again() -> None:
    role = RoleSpec(
        name="writer",
        title="Writer",
        goal="Write.",
        owner="alice",
        output={"brief": {"type": "string"}},
    )
    big = {"brief": "b" * 3000, "confidence": 0.9, "rationale": "long"}
    small = {"brief": "short", "confidence": 0.9, "rationale": "fits"}
    model = ScriptedModel({"draft": [big, small]})

    result = run_agent_step(
        role,
        ModelProfile(model="any"),
        "Write it.",
        step="draft",
        responder=model,
        max_output=2048,
    )

    assert result.ok and result.output == small and result.calls == 2
    assert "the answer is 2.98KB, above the 2KB limit for one step's output" in str(
        model.calls[1].messages[-1]["content"]
    )


def test_an_interactive_edit_saved_in_latin1_is_asked_again_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import sys

    from rich.console import Console

    from crew.cli.review import CheckpointView, ask_decision

    script = "import sys; open(sys.argv[1], 'wb').write(b'brief: caf\\xe9\\n')"
    monkeypatch.setenv("VISUAL", f'{sys.executable} -c "{script}"')
    out = io.StringIO()
    console = Console(file=out, width=200)
    replies = iter(["edit", "approve", ""])
    monkeypatch.setattr(console, "input", lambda prompt="": next(replies))
    view = CheckpointView(
        card="c1",
        run="r1",
        playbook="launch-brief",
        step="legal_review",
        question="Approve?",
        owner="carol",
        shown={"draft": {"brief": "café"}},
    )

    answer = ask_decision(console, view)

    assert answer.decision == "approve"  # asked again after the bad file
    assert "the edited output is not UTF-8 text (byte 0xe9 at offset" in out.getvalue()
    assert "try again" in out.getvalue()
