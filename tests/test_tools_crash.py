"""Effects happen once (DESIGN §7): SIGKILL the process driving a run at the worst moments of
a tool loop, then `crew resume` it, and count the tool's side effects (lines in a file)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.crash import crash_env, crew, sigkill_when
from support.example import use_loopback
from support.tools_project import answer, tools_project

from crew import testing
from crew.board.board import Board
from crew.testing import OpenAIServer


def turn_of(body: dict[str, Any]) -> int:
    """Which model turn a request is: the tool results it carries say how far the loop got."""
    return sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")


def test_sigkill_between_an_approved_call_and_the_next_turn_runs_the_call_once(
    project_dir: Path,
) -> None:
    turn_one = threading.Event()
    release = threading.Event()
    asked: list[int] = []

    def reply(body: dict[str, Any]) -> Any:
        assert testing.step_of(body) == "settle"
        turn = turn_of(body)
        asked.append(turn)
        if turn == 0:
            return OpenAIServer.tool_calls(("refund", {"order": "B2", "amount": 250}))
        if asked.count(1) == 1:  # the answering process is killed while it waits for this
            turn_one.set()
            release.wait(60)
            return OpenAIServer.status(503, "gone")
        results = [m["content"] for m in body["messages"] if m.get("role") == "tool"]
        return answer(results[0])

    with OpenAIServer(reply) as server:
        tools_project(project_dir)
        use_loopback(project_dir, server.url, timeout=60, max_retries=0)
        env = crash_env()
        started = crew(project_dir, env, "run", "refund", "-i", "order=B2", "--as", "alice")
        assert started.returncode == 3, started.stdout + started.stderr
        board = Board.from_url(os.environ["CREW_REDIS_URL"], os.environ["CREW_BOARD"])
        (run,) = board.runs()
        (card,) = board.inbox("dan")
        assert card.kind == "tool_call"

        try:
            sigkill_when(turn_one, project_dir, env, "answer", card.id, "approve", "--as", "dan")
        finally:
            release.set()
        assert (project_dir / "refunds.log").read_text().count("B2") == 1

        resumed = crew(project_dir, env, "resume", run.id, "--wait", "30", "--json")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        report = json.loads(resumed.stdout)
        assert report["status"] == "done"
        assert "refunded" in report["outputs"]["settle"]["answer"]
        lines = (project_dir / "refunds.log").read_text().splitlines()
        assert len(lines) == 1 and "approved_by=dan" in lines[0]
        assert asked == [0, 1, 1]  # the first turn was never asked again
        events = [e.event for e in board.events(run.id)]
        assert "taken_over" in events


@pytest.mark.parametrize("idempotent", [False, True])
def test_sigkill_while_a_tool_runs(project_dir: Path, idempotent: bool) -> None:
    """A call that started but left no result: an idempotent tool runs again; any other
    becomes an escalation to the role's owner, whose edit gives the model its result."""

    def reply(body: dict[str, Any]) -> Any:
        if turn_of(body) == 0:
            return OpenAIServer.tool_calls(("charge", {"order": "A1"}))
        results = [m["content"] for m in body["messages"] if m.get("role") == "tool"]
        return answer(results[0])

    with OpenAIServer(reply) as server:
        tools_project(
            project_dir, tools={"charge": {"python": "shop.tools:charge", "idempotent": idempotent}}
        )
        use_loopback(project_dir, server.url, timeout=60, max_retries=0)
        env = crash_env()
        charges, hold = project_dir / "charges.log", project_dir / "hold"
        hold.write_text("")
        sigkill_when(
            charges.exists, project_dir, env, "run", "refund", "-i", "order=A1", "--as", "alice"
        )
        hold.unlink()
        board = Board.from_url(os.environ["CREW_REDIS_URL"], os.environ["CREW_BOARD"])
        (run,) = board.runs()

        resumed = crew(project_dir, env, "resume", run.id, "--wait", "30", "--json")
        report = json.loads(resumed.stdout)
        if idempotent:
            assert resumed.returncode == 0, resumed.stderr
            assert report["outputs"]["settle"]["answer"] == '"charged"'
            assert charges.read_text().splitlines() == ["A1", "A1"]
            return
        assert resumed.returncode == 3, resumed.stderr
        (waiting,) = report["waiting_on"]
        assert waiting["assignee"] == "alice" and waiting["kind"] == "escalation"
        assert "charge may or may not have run" in waiting["reason"]
        result = project_dir / "result.yaml"
        result.write_text(yaml.safe_dump({"charged": "by hand"}))
        edited = crew(
            project_dir,
            env,
            "answer",
            waiting["card"],
            "edit",
            "--file",
            str(result),
            "--as",
            "alice",
            "--json",
        )
        assert edited.returncode == 0, edited.stdout + edited.stderr
        assert json.loads(edited.stdout)["status"] == "done"
        assert charges.read_text().splitlines() == ["A1"]  # it never ran again
        (final,) = [
            c
            for c in board.cards_of_run(run.id)
            if c.step == "settle" and c.kind == "agent" and c.status == "done"
        ]
        assert json.loads(final.output["answer"]) == {"charged": "by hand"}
