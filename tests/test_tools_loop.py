"""Agents that act (DESIGN §7): the tool loop of an agent step, approvals of tool calls as cards
on the board, and effects that happen once, driven through the real runtime and Redis with the
scripted model (`crew.testing.ScriptedModel`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.tools_project import answer, tools_project

from crew.board.cards import CardKind, CardStatus
from crew.engine.runtime import Session, resume_run, start_run
from crew.spec.project import Project
from crew.testing import ScriptedModel, tool_calls, tool_results


def run(project: Project, model: ScriptedModel, order: str = "A1") -> Any:
    session = Session.open(project, person="alice")
    try:
        return start_run(session, project.playbook("refund"), {"order": order}, responder=model)
    finally:
        session.close()


def resume(project: Project, run_id: str, model: ScriptedModel, person: str = "alice") -> Any:
    session = Session.open(project, person=person)
    try:
        return resume_run(session, run_id, responder=model)
    finally:
        session.close()


def answer_card(project: Project, card: str, person: str, decision: str, **more: Any) -> None:
    from crew.people.answering import answer_card as answer_it

    session = Session.open(project, person=person)
    try:
        answer_it(session.project, session.board, card, person, decision, **more)
    finally:
        session.close()


def board_of(project: Project) -> Any:
    return Session.open(project, person="alice").board


def test_a_role_calls_a_tool_gets_its_result_and_finishes(project_dir: Path) -> None:
    project = tools_project(project_dir)
    model = ScriptedModel(
        {
            "settle": [
                tool_calls(("lookup_order", {"order": "A1"})),
                lambda call: answer(f"saw {tool_results(call)}"),
            ]
        }
    )
    report = run(project, model)
    assert report.status == "done", report.reason
    assert json.loads(tool_results(model.calls[1])[0]) == {"customer": "Ann", "amount": 40}
    assert model.calls[0].tools and model.calls[0].tools[0]["function"]["name"] == "lookup_order"
    board = board_of(project)
    (card,) = board.cards_of_run(report.run)
    assert card.status is CardStatus.DONE
    kinds = [sorted(entry) for entry in board.transcript(card.id)]
    assert kinds == [
        ["tool_calls", "turn", "usage"],
        ["started"],
        ["content", "result", "tool"],
        ["answer", "turn", "usage"],
    ]
    assert card.usage is not None and card.usage.calls == 2


def test_one_turns_calls_run_concurrently_and_errors_go_back_to_the_model(
    project_dir: Path,
) -> None:
    project = tools_project(project_dir)
    model = ScriptedModel(
        {
            "settle": [
                tool_calls(
                    ("lookup_order", {"order": "ZZ"}),  # raises KeyError
                    ("slow", {"seconds": 5}),  # past its 1s timeout
                    ("opaque", {}),  # not JSON
                    ("teleport", {}),  # not the role's
                    ("lookup_order", {"id": 3}),  # wrong arguments
                ),
                lambda call: answer(json.dumps(tool_results(call))),
            ]
        }
    )
    report = run(project, model)
    assert report.status == "done", report.reason
    results = tool_results(model.calls[1])
    assert results[0].startswith("Error: KeyError") and "no order ZZ" in results[0]
    assert results[1].startswith("Error: TimeoutError: slow did not return within 1s")
    assert "not JSON-serialisable" in results[2]
    assert results[3].startswith("Error: no tool 'teleport'")
    assert results[4].startswith("Error: invalid arguments for lookup_order")


def test_a_model_that_never_stops_calling_tools_is_escalated(project_dir: Path) -> None:
    project = tools_project(project_dir, role={"max_tool_calls": 3})
    model = ScriptedModel({"settle": lambda call: tool_calls(("lookup_order", {"order": "A1"}))})
    report = run(project, model)
    assert report.status == "waiting"
    (waiting,) = report.waiting_on
    assert waiting.kind is CardKind.ESCALATION and waiting.assignee == "alice"
    assert "too many tool calls" in waiting.reason
    assert len(model.calls) == 4


def test_a_call_needing_approval_waits_for_the_approver_and_edit_changes_its_arguments(
    project_dir: Path,
) -> None:
    project = tools_project(project_dir)
    model = ScriptedModel(
        {
            "settle": [
                tool_calls(("refund", {"order": "B2", "amount": 250})),
                lambda call: answer(tool_results(call)[0]),
            ]
        }
    )
    report = run(project, model, "B2")
    assert report.status == "waiting"
    (waiting,) = report.waiting_on
    assert waiting.kind is CardKind.TOOL_CALL and waiting.assignee == "dan"
    assert not (project_dir / "refunds.log").exists()
    board = board_of(project)
    card = board.get(waiting.card)
    assert card.output == {"order": "B2", "amount": 250}
    assert card.detail["tool_call"]["tool"] == "refund"
    assert card.detail["task"] == "Settle order B2."
    assert [c.id for c in board.inbox("dan")] == [card.id]
    assert [c.id for c in board.inbox("erin")] == [card.id]  # dan's delegate

    with pytest.raises(Exception, match="schema"):  # nothing recorded
        answer_card(project, card.id, "dan", "edit", edited={"order": "B2", "amount": "lots"})
    assert board.get(card.id).decision is None

    answer_card(project, card.id, "erin", "edit", edited={"order": "B2", "amount": 200})
    report = resume(project, report.run, model)
    assert report.status == "done", report.reason
    lines = (project_dir / "refunds.log").read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith("B2 200.0 approved_by=erin")
    assert json.loads(report.outputs["settle"]["answer"]) == {"refunded": 200.0, "order": "B2"}
    assert len(model.calls) == 2  # the first turn was not asked again


def test_reject_feeds_the_comment_back_to_the_model(project_dir: Path) -> None:
    project = tools_project(project_dir)
    model = ScriptedModel(
        {
            "settle": [
                tool_calls(("refund", {"order": "B2", "amount": 250})),
                lambda call: answer(tool_results(call)[0]),
            ]
        }
    )
    report = run(project, model, "B2")
    (waiting,) = report.waiting_on
    answer_card(project, waiting.card, "dan", "reject", comment="over the limit")
    report = resume(project, report.run, model)
    assert report.status == "done"
    assert report.outputs["settle"]["answer"] == "rejected by dan: over the limit"
    assert not (project_dir / "refunds.log").exists()


def test_a_call_below_approve_when_runs_without_a_person(project_dir: Path) -> None:
    project = tools_project(project_dir)
    model = ScriptedModel(
        {
            "settle": [
                tool_calls(("refund", {"order": "A1", "amount": 40})),
                lambda call: answer(tool_results(call)[0]),
            ]
        }
    )
    report = run(project, model)
    assert report.status == "done", report.reason
    line = (project_dir / "refunds.log").read_text().strip()
    assert line.endswith("A1 40.0 approved_by=None")


def test_a_cassette_records_tool_turns_and_results_and_replay_runs_no_tool(
    project_dir: Path,
) -> None:
    import yaml

    from crew.agents.cassettes import CassetteRecorder, CassetteReplay

    project = tools_project(project_dir)
    cassette = project_dir / "playbooks" / "refund.cassette.yaml"
    live = ScriptedModel(
        {
            "settle": [
                tool_calls(("lookup_order", {"order": "B2"})),
                tool_calls(("refund", {"order": "B2", "amount": 250})),
                lambda call: answer(" | ".join(tool_results(call))),
            ]
        }
    )
    report = run(project, CassetteRecorder(live, cassette), "B2")  # type: ignore[arg-type]
    (waiting,) = report.waiting_on
    answer_card(project, waiting.card, "dan", "approve")
    report = resume(project, report.run, CassetteRecorder(live, cassette, resume=True))  # type: ignore[arg-type]
    assert report.status == "done", report.reason
    recorded = yaml.safe_load(cassette.read_text())["settle"]
    assert [sorted(entry) for entry in recorded] == [
        ["$tool_calls"],
        ["$tool_calls"],
        ["answer", "confidence", "rationale"],
    ]
    assert json.loads(recorded[0]["$tool_calls"][0]["result"])["customer"] == "Bo"
    assert "refunded" in recorded[1]["$tool_calls"][0]["result"]
    before = (project_dir / "refunds.log").read_text()

    replay = CassetteReplay(cassette)
    again = run(project, replay, "B2")  # type: ignore[arg-type]
    (waiting,) = again.waiting_on  # the approval is still asked
    answer_card(project, waiting.card, "dan", "approve")
    again = resume(project, again.run, replay)  # type: ignore[arg-type]
    assert again.status == "done", again.reason
    assert again.outputs["settle"]["answer"] == report.outputs["settle"]["answer"]
    assert (project_dir / "refunds.log").read_text() == before  # no tool ran


def test_fan_out_items_wait_on_their_own_tool_calls_and_each_goes_on_when_decided(
    project_dir: Path,
) -> None:
    import yaml

    from crew.spec.loader import load_project

    tools_project(project_dir)
    playbook = {
        "name": "refund",
        "inputs": {"orders": {"type": "array", "items": {"type": "string"}}},
        "steps": [
            {
                "id": "settle",
                "role": "clerk",
                "for_each": "inputs.orders",
                "task": "Settle order {{item}}.",
            }
        ],
    }
    (project_dir / "playbooks" / "refund.yaml").write_text(yaml.safe_dump(playbook))
    project = load_project(project_dir)

    def settle(call: Any) -> Any:
        order = ["A1", "B2"][call.item or 0]
        if not tool_results(call):
            return tool_calls(("refund", {"order": order, "amount": 500}))
        return answer(tool_results(call)[0])

    model = ScriptedModel({"settle": settle})
    session = Session.open(project, person="alice")
    try:
        report = start_run(
            session, project.playbook("refund"), {"orders": ["A1", "B2"]}, responder=model
        )
        assert report.status == "waiting"
        cards = {w.card for w in report.waiting_on}
        assert len(cards) == 2 and {w.kind for w in report.waiting_on} == {"tool_call"}
        by_order = {session.board.get(c).output["order"]: c for c in cards}
        first, second = by_order["A1"], by_order["B2"]
        answer_card(project, first, "dan", "approve")
        report = resume_run(session, report.run, responder=model)
        assert [w.card for w in report.waiting_on] == [second]  # the other still waits
        answer_card(project, second, "dan", "reject", comment="no")
        report = resume_run(session, report.run, responder=model)
    finally:
        session.close()
    assert report.status == "done", report.reason
    first_item, second_item = (o["answer"] for o in report.outputs["settle"])
    assert json.loads(first_item) == {"refunded": 500.0, "order": "A1"}
    assert second_item == "rejected by dan: no"
    assert len((project_dir / "refunds.log").read_text().splitlines()) == 1
