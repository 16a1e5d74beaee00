"""Tool-loop overhead: an agent step making tool calls in a crew run against the same loop built
with plain LangChain/LangGraph in memory, in one run.

    python bench/tools.py [--url URL] [--calls N] [--rounds R]

Both sides run one agent step whose model (instant, scripted) asks for one tool call per turn,
N turns, then answers; the tool is the same instant Python function. The plain side is a
LangGraph `StateGraph` (a model node with langchain-core's `GenericFakeChatModel`, the prebuilt
`ToolNode`, `tools_condition`) with `InMemorySaver`. The crew side is a real crew run of a
one-step playbook: the step's card on the board, the run lease, and the tool loop's journal on
the card's transcript in Redis (each model turn, each call about to run, each result, recorded
before the loop goes on), exactly as `crew run` drives it. The best of R rounds is kept for each
side; the last line is `ratio: <crew seconds per tool call ÷ plain seconds per tool call>` (the
target is at most 2).

The Redis keys are written on a fresh board and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import add_url, best_of, fresh_session, print_ratio, scripted_project
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from crew.agents.responders import ModelCall
from crew.engine.runtime import start_run
from crew.spec.models import PlaybookSpec, RoleSpec
from crew.testing import ScriptedModel, tool_calls

TOOL_MODULE = '''\
"""The bench's tool."""

ORDERS = {"A1": {"customer": "Ann", "amount": 40}}


def lookup_order(order: str) -> dict:
    """Look an order up by its id."""
    return ORDERS[order]
'''

ROLE = RoleSpec.model_validate(
    {
        "name": "clerk",
        "title": "Clerk",
        "goal": "Settle an order.",
        "owner": "alice",
        "output": {"answer": {"type": "string"}},
        "tools": ["lookup_order"],
        "max_tool_calls": 1000,
    }
)
PLAYBOOK = PlaybookSpec.model_validate(
    {
        "name": "settle",
        "inputs": {"order": {"type": "string"}},
        "steps": [{"id": "settle", "role": "clerk", "task": "Settle order {{inputs.order}}."}],
    }
)
ANSWER = {"answer": "settled", "confidence": 0.9, "rationale": "scripted"}


def crew_seconds(root: Path, url: str, calls: int) -> float:
    project = scripted_project(
        root,
        {"clerk": ROLE},
        {"settle": PLAYBOOK},
        tools={"lookup_order": {"python": "benchtools:lookup_order"}},
    )

    def turn(call: ModelCall) -> Any:
        if call.turn < calls:
            return tool_calls(("lookup_order", {"order": "A1"}))
        return ANSWER

    model = ScriptedModel({"settle": turn})
    with fresh_session(project, url) as session:
        started = time.perf_counter()
        report = start_run(session, PLAYBOOK, {"order": "A1"}, responder=model)
        elapsed = time.perf_counter() - started
    assert report.status == "done", report
    assert len(model.calls) == calls + 1
    return elapsed


def plain_seconds(root: Path, calls: int) -> float:
    sys.path.insert(0, str(root))
    try:
        from benchtools import lookup_order
    finally:
        sys.path.remove(str(root))
    tool = StructuredTool.from_function(lookup_order)
    replies = [
        AIMessage(
            content="",
            tool_calls=[{"name": "lookup_order", "args": {"order": "A1"}, "id": f"call_{i}"}],
        )
        for i in range(calls)
    ]
    replies.append(AIMessage(content=json.dumps(ANSWER)))
    model = GenericFakeChatModel(messages=iter(replies))

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph: StateGraph[Any] = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([tool]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    compiled = graph.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": uuid.uuid4().hex}, "recursion_limit": 4 * calls}
    started = time.perf_counter()
    state = compiled.invoke(
        {"messages": [HumanMessage("Settle order A1.")]}, config, durability="sync"
    )
    output = json.loads(state["messages"][-1].content)
    elapsed = time.perf_counter() - started
    assert output["answer"] == "settled"
    assert sum(1 for m in state["messages"] if m.type == "tool") == calls
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_url(parser)
    parser.add_argument("--calls", type=int, default=5, help="Tool calls in the step.")
    parser.add_argument("--rounds", type=int, default=20, help="Runs per side; the best counts.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="crew-bench-tools-") as directory:
        root = Path(directory)
        (root / "benchtools.py").write_text(TOOL_MODULE)
        plain = best_of(args.rounds, lambda: plain_seconds(root, args.calls)) / args.calls
        crew = best_of(args.rounds, lambda: crew_seconds(root, args.url, args.calls)) / args.calls
    print(f"tool calls per step: {args.calls}, rounds: {args.rounds}, redis: {args.url}")
    print(f"plain LangGraph + ToolNode + InMemorySaver: {plain * 1000:.2f} ms per tool call")
    print(f"crew (card, lease, turns and results on Redis): {crew * 1000:.2f} ms per tool call")
    print_ratio(crew / plain)


if __name__ == "__main__":
    main()
