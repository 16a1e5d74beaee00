"""RedisCheckpointSaver: the LangGraph conformance suite on both servers, and what users rely on."""

from __future__ import annotations

import asyncio
import operator
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, TypedDict

import pytest
import redis
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt

from crew import ConfigError, RedisCheckpointSaver


def _keys_of(url: str, pattern: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    try:
        return list(client.scan_iter(match=pattern, count=1000))
    finally:
        client.close()


def _delete_namespace(url: str, namespace: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def namespace(any_redis_url: str) -> Iterator[str]:
    """A namespace with a Redis Cluster hash tag, as the runtime passes; deleted afterwards."""
    name = f"test:{{t{uuid.uuid4().hex[:12]}}}:lg"
    yield name
    _delete_namespace(any_redis_url, name)


@pytest.fixture
def saver(any_redis_url: str, namespace: str) -> Iterator[RedisCheckpointSaver]:
    instance = RedisCheckpointSaver.from_url(any_redis_url, namespace=namespace)
    yield instance
    instance.close()


async def test_conformance_suite_passes_all_base_capabilities(
    any_redis_url: str, namespace: str
) -> None:
    @checkpointer_test(name=f"RedisCheckpointSaver[{any_redis_url}]")
    async def redis_saver() -> AsyncIterator[BaseCheckpointSaver[str]]:
        # A fresh namespace per capability suite (under the test's, which is cleaned up).
        fresh = f"{namespace}:{uuid.uuid4().hex[:8]}"
        instance = RedisCheckpointSaver.from_url(any_redis_url, namespace=fresh)
        yield instance
        await instance.aclose()
        instance.close()

    report = await validate(redis_saver)
    if not report.passed_all_base():
        report.print_report()
        for name, result in report.results.items():
            for failure in result.failures:
                print(f"{name}: {failure}")
    assert report.passed_all_base()
    # The optional ones it implements (prune, copy_thread) pass too.
    assert report.passed_all()


class _State(TypedDict):
    topic: str
    notes: Annotated[list[str], operator.add]
    decision: str


def _draft(state: _State) -> dict[str, Any]:
    return {"notes": [f"draft about {state['topic']}"]}


def _review(state: _State) -> dict[str, Any]:
    answer = interrupt({"question": "Approve?", "notes": state["notes"]})
    return {"decision": answer, "notes": [f"reviewed: {answer}"]}


def _publish(state: _State) -> dict[str, Any]:
    return {"notes": [f"published ({state['decision']})"]}


def _graph(checkpointer: BaseCheckpointSaver[str]) -> Any:
    builder = StateGraph(_State)
    builder.add_node("draft", _draft)
    builder.add_node("review", _review)
    builder.add_node("publish", _publish)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", "publish")
    builder.add_edge("publish", END)
    return builder.compile(checkpointer=checkpointer)


def test_interrupted_run_resumes_from_another_saver_instance(
    any_redis_url: str, namespace: str
) -> None:
    config = {"configurable": {"thread_id": "run-1"}}
    first = RedisCheckpointSaver.from_url(any_redis_url, namespace=namespace)
    paused = _graph(first).invoke({"topic": "tides", "notes": [], "decision": ""}, config)
    assert paused["__interrupt__"][0].value == {
        "question": "Approve?",
        "notes": ["draft about tides"],
    }
    first.close()

    # Another process: a new saver from the same URL, a graph with the same node names.
    second = RedisCheckpointSaver.from_url(any_redis_url, namespace=namespace)
    graph = _graph(second)
    assert [i.value["question"] for i in graph.get_state(config).interrupts] == ["Approve?"]
    done = graph.invoke(Command(resume="approved"), config)
    assert done["decision"] == "approved"
    assert done["notes"] == ["draft about tides", "reviewed: approved", "published (approved)"]
    assert graph.get_state(config).next == ()
    second.close()


async def test_interrupted_async_run_resumes(any_redis_url: str, namespace: str) -> None:
    config = {"configurable": {"thread_id": "run-async"}}
    saver = RedisCheckpointSaver.from_url(any_redis_url, namespace=namespace)
    graph = _graph(saver)
    paused = await graph.ainvoke({"topic": "reefs", "notes": [], "decision": ""}, config)
    assert "__interrupt__" in paused
    done = await graph.ainvoke(Command(resume="rejected"), config)
    assert done["notes"][-1] == "published (rejected)"
    history = [snapshot async for snapshot in graph.aget_state_history(config)]
    assert len(history) >= 4
    await saver.aclose()
    saver.close()


def test_delete_thread_leaves_no_key_of_that_thread(
    saver: RedisCheckpointSaver, any_redis_url: str, namespace: str
) -> None:
    graph = _graph(saver)
    for thread in ("doomed", "kept"):
        graph.invoke(
            {"topic": thread, "notes": [], "decision": ""},
            {"configurable": {"thread_id": thread}},
        )
    assert _keys_of(any_redis_url, f"{namespace}:*doomed*")

    saver.delete_thread("doomed")

    assert _keys_of(any_redis_url, f"{namespace}:*doomed*") == []
    assert saver.get_tuple({"configurable": {"thread_id": "kept"}}) is not None


def test_every_key_starts_with_the_namespace(
    saver: RedisCheckpointSaver, any_redis_url: str, namespace: str
) -> None:
    config = generate_config("t:with{odd}chars", checkpoint_ns="child:1")
    stored = saver.put(config, generate_checkpoint(), generate_metadata(), {})
    saver.put_writes(stored, [("ch", 1)], "task")
    keys = _keys_of(any_redis_url, "*odd*")
    assert keys
    assert all(key.decode().startswith(f"{namespace}:") for key in keys)
    saver.delete_thread("t:with{odd}chars")
    assert _keys_of(any_redis_url, "*odd*") == []


async def test_sync_writes_are_read_by_async_and_back(saver: RedisCheckpointSaver) -> None:
    checkpoint = generate_checkpoint(channel_values={"x": [1, 2]}, channel_versions={"x": 1})
    stored = saver.put(generate_config("t1"), checkpoint, generate_metadata(step=3), {"x": 1})
    saver.put_writes(stored, [("x", [3])], "task-a", task_path="p")
    read = await saver.aget_tuple(generate_config("t1"))
    assert read is not None
    assert read.checkpoint["channel_values"] == {"x": [1, 2]}
    assert read.metadata["step"] == 3
    assert read.pending_writes == [("task-a", "x", [3])]

    other = generate_checkpoint(channel_values={"y": b"\x00\xff"}, channel_versions={"y": 1})
    await saver.aput(generate_config("t2"), other, generate_metadata(), {"y": 1})
    back = saver.get_tuple(generate_config("t2"))
    assert back is not None
    assert back.checkpoint["channel_values"] == {"y": b"\x00\xff"}
    assert [t.config["configurable"]["thread_id"] for t in saver.list(None)] == ["t1", "t2"]
    await saver.aclose()


def test_pending_writes_come_back_in_stable_order(saver: RedisCheckpointSaver) -> None:
    stored = saver.put(generate_config("t"), generate_checkpoint(), generate_metadata(), {})
    saver.put_writes(stored, [("b", 2), ("a", 1)], "task-2", task_path="~1")
    saver.put_writes(stored, [("c", 3)], "task-1", task_path="~0")
    saver.put_writes(stored, [("b", "ignored")], "task-2", task_path="~1")
    read = saver.get_tuple(stored)
    assert read is not None
    assert read.pending_writes == [("task-1", "c", 3), ("task-2", "b", 2), ("task-2", "a", 1)]


def test_prune_keeps_the_latest_checkpoints_and_what_they_need(
    saver: RedisCheckpointSaver,
) -> None:
    parent = None
    for step in range(4):
        config = generate_config("long")
        if parent:
            config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
        # "a" changes every step; "b" was written once at step 0 and is still referenced.
        values = {"a": step, "b": "constant"}
        checkpoint = generate_checkpoint(
            channel_values=values, channel_versions={"a": step + 1, "b": 1}
        )
        new = {"a": step + 1, "b": 1} if step == 0 else {"a": step + 1}
        parent = saver.put(config, checkpoint, generate_metadata(step=step), new)
        saver.put_writes(parent, [("a", step + 1)], f"task-{step}")

    saver.prune(["long"], keep_last=2)

    remaining = list(saver.list(generate_config("long")))
    assert [t.metadata["step"] for t in remaining] == [3, 2]
    assert remaining[0].checkpoint["channel_values"] == {"a": 3, "b": "constant"}
    assert remaining[1].checkpoint["channel_values"] == {"a": 2, "b": "constant"}
    assert remaining[0].pending_writes == [("task-3", "a", 4)]


def test_a_decoding_client_is_refused_with_the_fix(any_redis_url: str) -> None:
    client = redis.Redis.from_url(any_redis_url, decode_responses=True)
    with pytest.raises(ConfigError, match="decode_responses"):
        RedisCheckpointSaver(client)
    client.close()


def test_one_saver_serves_several_event_loops(any_redis_url: str, namespace: str) -> None:
    # A CLI may call asyncio.run more than once in a process with the same saver.
    saver = RedisCheckpointSaver.from_url(any_redis_url, namespace=namespace)
    checkpoint = generate_checkpoint()
    asyncio.run(saver.aput(generate_config("loops"), checkpoint, generate_metadata(), {}))
    read = asyncio.run(saver.aget_tuple(generate_config("loops")))
    assert read is not None
    assert read.checkpoint["id"] == checkpoint["id"]
    saver.close()


async def test_async_methods_work_with_only_a_sync_client(
    any_redis_url: str, namespace: str
) -> None:
    client = redis.Redis.from_url(any_redis_url)
    saver = RedisCheckpointSaver(client, namespace=namespace)
    stored = await saver.aput(generate_config("t"), generate_checkpoint(), generate_metadata(), {})
    await saver.aput_writes(stored, [("ch", "v")], "task")
    listed = [t async for t in saver.alist(None, filter={"source": "loop"})]
    assert [t.pending_writes for t in listed] == [[("task", "ch", "v")]]
    await saver.adelete_thread("t")
    assert await saver.aget_tuple(generate_config("t")) is None
    saver.close()  # the client is the caller's: it stays usable
    assert client.ping()
    client.close()


def test_bad_prune_arguments_name_the_fix(saver: RedisCheckpointSaver) -> None:
    with pytest.raises(ConfigError, match="'keep_latest' or 'delete'"):
        saver.prune(["t"], strategy="oldest")
    with pytest.raises(ConfigError, match="keep_last"):
        saver.prune(["t"], keep_last=0)


def test_a_copied_thread_outlives_its_source(saver: RedisCheckpointSaver) -> None:
    graph = _graph(saver)
    source = {"configurable": {"thread_id": "source"}}
    graph.invoke({"topic": "forks", "notes": [], "decision": ""}, source)

    saver.copy_thread("source", "copy")
    saver.delete_thread("source")

    copy = {"configurable": {"thread_id": "copy"}}
    assert graph.get_state(copy).interrupts
    done = graph.invoke(Command(resume="ok"), copy)
    assert done["notes"] == ["draft about forks", "reviewed: ok", "published (ok)"]
    assert saver.get_tuple(source) is None


class _ItemState(TypedDict):
    item: str
    results: Annotated[list[str], operator.add]


class _FanState(TypedDict):
    items: list[str]
    results: Annotated[list[str], operator.add]


def _item_work(state: _ItemState) -> dict[str, Any]:
    return {"results": [state["item"].upper()]}


def _item_gate(state: _ItemState) -> dict[str, Any]:
    answer = interrupt(f"ok {state['item']}?")
    return {"results": [f"{state['item']}:{answer}"]}


def _fan_out(state: _FanState) -> list[Send]:
    return [Send("item", {"item": item, "results": []}) for item in state["items"]]


def _fan_graph(checkpointer: BaseCheckpointSaver[str]) -> Any:
    item = StateGraph(_ItemState)
    item.add_node("work", _item_work)
    item.add_node("gate", _item_gate)
    item.add_edge(START, "work")
    item.add_edge("work", "gate")
    item.add_edge("gate", END)
    builder = StateGraph(_FanState)
    builder.add_node("start", lambda state: {})
    builder.add_node("item", item.compile())
    builder.add_node("done", lambda state: {"results": ["done"]})
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", _fan_out, ["item"])
    builder.add_edge("item", "done")
    builder.add_edge("done", END)
    return builder.compile(checkpointer=checkpointer)


def _drive_fan_graph(checkpointer: BaseCheckpointSaver[str]) -> tuple[Any, ...]:
    """Subgraphs, Send fan-out, three interrupts answered in two goes, then a fork."""
    graph = _fan_graph(checkpointer)
    config = {"configurable": {"thread_id": "fan"}}
    paused = graph.invoke({"items": ["a", "b", "c"], "results": []}, config)
    asked = sorted(i.value for i in paused["__interrupt__"])
    first = next(i.id for i in graph.get_state(config).interrupts if i.value == "ok a?")
    graph.invoke(Command(resume={first: "yes"}), config)
    rest = {i.id: "no" for i in graph.get_state(config).interrupts}
    done = graph.invoke(Command(resume=rest), config)
    history = list(graph.get_state_history(config))
    graph.update_state(history[-2].config, {"results": ["forked"]})
    forked = graph.get_state(config)
    return asked, sorted(done["results"]), len(history), forked.values["results"]


def test_a_graph_with_subgraphs_and_fan_out_runs_as_with_the_in_memory_saver(
    saver: RedisCheckpointSaver, any_redis_url: str, namespace: str
) -> None:
    assert _drive_fan_graph(saver) == _drive_fan_graph(InMemorySaver())
    saver.delete_thread("fan")
    assert _keys_of(any_redis_url, f"{namespace}:*") == []
