"""Tool calls through the real langchain-openai client over HTTP, against the loopback
OpenAI-compatible server: its request log shows what the model was told."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.example import use_loopback
from support.tools_project import answer, tools_project

from crew.engine.runtime import Session, resume_run, start_run
from crew.people.answering import answer_card
from crew.spec.loader import load_project
from crew.testing import OpenAIServer


def tool_messages(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m.get("role") == "tool"]


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_edit_and_reject_of_tool_calls_reach_the_tool_and_the_model(
    method: str, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREW_TEST_LLM_KEY", "sk-test")

    def reply(body: dict[str, Any]) -> Any:
        results = tool_messages(body)
        if not results:
            return OpenAIServer.tool_calls(
                ("lookup_order", {"order": "B2"}),
                ("refund", {"order": "B2", "amount": 250}),
            )
        if len(results) == 2:
            return OpenAIServer.tool_calls(("refund", {"order": "B2", "amount": 999}))
        return answer(" | ".join(results))

    with OpenAIServer(reply) as server:
        tools_project(project_dir)
        use_loopback(project_dir, server.url, structured_output=method, timeout=20)
        project = load_project(project_dir)
        session = Session.open(project, person="alice")
        try:
            report = start_run(session, project.playbook("refund"), {"order": "B2"})
            (first,) = report.waiting_on
            assert first.assignee == "dan"
            answer_card(
                session.project,
                session.board,
                first.card,
                "dan",
                "edit",
                edited={"order": "B2", "amount": 120},
            )
            report = resume_run(session, report.run)
            (second,) = report.waiting_on
            answer_card(
                session.project,
                session.board,
                second.card,
                "dan",
                "reject",
                comment="that is more than the order",
            )
            report = resume_run(session, report.run)
        finally:
            session.close()
    assert report.status == "done", report.reason
    offered = server.calls[0].body["tools"]
    assert [t["function"]["name"] for t in offered][:2] == ["lookup_order", "refund"]
    seen = tool_messages(server.calls[-1].body)
    assert json.loads(seen[0]) == {"customer": "Bo", "amount": 250}
    assert json.loads(seen[1]) == {"refunded": 120.0, "order": "B2"}  # dan's arguments
    assert seen[2] == "rejected by dan: that is more than the order"
    assert (project_dir / "refunds.log").read_text().count("B2 120.0") == 1
    assert len(server.calls) == 3  # no turn was asked twice
