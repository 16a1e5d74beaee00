"""Driving runs against the real board and run state in Redis, with a scripted model.

What a team relies on: every step is a card; a run stops at its checkpoint until the owner
answers (from anywhere), then goes on without calling the model again for finished steps; a
rejection revises with the comment until `max_revisions`; one process drives a run at a time.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.example import copy_example

from crew.agents.responders import ModelCall
from crew.board.runs import RunStatus
from crew.engine.runtime import Session, cancel_run, report_of, resume_run, start_run
from crew.exceptions import BoardError, RunError, WrongStatus
from crew.spec.loader import load_project
from crew.spec.models import PlaybookSpec
from crew.spec.project import Project
from crew.testing import ScriptedModel


def research(call: ModelCall) -> dict[str, Any]:
    return {
        "summary": f"demand #{call.item}",
        "risks": [],
        "severity": "low",
        "score": 5,
        "confidence": 0.9,
        "rationale": "r",
    }


def draft(call: ModelCall) -> dict[str, Any]:
    return {"brief": f"brief v{call.revision}", "confidence": 0.9, "rationale": "r"}


def triage(severity: str) -> Any:
    return lambda call: {"severity": severity, "reasons": [], "confidence": 0.9, "rationale": "r"}


def publish(call: ModelCall) -> dict[str, Any]:
    return {"channel": "blog", "url": "https://x", "confidence": 0.9, "rationale": "r"}


def model(severity: str = "high", **more: Any) -> ScriptedModel:
    return ScriptedModel(
        {
            "research": research,
            "draft": draft,
            "triage": triage(severity),
            "publish": publish,
            **more,
        }
    )


@pytest.fixture
def project(project_dir: Path) -> Project:
    return load_project(copy_example(project_dir))


@pytest.fixture
def session(project: Project) -> Iterator[Session]:
    opened = Session.open(project, person="alice")
    yield opened
    opened.close()


def statuses(session: Session, run: str) -> list[tuple[str, str]]:
    return [(c.step, str(c.status)) for c in session.board.cards_of_run(run)]


def launch(session: Session, responder: ScriptedModel, **inputs: Any) -> Any:
    playbook = session.project.playbook("launch-brief")
    return start_run(
        session, playbook, {"product": "kettle", "markets": ["US"], **inputs}, responder=responder
    )


def checkpoint_card(session: Session, report: Any) -> str:
    (waiting,) = report.waiting_on
    return str(waiting.card)


def test_a_run_waits_at_its_checkpoint_with_every_step_a_card(session: Session) -> None:
    report = launch(session, model(), markets=["US", "EU"])
    assert report.status == "waiting" and report.exit_code == 3
    (waiting,) = report.waiting_on
    assert (waiting.step, waiting.kind, waiting.assignee) == ("legal_review", "checkpoint", "carol")
    assert statuses(session, report.run) == [
        ("research", "done"),
        ("research", "done"),
        ("draft", "done"),
        ("triage", "done"),
        ("legal_review", "waiting"),
    ]
    assert [c.item for c in session.board.cards_of_run(report.run)[:2]] == ["US", "EU"]
    card = session.board.get(waiting.card)
    assert "carol" in card.may_answer and "dan" in card.may_answer  # carol's delegate
    assert set(card.output) == {"draft", "triage"}
    run = session.board.get_run(report.run)
    assert run.status is RunStatus.WAITING and run.waiting_on[0]["assignee"] == "carol"
    assert report.outputs["research"] == [research(_call(0)), research(_call(1))]


def _call(item: int) -> Any:
    return dataclasses.make_dataclass("C", ["item", "revision"])(item, 0)


def test_an_answer_from_anywhere_resumes_without_calling_the_model_again(session: Session) -> None:
    responder = model()
    report = launch(session, responder)
    session.board.answer(checkpoint_card(session, report), person="dan", decision="approve")
    before = len(responder.calls)

    # Another process (a new session, a new responder) acts on the recorded answer.
    other = Session.open(session.project, person="dan")
    again = model()
    try:
        done = resume_run(other, report.run, responder=again)
    finally:
        other.close()
    assert done.status == "done" and done.exit_code == 0
    assert [c.step for c in again.calls] == ["publish"]
    assert len(responder.calls) == before
    assert statuses(session, report.run)[-1] == ("publish", "done")
    assert done.outputs["publish"]["channel"] == "blog"
    assert session.board.get_run(report.run).status is RunStatus.DONE


def test_rejection_revises_with_the_comment_then_ends_rejected(session: Session) -> None:
    responder = model()
    report = launch(session, responder)
    for round_ in range(2):  # launch-brief allows max_revisions: 2
        session.board.answer(
            checkpoint_card(session, report),
            person="carol",
            decision="reject",
            comment=f"fix claim {round_}",
        )
        report = resume_run(session, report.run, responder=responder)
        assert report.status == "waiting"
        drafts = [c for c in responder.calls if c.step == "draft"]
        assert drafts[-1].revision == round_ + 1
        assert f"fix claim {round_}" in str(drafts[-1].messages)
        assert report.outputs["draft"]["brief"] == f"brief v{round_ + 1}"
    session.board.answer(
        checkpoint_card(session, report), person="carol", decision="reject", comment="no"
    )
    report = resume_run(session, report.run, responder=responder)
    assert report.status == "rejected" and report.exit_code == 1
    assert "no" in (report.reason or "")
    assert [c.step for c in responder.calls].count("draft") == 3
    assert "publish" not in {c.step for c in responder.calls}
    assert session.board.get_run(report.run).status is RunStatus.REJECTED


def test_edit_replaces_the_shown_output_the_next_steps_use(session: Session) -> None:
    responder = model()
    report = launch(session, responder)
    session.board.answer(
        checkpoint_card(session, report),
        person="carol",
        decision="edit",
        edited_output={"brief": "EDITED", "confidence": 1, "rationale": "carol"},
    )
    report = resume_run(session, report.run, responder=responder)
    assert report.status == "done"
    assert report.outputs["draft"]["brief"] == "EDITED"
    (publish_call,) = [c for c in responder.calls if c.step == "publish"]
    assert "EDITED" in str(publish_call.messages)


def test_a_route_that_skips_the_checkpoint_shows_it_skipped(session: Session) -> None:
    from crew.engine.run_view import timeline

    report = launch(session, model(severity="low"))
    assert report.status == "done"
    run = session.board.get_run(report.run)
    rows = timeline(
        session.project.playbook("launch-brief"), run, session.board.cards_of_run(run.id)
    )
    assert {r["step"]: r["status"] for r in rows}["legal_review"] == "skipped"


def test_a_step_whose_model_fails_is_escalated_and_a_rejection_ends_the_run(
    session: Session,
) -> None:
    responder = model(draft=[RuntimeError("HTTP 500 from the model")])
    report = launch(session, responder)
    assert report.status == "waiting" and report.exit_code == 3
    (waiting,) = report.waiting_on
    assert (waiting.step, waiting.kind, waiting.assignee) == ("draft", "escalation", "bob")
    assert "HTTP 500" in waiting.reason
    card = session.board.get(waiting.card)
    assert str(card.status) == "escalated" and card.output is None
    session.board.answer(card.id, person="bob", decision="reject", comment="model is down")
    report = resume_run(session, report.run, responder=responder)
    assert report.status == "rejected" and report.exit_code == 1
    assert report.step == "draft" and "model is down" in (report.reason or "")
    assert session.board.get_run(report.run).status is RunStatus.REJECTED


def test_a_missing_answer_stops_the_run_failed_with_a_clear_error(session: Session) -> None:
    with pytest.raises(RunError, match="triage"):
        launch(session, ScriptedModel({"research": research, "draft": draft}))
    (run,) = session.board.runs(limit=1)
    assert run.status is RunStatus.FAILED


class Crash(BaseException):
    """Stands in for the process dying in the middle of a model call."""


def test_after_a_crash_resume_reruns_only_the_unfinished_step(session: Session) -> None:
    def crash(call: ModelCall) -> Any:
        raise Crash

    first = model(triage=crash)
    with pytest.raises(Crash):
        launch(session, first)
    (run,) = session.board.runs(limit=1)
    second = model()
    report = resume_run(session, run.id, responder=second)
    assert report.status == "waiting"
    assert [c.step for c in second.calls] == ["triage"]
    # The crashed execution's card is closed honestly; the step ran on a new card.
    assert [s for s in statuses(session, run.id) if s[0] == "triage"] == [
        ("triage", "cancelled"),
        ("triage", "done"),
    ]


def test_one_process_drives_a_run_at_a_time(session: Session) -> None:
    report = launch(session, model())
    session.board.answer(checkpoint_card(session, report), person="carol", decision="approve")
    token = session.board.acquire_run(report.run, "someone-else", 30)
    assert token is not None
    with pytest.raises(BoardError, match="someone-else"):
        resume_run(session, report.run, responder=model())
    session.board.release_run(report.run, token)


def test_two_resumes_at_once_drive_the_run_once(session: Session) -> None:
    report = launch(session, model())
    session.board.answer(checkpoint_card(session, report), person="carol", decision="approve")
    gate = threading.Barrier(2)
    responders = [model(), model()]
    outcomes: list[Any] = []

    def resume(index: int) -> None:
        mine = Session.open(session.project, person="carol")
        gate.wait(timeout=10)
        try:
            outcomes.append(resume_run(mine, report.run, responder=responders[index]).status)
        except BoardError as error:
            outcomes.append(type(error).__name__)
        finally:
            mine.close()

    threads = [threading.Thread(target=resume, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert "done" in outcomes
    assert sum(len(r.calls) for r in responders) == 1  # publish, exactly once
    assert session.board.get_run(report.run).status is RunStatus.DONE


def test_cancel_closes_the_run_and_its_open_cards(session: Session) -> None:
    report = launch(session, model())
    cancelled = cancel_run(session, report.run, "not this quarter")
    assert cancelled.status == "cancelled" and cancelled.exit_code == 1
    assert statuses(session, report.run)[-1] == ("legal_review", "cancelled")
    assert session.board.get_run(report.run).reason == "not this quarter"
    assert resume_run(session, report.run, responder=model()).status == "cancelled"
    with pytest.raises(WrongStatus):
        cancel_run(session, report.run)


def test_report_of_a_run_reads_board_and_saved_state(session: Session) -> None:
    report = launch(session, model())
    read = report_of(session, session.board.get_run(report.run))
    assert read.to_json() == report.to_json()


def test_parallel_needs_join_runs_both_branches_before_the_join(session: Session) -> None:
    playbook = PlaybookSpec.model_validate(
        {
            "name": "fork",
            "inputs": {"product": {"type": "string"}},
            "steps": [
                {"id": "left", "role": "researcher", "task": "L", "needs": []},
                {"id": "right", "role": "researcher", "task": "R", "needs": []},
                {
                    "id": "join",
                    "role": "writer",
                    "task": "{{steps.left.summary}}",
                    "needs": ["left", "right"],
                },
            ],
        }
    )
    both = threading.Barrier(2)

    def meet(call: ModelCall) -> Any:
        both.wait(timeout=10)  # passes only if both branches are in flight together
        return research(call)

    responder = ScriptedModel({"left": meet, "right": meet, "join": draft})
    project = dataclasses.replace(session.project, playbooks={"fork": playbook})
    mine = dataclasses.replace(session, project=project)
    report = start_run(mine, playbook, {"product": "x"}, responder=responder)
    assert report.status == "done"
    assert [c.step for c in responder.calls][-1] == "join"


def test_cancel_from_another_terminal_stops_the_driver_before_the_next_step(
    session: Session,
) -> None:
    elsewhere = Session.open(session.project, person="bob")

    def cancel_meanwhile(call: ModelCall) -> Any:
        (run,) = elsewhere.board.runs(limit=1)
        cancel_run(elsewhere, run.id, "wrong product")
        return draft(call)

    try:
        report = launch(session, model(draft=cancel_meanwhile))
    finally:
        elsewhere.close()
    assert report.status == "cancelled" and report.reason == "wrong product"
    assert report.exit_code == 1
    assert statuses(session, report.run) == [("research", "done"), ("draft", "cancelled")]


def test_a_driver_whose_lease_was_taken_over_stops_and_its_result_is_refused(
    session: Session,
) -> None:
    """The thief's board clock runs an hour ahead, so to it our lease has expired."""
    import time

    from crew.board.board import Board
    from crew.exceptions import LeaseLost

    ahead = Board(session.board.client, session.board.name, clock=lambda: time.time() + 3600)
    thief = dataclasses.replace(session, board=ahead, holder="thief", person="bob")
    thief_model = model()
    taken: list[Any] = []

    def slow_draft(call: ModelCall) -> Any:
        # While we "think", another process takes the run over and drives it on.
        (run,) = session.board.runs(limit=1)
        taken.append(resume_run(thief, run.id, responder=thief_model))
        return draft(call)

    with pytest.raises(LeaseLost):
        launch(session, model(draft=slow_draft))
    (report,) = taken
    assert report.status == "waiting"  # the thief drove it to the checkpoint
    assert [c.step for c in thief_model.calls] == ["draft", "triage"]
    assert [s for s in statuses(session, report.run) if s[0] == "draft"] == [
        ("draft", "cancelled"),  # ours: our late result was refused
        ("draft", "done"),
    ]
    assert session.board.get_run(report.run).status is RunStatus.WAITING


def test_a_crash_in_one_fan_out_item_reruns_only_that_item(session: Session) -> None:
    def one_crashes(call: ModelCall) -> Any:
        if call.item == 1:
            raise Crash
        return research(call)

    with pytest.raises(Crash):
        launch(session, model(research=one_crashes), markets=["US", "EU", "JP"])
    (run,) = session.board.runs(limit=1)
    second = model()
    report = resume_run(session, run.id, responder=second)
    assert report.status == "waiting"
    assert [(c.step, c.item) for c in second.calls] == [
        ("research", 1),
        ("draft", None),
        ("triage", None),
    ]
    assert len(report.outputs["research"]) == 3


def test_the_audit_trail_names_who_drove_the_run_not_the_roles_owner(session: Session) -> None:
    # session drives as alice; research belongs to alice but draft/triage to bob/carol
    report = launch(session, model())
    created = [e for e in session.board.events(report.run) if e.event == "created"]
    assert created and {e.actor for e in created} == {"alice"}


def test_a_run_stopped_before_any_saved_state_runs_from_the_top_when_resumed(
    session: Session,
) -> None:
    # A driver can die before LangGraph saved anything (state is saved at human gates and at
    # the end): the run record's inputs and mode are enough to run it (the crash tests show
    # that finished steps' cards are reused then).
    inputs = {"product": "kettle", "markets": ["US"]}
    again = session.board.create_run(
        "rfresh", playbook="launch-brief", inputs=inputs, started_by="alice", meta={"mode": "live"}
    )
    scripted = model()
    report = resume_run(session, again.id, responder=scripted)
    assert report.status == "waiting" and report.waiting_on[0].step == "legal_review"
    assert session.board.get_run(again.id).meta == {"mode": "live"}
    before = len(scripted.calls)
    # resumed again from its (now saved) state: no step runs twice
    assert resume_run(session, again.id, responder=scripted).status == "waiting"
    assert len(scripted.calls) == before


def test_purging_a_finished_run_deletes_its_langgraph_state(session: Session) -> None:
    from crew.engine.retention import enforce_retention
    from crew.spec.models import Retention

    report = launch(session, model(severity="low"))  # routes past the checkpoint: done
    assert report.status == "done"
    client = session.board.client
    state = f"crew:{{{session.board.name}}}:lg:*"
    assert any(report.run in key for key in client.scan_iter(match=state))
    retained = enforce_retention(session.board, Retention(finished=0))
    assert retained.runs_deleted == 1
    assert not any(report.run in key for key in client.scan_iter(match=state))
    assert session.board.runs() == []
