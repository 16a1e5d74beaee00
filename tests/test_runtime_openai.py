"""A playbook run through the real langchain-openai client, over HTTP, against a loopback
OpenAI-compatible server (`crew.testing.OpenAIServer`), once per structured-output method.

The server's call log is the evidence: the fan-out items were in flight at the same time, and
answering the checkpoint (in a new session, as another process would) called no model again.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from support.example import LOW_RISK_ANSWERS, copy_example, use_loopback

from crew import testing
from crew.engine.runtime import Session, resume_run, start_run
from crew.spec.loader import load_project
from crew.spec.project import Project
from crew.testing import OpenAIServer

# Triage says high risk: the run waits at the legal review before publishing.
ANSWERS: dict[str, dict[str, Any]] = {
    **LOW_RISK_ANSWERS,
    "triage": {"severity": "high", "reasons": ["claim"], "confidence": 0.9, "rationale": "r"},
}


def step_of(body: dict[str, Any]) -> str:
    step = testing.step_of(body)
    assert step is not None, "request without a crew step line"
    return step


def live_project(root: Path, url: str, method: str) -> Project:
    copy_example(root)
    use_loopback(root, url, provider="openai", structured_output=method, timeout=20, max_retries=0)
    return load_project(root)


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_a_live_run_fans_out_in_parallel_and_never_repeats_a_call_on_resume(
    method: str, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREW_TEST_LLM_KEY", "sk-test")
    markets = ["US", "EU", "JP"]
    together = threading.Barrier(len(markets))

    def answer(body: dict[str, Any]) -> Any:
        step = step_of(body)
        if step == "research":
            together.wait(timeout=15)  # only passes if every item is in flight at once
        return ANSWERS[step]

    with OpenAIServer(answer) as server:
        project = live_project(project_dir, server.url, method)
        playbook = project.playbook("launch-brief")
        session = Session.open(project, person="alice")
        try:
            report = start_run(session, playbook, {"product": "kettle", "markets": markets})
        finally:
            session.close()
        assert report.status == "waiting"
        assert len(report.outputs["research"]) == len(markets)
        calls_before = len(server.calls)
        # the researcher has a tool: its calls offer its output as a tool (any method)
        methods = {call.method for call in server.calls if call.step != "research"}
        assert methods == {method}

        (waiting,) = report.waiting_on
        elsewhere = Session.open(project, person="carol")
        try:
            elsewhere.board.answer(waiting.card, person="carol", decision="approve")
            done = resume_run(elsewhere, report.run)
        finally:
            elsewhere.close()

    assert done.status == "done", done.reason
    research = server.calls_for("research")
    assert len(research) == len(markets)
    assert max(c.start for c in research) < min(c.end or 0 for c in research)  # overlapped
    steps = [call.step for call in server.calls]
    assert sorted(steps) == sorted(["research"] * 3 + ["draft", "triage", "publish"])
    assert [call.step for call in server.calls[calls_before:]] == ["publish"]
    assert all(call.status == 200 for call in server.calls)
