"""The compiler's review gates, with an in-process executor: an escalated step waits in its own
node (answering never runs the step again unless asked), and each decision does what DESIGN §5
says to the run."""

from __future__ import annotations

from typing import Any

from support.graph import LAUNCH, Recorder, playbook, resume, run

from crew.engine.graph import AgentTask, StepOutcome


def unsure_once(output: dict[str, Any]) -> Any:
    """Escalate the first execution of a step; the next one (a retry) is confident."""

    def answer(task: AgentTask) -> StepOutcome:
        if task.revision == 0:
            escalation = {"card": "e1", "step": task.step.id, "output": output, "revision": 0}
            return StepOutcome(ok=False, reason="unsure", escalation=escalation)
        return StepOutcome(ok=True, output={**output, "guided": task.guidance})

    return answer


def test_an_edit_of_an_escalated_route_step_routes_on_the_edited_value() -> None:
    executor = Recorder(answers={"triage": unsure_once({"severity": "high"})})
    graph, config = run(playbook(LAUNCH), executor)
    state = graph.get_state(config)
    (pending,) = state.interrupts
    assert pending.value["card"] == "e1" and "triage" not in state.values["outputs"]
    state = resume(graph, config, decision="edit", by="carol", output={"severity": "low"})
    assert executor.steps() == ["draft", "triage", "publish"]  # no second triage call
    assert state.values["outputs"]["triage"] == {"severity": "low"}


def test_retry_runs_the_step_again_with_the_next_revision_and_the_guidance() -> None:
    executor = Recorder(answers={"triage": unsure_once({"severity": "low"})})
    graph, config = run(playbook(LAUNCH), executor)
    state = resume(graph, config, decision="retry", comment="cite sources", by="alice")
    retried = [c for c in executor.calls if c.step.id == "triage"]
    assert [(c.revision, c.guidance, c.retry_of) for c in retried] == [
        (0, "", None),
        (1, "cite sources", "e1"),
    ]
    assert state.values["outputs"]["triage"]["guided"] == "cite sources"
    assert executor.steps()[-1] == "publish"


def test_reject_ends_the_run_rejected_naming_the_step_and_who() -> None:
    executor = Recorder(answers={"draft": unsure_once({"text": "d"})})
    graph, config = run(playbook(LAUNCH), executor)
    state = resume(graph, config, decision="reject", comment="no", by="bob")
    outcome = state.values["outcome"]
    assert outcome["status"] == "rejected" and outcome["step"] == "draft"
    assert "rejected by bob: no" in outcome["reason"]
    assert executor.steps() == ["draft"] and not state.next
