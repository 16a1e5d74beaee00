"""`crew board`, `inbox`, `log` and `answer` against real Redis, as users type them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from support.board import FakeClock, dump_board

from crew.board import Board, Card, CardStatus
from crew.cli import main

CREW_YAML = """\
name: test-team
people:
  alice: {name: Alice Chen, backup: bob}
  bob: {name: Bob Singh}
  carol: {name: Carol Diaz, delegates: [dan]}
  dan: {name: Dan Okafor}
"""


@pytest.fixture
def project(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (project_dir / "crew.yaml").write_text(CREW_YAML)
    monkeypatch.delenv("CREW_USER", raising=False)
    monkeypatch.delenv("CREW_PROJECT", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return project_dir


@pytest.fixture
def board(client: redis.Redis, unique_name: str, project: Path) -> Board:
    return Board(client, unique_name)


def crew(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `crew ARGS` in this process through the real entry point."""
    capsys.readouterr()
    old = sys.argv
    sys.argv = ["crew", *args]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    return code, out, err


def checkpoint(board: Board, *, step: str = "legal_review", run: str = "r1", **extra: Any) -> Card:
    fields: dict[str, Any] = {
        "run": run,
        "playbook": "launch-brief",
        "step": step,
        "kind": "checkpoint",
        "assignee": "carol",
        "owner": "carol",
        "status": "waiting",
        "allowed": ["carol", "dan"],
        "reason": "Approve this brief for publication?",
        "due": board.now() + 3600,
    }
    fields.update(extra)
    return board.create_card(**fields)


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_inbox_lists_my_cards_oldest_first_with_the_answer_command(
    board: Board, capsys: pytest.CaptureFixture[str]
) -> None:
    first = checkpoint(board)
    second = checkpoint(board, step="final_review", run="r2")
    checkpoint(board, assignee="alice", allowed=["alice"], owner="alice")

    code, out, _ = crew(capsys, "inbox", "--as", "dan", "--json")
    assert code == 0
    cards = json.loads(out)
    assert [c["card"] for c in cards] == [first.id, second.id]
    assert set(cards[0]) >= {
        "card",
        "run",
        "playbook",
        "step",
        "kind",
        "status",
        "assignee",
        "owner",
        "confidence",
        "due",
    }
    assert cards[0]["due"].endswith("Z") and cards[0]["status"] == "waiting"

    code, out, _ = crew(capsys, "inbox", "--as", "carol")
    assert code == 0
    # a checkpoint takes approve, reject or edit (retry is for escalations)
    assert f"crew answer {first.id} approve|reject|edit --as carol" in out
    assert out.index(first.id) < out.index(second.id)  # oldest first
    assert "legal_review" in out and "in 59m" in out


def test_inbox_without_identity_says_how_to_give_one(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = crew(capsys, "inbox")
    assert code == 2
    assert "Pass --as PERSON or set CREW_USER" in one_error_line(err)


def test_inbox_names_an_unknown_person(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = crew(capsys, "inbox", "--as", "carl")
    assert code == 2
    assert "unknown person 'carl'" in one_error_line(err)


def test_answer_records_the_decision_and_a_second_answer_is_refused(
    board: Board, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    card = checkpoint(board)
    code, out, _ = crew(capsys, "answer", card.id, "approve", "-m", "looks good", "--as", "dan")
    assert code == 0
    assert f"approve by dan on card {card.id}" in out
    recorded = board.get(card.id)
    assert recorded.status is CardStatus.DONE and recorded.decision is not None
    assert (recorded.decision.by, recorded.decision.comment) == ("dan", "looks good")

    before = dump_board(client, board.name)
    code, _, err = crew(capsys, "answer", card.id, "reject", "--as", "carol")
    assert code == 2
    line = one_error_line(err)
    assert f"card {card.id} was already answered: approve by dan at" in line
    assert dump_board(client, board.name) == before


def test_answer_from_the_wrong_person_names_who_may(
    board: Board, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    card = checkpoint(board)
    before = dump_board(client, board.name)
    code, _, err = crew(capsys, "answer", card.id, "approve", "--as", "bob")
    assert code == 2
    assert "bob may not answer" in one_error_line(err) and "only carol or dan may" in err
    assert dump_board(client, board.name) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["c404", "approve", "--as", "carol"], "no card 'c404' on board"),
        (["{card}", "maybe", "--as", "carol"], "unknown decision 'maybe'"),
        (["{card}", "edit", "--as", "carol"], "'edit' needs the corrected output"),
        (["{card}", "edit", "--file", "list.yaml", "--as", "carol"], "must be a mapping"),
        (["{card}", "edit", "--file", "broken.yaml", "--as", "carol"], "broken.yaml:2: "),
        (["{card}", "edit", "--file", "missing.yaml", "--as", "carol"], "cannot read --file"),
        (["{card}", "approve", "--file", "ok.yaml", "--as", "carol"], "--file goes with 'edit'"),
        (["{card}", "approve"], "Pass --as PERSON or set CREW_USER"),
        (["{card}", "approve", "--as", "zed"], "unknown person 'zed'"),
    ],
)
def test_bad_answers_are_one_line_exit_2_and_change_nothing(
    board: Board,
    client: redis.Redis,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    (project / "list.yaml").write_text("- a\n- b\n")
    (project / "broken.yaml").write_text("brief: [unclosed\n")
    (project / "ok.yaml").write_text("brief: fixed\n")
    card = checkpoint(board)
    before = dump_board(client, board.name)
    code, _, err = crew(capsys, "answer", *[a.format(card=card.id) for a in args])
    assert code == 2
    assert message in one_error_line(err)
    assert dump_board(client, board.name) == before


def test_edit_records_the_edited_output_from_a_yaml_file(
    board: Board, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = checkpoint(board)
    (project / "edited.yaml").write_text("brief: A shorter brief.\nscore: 7\n")
    code, _, err = crew(capsys, "answer", card.id, "edit", "--file", "edited.yaml", "--as", "carol")
    assert code == 0, err
    decision = board.get(card.id).decision
    assert decision is not None and decision.edited_output == {
        "brief": "A shorter brief.",
        "score": 7,
    }


def test_answer_accepts_a_step_id_when_one_card_of_it_waits_on_me(
    board: Board, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    card = checkpoint(board)
    code, _, _ = crew(capsys, "answer", "legal_review", "approve", "--as", "carol")
    assert code == 0
    assert board.get(card.id).status is CardStatus.DONE

    first = checkpoint(board, run="r2")
    second = checkpoint(board, run="r3")
    before = dump_board(client, board.name)
    code, _, err = crew(capsys, "answer", "legal_review", "approve", "--as", "carol")
    assert code == 2
    assert f"several cards of step 'legal_review' wait on carol: {first.id}, {second.id}" in (
        one_error_line(err)
    )
    assert dump_board(client, board.name) == before


def test_board_shows_cards_by_status_and_hides_old_finished_ones(
    client: redis.Redis, unique_name: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = Board(client, unique_name)
    two_days_ago = Board(client, unique_name, clock=FakeClock(live.now() - 2 * 86400))
    old = two_days_ago.create_card(
        run="r0", playbook="p", step="draft", kind="agent", assignee="writer", owner="alice"
    )
    lease = two_days_ago.claim(old.id, "w1", 30)
    two_days_ago.complete(old.id, lease.token, output={}, actor="w1")
    queued = live.create_card(
        run="r1", playbook="p", step="research", kind="agent", assignee="researcher", owner="alice"
    )
    waiting = checkpoint(live)

    code, out, _ = crew(capsys, "board", "--json")
    assert code == 0
    assert [c["card"] for c in json.loads(out)] == [queued.id, waiting.id]
    code, out, _ = crew(capsys, "board", "--all", "--json")
    assert [c["card"] for c in json.loads(out)] == [old.id, queued.id, waiting.id]
    code, out, _ = crew(capsys, "board", "--run", "r0", "--json")
    assert [c["card"] for c in json.loads(out)] == [old.id]

    code, out, _ = crew(capsys, "board")
    assert code == 0
    assert "queued" in out and "waiting" in out and "research" in out and "legal_review" in out
    assert old.id not in out.split()


def test_log_shows_the_audit_trail_of_a_run(
    board: Board, capsys: pytest.CaptureFixture[str]
) -> None:
    board.create_run("r1", playbook="launch-brief", inputs={}, started_by="alice")
    card = checkpoint(board)
    board.answer(card.id, person="carol", decision="approve", comment="ok")

    code, out, _ = crew(capsys, "log", "r1", "--json")
    assert code == 0
    events = json.loads(out)
    assert [(e["card"], e["event"], e["actor"]) for e in events] == [
        (None, "run_started", "alice"),
        (card.id, "created", "carol"),
        (card.id, "answered", "carol"),
    ]
    assert list(events[0])[:5] == ["at", "card", "event", "actor", "detail"]
    assert events[2]["detail"]["decision"] == "approve" and events[2]["at"].endswith("Z")

    code, out, _ = crew(capsys, "log", "r1")
    assert code == 0 and "answered" in out and "decision=approve" in out


def test_log_of_an_unknown_run_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = crew(capsys, "log", "r404")
    assert code == 2
    assert "no run 'r404'" in one_error_line(err)


def test_a_board_of_10000_cards_is_read_through_bounded_indexes(
    board: Board, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = [
        {
            "run": f"r{i // 10}",
            "playbook": "p",
            "step": "research",
            "kind": "agent",
            "assignee": "researcher",
            "owner": "alice",
        }
        for i in range(10_000)
    ]
    for start in range(0, len(batch), 2000):
        board.create_cards(batch[start : start + 2000])
    mine = checkpoint(board, run="r5")

    code, out, _ = crew(capsys, "board", "--json")
    assert code == 0
    shown = json.loads(out)
    assert len(shown) == 51  # the newest 50 queued cards, and the waiting one
    code, out, _ = crew(capsys, "board")
    assert "and 9950 more queued" in out
    code, out, _ = crew(capsys, "inbox", "--as", "dan", "--json")
    assert [c["card"] for c in json.loads(out)] == [mine.id]
    code, out, _ = crew(capsys, "log", "r5", "--json")
    assert len(json.loads(out)) == 11


LIGHT_COMMANDS = [["board"], ["inbox", "--as", "carol"], ["log", "r1"]]
RECORD_ANSWER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from crew.people.answering import answer_card\n"
    "from crew.board import Board\n"
    "from crew.spec.loader import find_project_root, load_project\n"
    "project = load_project(find_project_root(Path.cwd()))\n"
    "settings = project.crew.settings\n"
    "board = Board.from_url(\n"
    "    project.redis_url(), project.board_name, allow_eviction=settings.allow_eviction\n"
    ")\n"
    "answer_card(project, board, 'c1', 'carol', 'approve')\n"
    "heavy = sorted({m.split('.')[0] for m in sys.modules\n"
    "                if m.startswith(('langchain', 'langgraph', 'openai'))})\n"
    "print('HEAVY', heavy, 0, file=sys.stderr)\n"
)


def test_board_commands_do_not_import_langchain_or_langgraph(board: Board, project: Path) -> None:
    """`crew board`, `inbox`, `log` and recording an answer must feel instant."""
    board.create_run("r1", playbook="p", inputs={}, started_by="alice")
    checkpoint(board)
    probe = (
        "import sys\n"
        "from crew.cli import main\n"
        "sys.argv = ['crew', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules\n"
        "                if m.startswith(('langchain', 'langgraph', 'openai'))})\n"
        "print('HEAVY', heavy, code, file=sys.stderr)\n"
    )
    runs = [[sys.executable, "-c", probe, *args] for args in LIGHT_COMMANDS]
    runs.append([sys.executable, "-c", RECORD_ANSWER])
    for command in runs:
        result = subprocess.run(
            command, capture_output=True, text=True, cwd=project, env=dict(os.environ), check=False
        )
        assert "HEAVY [] 0" in result.stderr, (command[3:], result.stderr)
    assert board.get("c1").status is CardStatus.DONE
