"""The compiler: playbooks become LangGraph graphs that run steps in the order the playbook says.

These tests run the compiled graph with LangGraph's InMemorySaver and an in-test step executor;
the runtime's own tests cover the board, Redis and the model side.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from langgraph.types import Command
from support.graph import LAUNCH, Recorder, playbook, resume, run

from crew.engine.graph import AgentTask, StepOutcome, compile_playbook, mermaid
from crew.exceptions import ConfigError


def test_sequence_renders_templates_from_inputs_and_earlier_steps() -> None:
    pb = playbook(
        [
            {"id": "a", "role": "r", "task": "about {{inputs.topic}}"},
            {"id": "b", "role": "r", "task": "from {{steps.a.text}}; missing: [{{steps.zz}}]"},
        ],
        topic="kettles",
    )
    executor = Recorder()
    graph, config = run(pb, executor, {"topic": "kettles"})
    assert executor.steps() == ["a", "b"]
    assert executor.calls[1].task == "from about kettles; missing: []"
    assert graph.get_state(config).values["outputs"]["b"] == {"text": executor.calls[1].task}


def test_parallel_steps_overlap_and_a_join_waits_for_both() -> None:
    pb = playbook(
        [
            {"id": "left", "role": "r", "task": "L", "needs": []},
            {"id": "right", "role": "r", "task": "R", "needs": []},
            {
                "id": "join",
                "role": "r",
                "task": "{{steps.left.text}}+{{steps.right.text}}",
                "needs": ["left", "right"],
            },
        ]
    )
    executor = Recorder(barrier=threading.Barrier(2), barrier_steps={"left", "right"})
    run(pb, executor)
    assert sorted(executor.steps()[:2]) == ["left", "right"]
    assert executor.steps()[2:] == ["join"]
    assert executor.calls[2].task == "L+R"


def test_for_each_fans_out_and_collects_outputs_in_item_order() -> None:
    pb = playbook(
        [
            {
                "id": "research",
                "role": "r",
                "for_each": "inputs.markets",
                "task": "{{index}}:{{item}}",
            },
            {"id": "draft", "role": "r", "task": "{{steps.research}}"},
        ]
    )
    barrier = threading.Barrier(3)
    executor = Recorder(barrier=barrier, barrier_steps={"research"})
    graph, config = run(pb, executor, {"markets": ["US", "EU", "JP"]})
    outputs = graph.get_state(config).values["outputs"]
    assert outputs["research"] == [{"text": "0:US"}, {"text": "1:EU"}, {"text": "2:JP"}]
    assert executor.calls[-1].task == "- text: 0:US\n- text: 1:EU\n- text: 2:JP"


def test_for_each_over_an_empty_list_yields_an_empty_output() -> None:
    pb = playbook(
        [
            {"id": "research", "role": "r", "for_each": "inputs.markets", "task": "{{item}}"},
            {"id": "draft", "role": "r", "task": "x"},
        ]
    )
    executor = Recorder()
    graph, config = run(pb, executor, {"markets": []})
    assert graph.get_state(config).values["outputs"]["research"] == []
    assert executor.steps() == ["draft"]


def test_route_skips_the_checkpoint_when_the_case_says_so() -> None:
    executor = Recorder(answers={"triage": {"severity": "low"}})
    graph, config = run(playbook(LAUNCH), executor)
    assert executor.steps() == ["draft", "triage", "publish"]
    assert executor.opened == []
    assert not graph.get_state(config).next


def test_checkpoint_waits_then_approve_continues_without_rerunning_steps() -> None:
    executor = Recorder(answers={"triage": {"severity": "high"}})
    graph, config = run(playbook(LAUNCH), executor)
    state = graph.get_state(config)
    (pending,) = state.interrupts
    assert pending.value["card"] == "c1"
    assert pending.value["shown"] == {"draft": {"text": "Write it. "}}
    assert executor.steps() == ["draft", "triage"]

    state = resume(graph, config, decision="approve", by="carol")
    assert executor.steps() == ["draft", "triage", "publish"]
    assert len(executor.opened) == 1
    assert not state.next and not state.values.get("outcome")
    assert state.values["decisions"]["review"]["by"] == "carol"


def test_reject_revises_with_feedback_then_ends_rejected_after_max_revisions() -> None:
    executor = Recorder(answers={"triage": {"severity": "high"}})
    graph, config = run(playbook(LAUNCH), executor)

    state = resume(graph, config, decision="reject", comment="cite sources", by="carol")
    assert executor.steps() == ["draft", "triage", "draft", "triage"]
    assert executor.calls[2].task == "Write it. cite sources"
    assert executor.calls[2].feedback == "cite sources"
    assert executor.calls[2].revision == 1
    assert [t.revision for t in executor.opened] == [0, 1]
    assert state.interrupts  # waiting again, on the revised draft

    state = resume(graph, config, decision="reject", comment="still no", by="carol")
    outcome = state.values["outcome"]
    assert outcome["status"] == "rejected"
    assert "still no" in outcome["reason"]
    assert executor.steps() == ["draft", "triage", "draft", "triage"]
    assert not state.next


def test_reject_without_on_reject_ends_the_run_rejected() -> None:
    pb = playbook(
        [
            {"id": "a", "role": "r", "task": "x"},
            {"id": "ok", "checkpoint": {"owner": "carol", "question": "?"}},
            {"id": "b", "role": "r", "task": "y"},
        ]
    )
    executor = Recorder()
    graph, config = run(pb, executor)
    state = resume(graph, config, decision="reject", by="carol")
    assert state.values["outcome"]["status"] == "rejected"
    assert executor.steps() == ["a"]


def test_edit_replaces_the_output_of_the_first_shown_step() -> None:
    executor = Recorder(answers={"triage": {"severity": "high"}})
    graph, config = run(playbook(LAUNCH), executor)
    resume(graph, config, decision="edit", output={"text": "EDITED"}, by="carol")
    assert executor.calls[-1].task == "Publish EDITED"


def test_a_failed_step_ends_the_run_and_later_steps_never_run() -> None:
    pb = playbook(
        [
            {"id": "a", "role": "r", "task": "x"},
            {"id": "b", "role": "r", "task": "y"},
        ]
    )
    executor = Recorder(answers={"a": StepOutcome(ok=False, reason="model down")})
    graph, config = run(pb, executor)
    state = graph.get_state(config)
    assert state.values["outcome"] == {"status": "failed", "step": "a", "reason": "model down"}
    assert executor.steps() == ["a"]


def test_a_route_value_no_case_covers_fails_the_run_naming_it() -> None:
    executor = Recorder(answers={"triage": {"severity": "medium"}})
    graph, config = run(playbook(LAUNCH), executor)
    reason = graph.get_state(config).values["outcome"]["reason"]
    assert "severity='medium'" in reason and "triage" in reason


def test_parallel_checkpoints_are_answered_one_at_a_time() -> None:
    pb = playbook(
        [
            {"id": "a", "role": "r", "task": "x"},
            {"id": "legal", "needs": ["a"], "checkpoint": {"owner": "carol", "question": "?"}},
            {"id": "brand", "needs": ["a"], "checkpoint": {"owner": "bob", "question": "?"}},
            {"id": "ship", "role": "r", "task": "go", "needs": ["legal", "brand"]},
        ]
    )
    executor = Recorder()
    graph, config = run(pb, executor)
    pending = {i.value["step"]: i.id for i in graph.get_state(config).interrupts}
    assert set(pending) == {"legal", "brand"}
    graph.invoke(Command(resume={pending["legal"]: {"decision": "approve"}}), config)
    state = graph.get_state(config)
    assert [i.value["step"] for i in state.interrupts] == ["brand"]
    assert executor.steps() == ["a"]
    graph.invoke(Command(resume={pending["brand"]: {"decision": "approve"}}), config)
    assert executor.steps() == ["a", "ship"]


def test_unknown_step_reference_is_a_config_error_naming_it() -> None:
    pb = playbook([{"id": "a", "role": "r", "task": "x", "needs": ["nope"]}])
    with pytest.raises(ConfigError, match="'nope'"):
        compile_playbook(pb, Recorder())


def test_mermaid_shows_every_step_and_the_route() -> None:
    text = mermaid(playbook(LAUNCH))
    assert text.startswith("---") or "graph" in text
    for node in ("draft", "triage", "review", "review.gate", "publish"):
        assert node in text


def test_node_names_are_stable_so_another_process_can_resume() -> None:
    pb = playbook(
        [
            {"id": "research", "role": "r", "for_each": "inputs.m", "task": "{{item}}"},
            *LAUNCH,
        ]
    )
    graph = compile_playbook(pb, Recorder())
    assert set(graph.get_graph().nodes) - {"__start__", "__end__"} == {
        "research",
        "research.item",
        "research.collect",
        "research.review",
        "research.accepted",
        "draft",
        "draft.review",
        "draft.accepted",
        "triage",
        "triage.review",
        "triage.accepted",
        "review",
        "review.gate",
        "review.approved",
        "publish",
        "publish.review",
        "publish.accepted",
    }


def test_a_failing_fan_out_item_fails_the_run_naming_the_item() -> None:
    pb = playbook(
        [
            {"id": "research", "role": "r", "for_each": "inputs.m", "task": "{{item}}"},
            {"id": "draft", "role": "r", "task": "x"},
        ]
    )

    def flaky(task: AgentTask) -> Any:
        return StepOutcome(ok=False, reason="timeout") if task.item == "EU" else {"ok": 1}

    executor = Recorder(answers={"research": flaky})
    graph, config = run(pb, executor, {"m": ["US", "EU"]})
    outcome = graph.get_state(config).values["outcome"]
    assert outcome["step"] == "research" and "'EU'" in outcome["reason"]
    assert "draft" not in executor.steps()


def test_a_revised_fan_out_runs_every_item_again_with_the_next_revision() -> None:
    pb = playbook(
        [
            {"id": "research", "role": "r", "for_each": "inputs.m", "task": "{{item}}"},
            {
                "id": "ok",
                "checkpoint": {"owner": "carol", "question": "?", "on_reject": "research"},
            },
        ]
    )
    executor = Recorder()
    graph, config = run(pb, executor, {"m": ["US", "EU"]})
    resume(graph, config, decision="reject", comment="more")
    research = [(c.item, c.revision, c.items) for c in executor.calls]
    assert sorted(research) == [("EU", 0, 2), ("EU", 1, 2), ("US", 0, 2), ("US", 1, 2)]
    assert all(c.feedback == "more" for c in executor.calls if c.revision == 1)


def test_a_revision_inside_a_join_reuses_the_other_branch_and_reaches_the_checkpoint() -> None:
    """research and market run in parallel; draft needs both; the review sends the run back to
    research only. The revised research must reach draft again, with market's output reused."""
    pb = playbook(
        [
            {"id": "research", "role": "r", "task": "R {{feedback}}", "needs": []},
            {"id": "market", "role": "r", "task": "M", "needs": []},
            {
                "id": "draft",
                "role": "r",
                "task": "{{steps.research.text}}+{{steps.market.text}}",
                "needs": ["research", "market"],
            },
            {
                "id": "review",
                "checkpoint": {"owner": "c", "question": "?", "on_reject": "research"},
            },
            {"id": "publish", "role": "r", "task": "P"},
        ]
    )
    executor = Recorder()
    graph, config = run(pb, executor)
    state = resume(graph, config, decision="reject", comment="more", by="c")
    assert executor.steps().count("market") == 1
    assert executor.steps()[-1] == "draft" and executor.calls[-1].task == "R more+M"
    assert state.interrupts  # waiting at the review again
    resume(graph, config, decision="approve", by="c")
    assert executor.steps()[-1] == "publish"
