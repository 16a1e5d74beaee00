"""Running a compiled playbook in-process for the compiler's tests: a step executor that answers
agent steps from a table and records every call, and small playbooks built from dicts."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from crew.engine.graph import (
    AgentTask,
    CheckpointTask,
    StepOutcome,
    compile_playbook,
    initial_state,
)
from crew.spec.models import PlaybookSpec


@dataclass
class Recorder:
    """Runs agent steps by table lookup and remembers every call (thread-safe)."""

    answers: dict[str, Any] = field(default_factory=dict)
    calls: list[AgentTask] = field(default_factory=list)
    opened: list[CheckpointTask] = field(default_factory=list)
    barrier: threading.Barrier | None = None
    barrier_steps: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run_agent(self, task: AgentTask) -> StepOutcome:
        with self.lock:
            self.calls.append(task)
        if self.barrier is not None and task.step.id in self.barrier_steps:
            # Both parallel branches must be inside their step at once to pass.
            self.barrier.wait(timeout=10)
        answer = self.answers.get(task.step.id, {"text": task.task})
        if callable(answer):
            answer = answer(task)
        if isinstance(answer, StepOutcome):
            return answer
        return StepOutcome(ok=True, output=answer)

    def open_checkpoint(self, task: CheckpointTask) -> dict[str, Any]:
        self.opened.append(task)
        return {"card": f"c{len(self.opened)}", "step": task.step.id, "shown": task.shown}

    def steps(self) -> list[str]:
        return [c.step.id for c in self.calls]


def playbook(steps: list[dict[str, Any]], **inputs: Any) -> PlaybookSpec:
    return PlaybookSpec.model_validate(
        {"name": "pb", "inputs": {k: {"type": "string"} for k in inputs}, "steps": steps}
    )


def run(
    pb: PlaybookSpec, executor: Recorder, inputs: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    graph = compile_playbook(pb, executor, InMemorySaver())
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    graph.invoke(initial_state(inputs or {}), config, durability="sync")
    return graph, config


def resume(graph: Any, config: dict[str, Any], **answer: Any) -> Any:
    (pending,) = graph.get_state(config).interrupts
    graph.invoke(Command(resume={pending.id: answer}), config, durability="sync")
    return graph.get_state(config)


# draft; triage routes high to the review checkpoint (a rejection revises draft once), low to
# publish.
LAUNCH = [
    {"id": "draft", "role": "writer", "task": "Write it. {{feedback}}"},
    {
        "id": "triage",
        "role": "risk",
        "task": "Rate {{steps.draft.text}}",
        "route": {"field": "severity", "cases": {"high": "review", "low": "publish"}},
    },
    {
        "id": "review",
        "checkpoint": {
            "owner": "carol",
            "question": "OK?",
            "show": ["draft"],
            "on_reject": "draft",
            "max_revisions": 1,
        },
    },
    {"id": "publish", "role": "pub", "needs": ["review"], "task": "Publish {{steps.draft.text}}"},
]
