"""Escalations as a run drives them, with `ScriptedModel` and a real Redis: the documented scores
of `consistency` and `judge` on the card, fan-out items escalated one by one, separation of
duties at a checkpoint, and an escalation that survives its driver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.example import copy_example

from crew.agents.responders import ModelCall
from crew.engine.runtime import RunReport, Session, resume_run, start_run
from crew.exceptions import ConfigError, NotAllowed
from crew.people.answering import answer_card
from crew.spec.loader import load_project
from crew.spec.project import Project
from crew.testing import ScriptedModel


def research_answer(severity: str = "low", score: float = 7, confidence: float = 0.9) -> Any:
    return {
        "summary": "s",
        "risks": [],
        "severity": severity,
        "score": score,
        "confidence": confidence,
        "rationale": "r",
    }


def others(**more: Any) -> dict[str, Any]:
    return {
        "draft": lambda call: {"brief": f"v{call.revision}", "confidence": 0.9, "rationale": ""},
        "triage": lambda call: {
            "severity": "high",
            "reasons": [],
            "confidence": 0.9,
            "rationale": "",
        },
        "publish": lambda call: {"channel": "blog", "url": "u", "confidence": 0.9, "rationale": ""},
        **more,
    }


@pytest.fixture
def root(project_dir: Path) -> Path:
    return copy_example(project_dir)


def with_confidence(root: Path, **confidence: Any) -> Project:
    path = root / "agents" / "researcher.yaml"
    role = yaml.safe_load(path.read_text())
    role["confidence"] = {"threshold": 0.7, **confidence}
    if confidence.get("method") == "consistency":
        role["tools"] = []  # samples would each call the tools: crew refuses it
    path.write_text(yaml.safe_dump(role))
    return load_project(root)


@pytest.fixture
def opened() -> Iterator[Callable[[Project], Session]]:
    sessions: list[Session] = []

    def open_(project: Project) -> Session:
        session = Session.open(project, person="alice")
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        session.close()


def launch(session: Session, model: ScriptedModel, markets: list[str] | None = None) -> RunReport:
    playbook = session.project.playbook("launch-brief")
    inputs = {"product": "kettle", "markets": markets or ["US"]}
    return start_run(session, playbook, inputs, responder=model)


def card_of(session: Session, report: RunReport, step: str) -> Any:
    return [c for c in session.board.cards_of_run(report.run) if c.step == step][-1]


def test_consistency_scores_the_agreement_of_scalar_fields(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    session = opened(with_confidence(root, method="consistency", samples=3))
    # severity: 2 of 3 agree (0.6667); score: 7 and 7.4 are within 5% of the 0..10 range of the
    # median 7, 3 is not (0.6667); the mean, 0.6667, is below 0.7.
    answers = {
        0: research_answer("low", 7),
        1: research_answer("low", 7.4),
        2: research_answer("high", 3),
    }
    model = ScriptedModel(others(research=lambda call: answers[call.sample]))
    report = launch(session, model)
    assert [c.sample for c in model.calls if c.step == "research"] == [0, 1, 2]
    (waiting,) = report.waiting_on
    assert waiting.kind == "escalation" and waiting.assignee == "alice"
    card = session.board.get(waiting.card)
    assert card.confidence == pytest.approx(0.6667)
    assert "agreement over 3 samples" in waiting.reason and "severity 0.67" in waiting.reason
    assert card.output["score"] == 7  # the sample that agrees with the most fields
    assert card.detail["confidence"] == {"method": "consistency", "threshold": 0.7}
    (event,) = [e for e in session.board.events(report.run) if e.event == "escalated"]
    assert event.detail["measured"] == {
        "method": "consistency",
        "score": 0.6667,
        "parts": {"samples": 3, "fields": {"severity": 0.6667, "score": 0.6667}},
    }


def test_consistency_that_agrees_flows_on_with_its_score_on_the_card(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    session = opened(with_confidence(root, method="consistency", samples=2))
    model = ScriptedModel(others(research=lambda call: research_answer(confidence=0.1)))
    report = launch(session, model)
    assert report.waiting_on[0].step == "legal_review"  # research was not escalated
    assert card_of(session, report, "research").confidence == 1.0  # not the self-report 0.1


def test_judge_scores_the_output_and_a_low_score_is_escalated_with_its_reason(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    session = opened(with_confidence(root, method="judge", judge="risk_officer"))
    verdict = {"score": 0.4, "reason": "no sources cited", "confidence": 0.9, "rationale": ""}
    model = ScriptedModel(
        others(
            research=lambda call: research_answer(confidence=0.95), **{"research.judge": [verdict]}
        )
    )
    report = launch(session, model)
    (judge_call,) = [c for c in model.calls if c.step == "research.judge"]
    asked = "\n".join(m["content"] for m in judge_call.messages)
    assert "Research demand for kettle in US." in asked and "summary: s" in asked
    assert set(judge_call.schema["properties"]) >= {"score", "reason"}
    (waiting,) = report.waiting_on
    assert (
        waiting.step == "research" and "judged by risk_officer: no sources cited" in waiting.reason
    )
    assert session.board.get(waiting.card).confidence == 0.4


def test_a_confident_judge_lets_the_output_flow_on(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    session = opened(with_confidence(root, method="judge", judge="risk_officer"))
    verdict = {"score": 0.85, "reason": "sound", "confidence": 0.9, "rationale": ""}
    model = ScriptedModel(
        others(research=lambda c: research_answer(), **{"research.judge": [verdict]})
    )
    report = launch(session, model)
    assert report.waiting_on[0].step == "legal_review"
    card = card_of(session, report, "research")
    assert card.confidence == 0.85
    (event,) = [
        e for e in session.board.events(report.run) if e.card == card.id and e.event == "completed"
    ]
    assert event.detail["measured"] == {
        "method": "judge",
        "score": 0.85,
        "parts": {"judge": "risk_officer", "reason": "sound"},
    }


def test_fan_out_items_are_escalated_one_by_one_and_the_step_waits_for_all(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    session = opened(load_project(root))

    def research(call: ModelCall) -> Any:
        unsure = call.item in (1, 2) and call.revision == 0
        return research_answer(confidence=0.5 if unsure else 0.9)

    model = ScriptedModel(others(research=research))
    report = launch(session, model, ["US", "EU", "JP"])
    assert report.status == "waiting"
    assert [(w.step, w.kind) for w in report.waiting_on] == [("research", "escalation")] * 2
    waiting = {session.board.get(w.card).item: session.board.get(w.card) for w in report.waiting_on}
    assert sorted(waiting) == ["EU", "JP"]
    eu, jp = waiting["EU"], waiting["JP"]

    session.board.answer(eu.id, person="alice", decision="approve")
    report = resume_run(session, report.run, responder=model)
    assert [w.card for w in report.waiting_on] == [jp.id]  # still waits for the other item
    assert not [c for c in model.calls if c.step == "draft"]

    session.board.answer(jp.id, person="alice", decision="retry", comment="check JP retail")
    report = resume_run(session, report.run, responder=model)
    assert report.waiting_on[0].step == "legal_review"
    retried = [c for c in model.calls if c.step == "research" and c.item == 2]
    assert [c.revision for c in retried] == [0, 1]
    assert "check JP retail" in retried[1].messages[-1]["content"]
    assert len(report.outputs["research"]) == 3
    assert report.outputs["research"][1]["confidence"] == 0.5  # EU, approved as it was
    assert str(session.board.get(jp.id).status) == "cancelled"  # replaced by its retry's card


def test_an_escalation_waits_again_after_its_driver_stopped_without_calling_the_model(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    session = opened(load_project(root))
    model = ScriptedModel(others(research=[research_answer(confidence=0.5)]))
    report = launch(session, model)
    again = resume_run(session, report.run, responder=model)
    assert [w.card for w in again.waiting_on] == [w.card for w in report.waiting_on]
    assert len([c for c in model.calls if c.step == "research"]) == 1


def test_who_edited_an_output_may_not_approve_the_checkpoint_showing_it(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    # alice (a delegate of carol here) edits an escalated research output; the checkpoint
    # shows research.
    team = yaml.safe_load((root / "crew.yaml").read_text())
    playbook = root / "playbooks" / "launch-brief.yaml"
    spec = yaml.safe_load(playbook.read_text())
    spec["steps"][3]["checkpoint"]["show"] = ["research", "draft"]
    playbook.write_text(yaml.safe_dump(spec, sort_keys=False))
    team["people"]["carol"]["delegates"] = ["alice", "dan"]
    (root / "crew.yaml").write_text(yaml.safe_dump(team))
    project = load_project(root)
    session = opened(project)
    model = ScriptedModel(others(research=[research_answer(confidence=0.5)]))
    report = launch(session, model)
    fixed = {"summary": "by hand", "risks": [], "severity": "low", "score": 5}
    answer_card(project, session.board, report.waiting_on[0].card, "alice", "edit", edited=fixed)
    report = resume_run(session, report.run, responder=model)
    (waiting,) = report.waiting_on
    assert waiting.step == "legal_review"
    with pytest.raises(NotAllowed, match="separation of duties") as refused:
        answer_card(project, session.board, waiting.card, "alice", "approve")
    assert "carol or dan may approve" in str(refused.value)
    assert session.board.get(waiting.card).decision is None  # nothing recorded
    answer_card(project, session.board, waiting.card, "dan", "approve")
    assert resume_run(session, report.run, responder=model).status == "done"


def test_allow_self_approval_lets_the_editor_approve(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    playbook = root / "playbooks" / "launch-brief.yaml"
    spec = yaml.safe_load(playbook.read_text())
    spec["steps"][3]["checkpoint"]["show"] = ["research", "draft"]
    spec["steps"][3]["checkpoint"]["allow_self_approval"] = True
    playbook.write_text(yaml.safe_dump(spec, sort_keys=False))
    team = yaml.safe_load((root / "crew.yaml").read_text())
    team["people"]["carol"]["delegates"] = ["alice"]
    (root / "crew.yaml").write_text(yaml.safe_dump(team))
    project = load_project(root)
    session = opened(project)
    model = ScriptedModel(others(research=[research_answer(confidence=0.5)]))
    report = launch(session, model)
    fixed = {"summary": "by hand", "risks": [], "severity": "low", "score": 5}
    answer_card(project, session.board, report.waiting_on[0].card, "alice", "edit", edited=fixed)
    report = resume_run(session, report.run, responder=model)
    answer_card(project, session.board, report.waiting_on[0].card, "alice", "approve")
    assert resume_run(session, report.run, responder=model).status == "done"


def test_a_checkpoint_takes_no_retry(root: Path, opened: Callable[[Project], Session]) -> None:
    project = load_project(root)
    session = opened(project)
    report = launch(session, ScriptedModel(others(research=lambda c: research_answer())))
    with pytest.raises(ConfigError, match="approve, reject or edit, not retry"):
        answer_card(project, session.board, report.waiting_on[0].card, "carol", "retry")


def test_an_escalation_nobody_answers_moves_to_the_backup_who_may_then_decide(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    from crew.board.board import Board
    from crew.people.sla import sweep

    project = load_project(root)
    session = opened(project)
    model = ScriptedModel(others(research=[research_answer(confidence=0.5)]))
    report = launch(session, model)
    (waiting,) = report.waiting_on
    card = session.board.get(waiting.card)
    assert card.chain == ["alice", "bob"] and card.sla == 2 * 3600  # the researcher's escalation

    assert card.due is not None
    later = Board(session.board.client, session.board.name, clock=lambda: card.due + 1)
    (moved,) = sweep(project, later)
    assert moved.id == card.id and moved.assignee == "bob"
    assert [c.id for c in session.board.inbox("bob")] == [card.id]
    assert session.board.inbox("alice") == []
    with pytest.raises(NotAllowed, match="only bob may"):
        session.board.answer(card.id, person="alice", decision="approve")

    session.board.answer(card.id, person="bob", decision="approve")
    report = resume_run(session, report.run, responder=model)
    assert report.waiting_on[0].step == "legal_review"
    assert report.outputs["research"][0]["confidence"] == 0.5


def test_who_edited_at_one_checkpoint_may_not_approve_the_next_showing_that_output(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    steps = [
        {"id": "draft", "role": "writer", "task": "Write a brief."},
        {
            "id": "edit_review",
            "checkpoint": {"owner": "carol", "question": "OK?", "show": ["draft"]},
        },
        {
            "id": "sign_off",
            "checkpoint": {"owner": "carol", "question": "Sign?", "show": ["draft"]},
        },
    ]
    (root / "playbooks" / "two-reviews.yaml").write_text(
        yaml.safe_dump({"name": "two-reviews", "steps": steps}, sort_keys=False)
    )
    project = load_project(root)
    session = opened(project)
    model = ScriptedModel(others())
    report = start_run(session, project.playbook("two-reviews"), {}, responder=model)
    edited = {"brief": "carol's brief", "confidence": 1, "rationale": ""}
    answer_card(project, session.board, report.waiting_on[0].card, "carol", "edit", edited=edited)
    report = resume_run(session, report.run, responder=model)
    (waiting,) = report.waiting_on
    assert waiting.step == "sign_off"
    with pytest.raises(NotAllowed, match="carol edited the output of draft") as refused:
        answer_card(project, session.board, waiting.card, "carol", "approve")
    assert "only dan may approve" in str(refused.value)
    answer_card(project, session.board, waiting.card, "dan", "approve")
    done = resume_run(session, report.run, responder=model)
    assert done.status == "done" and done.outputs["draft"]["brief"] == "carol's brief"


def test_a_checkpoint_edit_is_checked_against_the_shown_steps_role(
    root: Path, opened: Callable[[Project], Session]
) -> None:
    project = load_project(root)
    session = opened(project)
    report = launch(session, ScriptedModel(others(research=lambda c: research_answer())))
    card = report.waiting_on[0].card
    with pytest.raises(ConfigError, match=r"writer.*brief"):
        answer_card(project, session.board, card, "carol", "edit", edited={"summary": "no brief"})
    assert session.board.get(card).decision is None
