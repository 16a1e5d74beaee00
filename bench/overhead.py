"""Per-step overhead of a crew run against a plain LangGraph graph of the same shape, in one run.

    python bench/overhead.py [--url URL] [--steps N] [--rounds R]

Both sides run the same playbook shape (a chain of N agent steps) and the same agent work: each
step asks an instant scripted model through `run_agent_step` (prompt, structured output
validation). The plain side is a LangGraph `StateGraph` of N nodes with `InMemorySaver`. The crew
side is a real crew run: templates rendered, every step a card on the board (created, claimed,
completed), the run lease held and renewed, run state in Redis through `RedisCheckpointSaver`
exactly as `crew run` drives it (the board holds every finished step's output; LangGraph's state
is saved at human gates and at the end, see `crew.engine.runtime`). The best of R rounds is kept for
each side; the last line is `ratio: <crew seconds per step ÷ plain seconds per step>` (the target
is at most 3).

The Redis keys are written on a fresh board and deleted afterwards.
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path
from typing import Any, TypedDict

from _common import add_url, best_of, fresh_session, print_ratio, scripted_project
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from crew.agents.responders import ModelCall
from crew.agents.step import run_agent_step
from crew.engine.runtime import start_run
from crew.spec.models import ModelProfile, PlaybookSpec, RoleSpec
from crew.testing import ScriptedModel

ROLE = RoleSpec(
    name="writer",
    title="Writer",
    goal="Write one line.",
    owner="alice",
    output={"text": {"type": "string"}},  # type: ignore[dict-item]
)
PROFILE = ModelProfile(model="scripted")


def answer(call: ModelCall) -> dict[str, Any]:
    return {"text": f"line {call.step}", "confidence": 0.9, "rationale": "scripted"}


def playbook(steps: int) -> PlaybookSpec:
    return PlaybookSpec.model_validate(
        {
            "name": "chain",
            "inputs": {"topic": {"type": "string"}},
            "steps": [
                {
                    "id": f"s{i}",
                    "role": "writer",
                    "task": "Continue {{inputs.topic}}: {{steps.s" + str(i - 1) + ".text}}",
                }
                for i in range(steps)
            ],
        }
    )


def crew_seconds(url: str, steps: int) -> float:
    spec = playbook(steps)
    project = scripted_project(Path.cwd(), {"writer": ROLE}, {"chain": spec})
    model = ScriptedModel({f"s{i}": answer for i in range(steps)})
    with fresh_session(project, url) as session:
        started = time.perf_counter()
        report = start_run(session, spec, {"topic": "tides"}, responder=model)
        elapsed = time.perf_counter() - started
    assert report.status == "done", report
    assert len(model.calls) == steps
    return elapsed


class State(TypedDict, total=False):
    topic: str
    outputs: dict[str, Any]


def plain_seconds(steps: int) -> float:
    model = ScriptedModel({f"s{i}": answer for i in range(steps)})

    def node(index: int) -> Any:
        def run(state: State) -> State:
            previous = state.get("outputs", {}).get(f"s{index - 1}", {})
            task = f"Continue {state['topic']}: {previous.get('text', '')}"
            result = run_agent_step(ROLE, PROFILE, task, step=f"s{index}", responder=model)
            return {"outputs": {**state.get("outputs", {}), f"s{index}": result.output}}

        return run

    graph: StateGraph[Any] = StateGraph(State)
    for i in range(steps):
        graph.add_node(f"s{i}", node(i))  # type: ignore[call-overload]
        graph.add_edge(START if i == 0 else f"s{i - 1}", f"s{i}")
    graph.add_edge(f"s{steps - 1}", END)
    compiled = graph.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": uuid.uuid4().hex}}
    started = time.perf_counter()
    compiled.invoke({"topic": "tides", "outputs": {}}, config, durability="sync")
    elapsed = time.perf_counter() - started
    assert len(model.calls) == steps
    return elapsed


def ping_ms(url: str, times: int = 200) -> float:
    import statistics

    import redis

    client = redis.Redis.from_url(url)
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        client.ping()
        samples.append(time.perf_counter() - started)
    client.close()
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_url(parser)
    parser.add_argument("--steps", type=int, default=20, help="Agent steps per run.")
    parser.add_argument("--rounds", type=int, default=5, help="Runs per side; the best counts.")
    args = parser.parse_args()

    plain = best_of(args.rounds, lambda: plain_seconds(args.steps)) / args.steps
    crew = best_of(args.rounds, lambda: crew_seconds(args.url, args.steps)) / args.steps
    print(f"steps per run: {args.steps}, rounds: {args.rounds}, redis: {args.url}")
    # Context for the ratio: a crew step costs two Redis round trips (its card created and
    # claimed in one, then completed), so it scales with this.
    print(f"redis round trip (PING, median): {ping_ms(args.url):.3f} ms")
    print(f"plain LangGraph + InMemorySaver: {plain * 1000:.2f} ms per step")
    print(f"crew (cards, lease, Redis state): {crew * 1000:.2f} ms per step")
    print_ratio(crew / plain)


if __name__ == "__main__":
    main()
