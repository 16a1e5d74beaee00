"""SIGKILL the process driving a run in the middle of a model call, then `crew resume` it: the
run completes, and the server's call log shows the steps that had finished were not run again."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from support.crash import crash_env, crew, sigkill_when
from support.example import LOW_RISK_ANSWERS, copy_example, use_loopback

from crew import testing
from crew.board.board import Board
from crew.testing import OpenAIServer


def step_of(body: dict[str, Any]) -> str:
    step = testing.step_of(body)
    assert step is not None, "request without a crew step line"
    return step


def test_sigkill_mid_run_then_resume_completes_without_rerunning_finished_steps(
    project_dir: Path,
) -> None:
    draft_started = threading.Event()
    release = threading.Event()
    draft_calls = 0
    lock = threading.Lock()

    def answer(body: dict[str, Any]) -> Any:
        nonlocal draft_calls
        step = step_of(body)
        if step == "draft":
            with lock:
                draft_calls += 1
                first = draft_calls == 1
            if first:  # the driver will be killed while it waits for this answer
                draft_started.set()
                release.wait(60)
                return OpenAIServer.status(503, "gone")
        return LOW_RISK_ANSWERS[step]

    with OpenAIServer(answer) as server:
        use_loopback(copy_example(project_dir), server.url, timeout=60, max_retries=0)
        env = crash_env()
        command = ["run", "launch-brief", "-i", "product=kettle", "-i", "markets=[US, EU]"]
        try:
            sigkill_when(draft_started, project_dir, env, *command, "--as", "bob")
        finally:
            release.set()

        board = Board.from_url(os.environ["CREW_REDIS_URL"], os.environ["CREW_BOARD"])
        (run,) = board.runs()
        before = [(c.step, str(c.status)) for c in board.cards_of_run(run.id)]
        assert before == [("research", "done"), ("research", "done"), ("draft", "running")]

        resumed = crew(project_dir, env, "resume", run.id, "--wait", "30", "--json")
        assert resumed.returncode == 0, resumed.stderr
        report = json.loads(resumed.stdout)
        assert report["status"] == "done"
        assert report["outputs"]["publish"]["channel"] == "blog"

        steps = [call.step for call in server.calls]
        assert steps.count("research") == 2  # two markets, each called once: never again
        assert steps.count("draft") == 2  # the call the kill cut short, then the resumed one
        assert steps.count("triage") == 1 and steps.count("publish") == 1
        after = [(c.step, str(c.status)) for c in board.cards_of_run(run.id)]
        assert after == [
            ("research", "done"),
            ("research", "done"),
            ("draft", "cancelled"),  # the killed driver's execution, closed on resume
            ("draft", "done"),
            ("triage", "done"),
            ("publish", "done"),
        ]
