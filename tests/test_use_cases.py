"""Adding a surface is thin: a run driven end to end through the library's use cases only.

Each block below is what one request of a web handler would do: open a session as the person
making it, call one use case, close the session. No CLI and no typer: starting a run, the inbox,
answering an escalation with a retry, answering a checkpoint, and resuming the run in the
answering process. The model is a `ScriptedModel` (no network, like `crew run --replay`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support.example import copy_example

from crew.agents.responders import ModelCall
from crew.engine.runtime import Session, continue_run, start_run
from crew.exceptions import AlreadyDecided
from crew.people.answering import answer_card
from crew.spec.inputs import check_inputs
from crew.spec.loader import load_project
from crew.spec.project import Project
from crew.testing import ScriptedModel

GUIDANCE = "cite the 2025 sales figures"


def research(confidence: float) -> dict[str, Any]:
    return {
        "summary": "demand is strong",
        "risks": [],
        "severity": "low",
        "score": 7,
        "confidence": confidence,
        "rationale": "r",
    }


def model() -> ScriptedModel:
    return ScriptedModel(
        {
            # Unsure first (below the researcher's 0.7 threshold: escalated), sure on the retry.
            "research": [research(0.4), research(0.9)],
            "draft": lambda call: {"brief": "The brief.", "confidence": 0.9, "rationale": "r"},
            "triage": lambda call: {
                "severity": "high",
                "reasons": [],
                "confidence": 0.9,
                "rationale": "r",
            },
            "publish": lambda call: {
                "channel": "blog",
                "url": "https://example.com/kettle",
                "confidence": 0.9,
                "rationale": "r",
            },
        }
    )


@contextmanager
def request_as(project: Project, person: str) -> Iterator[Session]:
    """One request's session, as the person who makes it."""
    session = Session.open(project, person=person)
    try:
        yield session
    finally:
        session.close()


def test_a_surface_drives_an_escalation_and_a_checkpoint_through_the_use_cases(
    project_dir: Path,
) -> None:
    project = load_project(copy_example(project_dir))
    responder = model()

    # POST /runs: bob starts a run; it stops at the escalated research.
    playbook = project.playbook("launch-brief")
    inputs = check_inputs(playbook, {"product": "Solar kettle"})
    with request_as(project, "bob") as session:
        started = start_run(session, playbook, inputs, responder=responder)
    assert started.status == "waiting"
    (escalation,) = started.waiting_on
    assert (escalation.step, escalation.kind, escalation.assignee) == (
        "research",
        "escalation",
        "alice",
    )

    # GET /inbox as alice, then POST /cards/<id>/answer: retry with guidance, resumed here.
    with request_as(project, "alice") as session:
        assert [card.id for card in session.board.inbox("alice")] == [escalation.card]
        answered = answer_card(
            project, session.board, escalation.card, "alice", "retry", comment=GUIDANCE
        )
        assert answered.decision is not None and answered.decision.by == "alice"
        report = continue_run(session, answered, responder=responder)
    assert report is not None and report.status == "waiting"
    (checkpoint,) = report.waiting_on
    assert (checkpoint.step, checkpoint.kind, checkpoint.assignee) == (
        "legal_review",
        "checkpoint",
        "carol",
    )
    retried = [call for call in responder.calls if call.step == "research"][-1]
    assert GUIDANCE in _text(retried)

    # carol approves the checkpoint, naming it by its step; the run goes on to its end.
    with request_as(project, "carol") as session:
        approved = answer_card(project, session.board, "legal_review", "carol", "approve")
        assert approved.id == checkpoint.card
        done = continue_run(session, approved, responder=responder)
    assert done is not None and done.status == "done" and done.exit_code == 0
    assert done.outputs["publish"]["url"] == "https://example.com/kettle"

    # A second answer is refused, and there is nothing left to resume.
    with request_as(project, "carol") as session:
        with pytest.raises(AlreadyDecided):
            answer_card(project, session.board, checkpoint.card, "carol", "approve")
        assert session.board.inbox("carol") == []
        assert continue_run(session, approved, responder=responder) is None


def _text(call: ModelCall) -> str:
    return "\n".join(str(message.get("content", "")) for message in call.messages)
