"""Checkpoint throughput: RedisCheckpointSaver against LangGraph's InMemorySaver, in one run.

    python bench/checkpoints.py [--url URL] [--steps N]

Each step does what a LangGraph superstep does to its saver: `put` a checkpoint (one channel
changed, a message list growing), `put_writes` for the task, then `get_tuple` of the latest
checkpoint. The last line is `ratio: R`, Redis steps per second over in-memory steps per second.
The Redis keys are written under a fresh namespace and deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver

from crew import RedisCheckpointSaver


def run_steps(saver: BaseCheckpointSaver[Any], steps: int) -> float:
    """Steps per second for `steps` put/put_writes/get_tuple rounds on one thread."""
    thread = f"bench-{uuid.uuid4().hex[:8]}"
    config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    messages: list[str] = []
    versions: dict[str, Any] = {}
    started = time.perf_counter()
    for step in range(steps):
        messages = [*messages, f"message {step}: " + "x" * 80]
        versions = {
            "messages": saver.get_next_version(versions.get("messages"), None),
            "topic": versions.get("topic") or saver.get_next_version(None, None),
        }
        checkpoint: Checkpoint = {
            "v": 4,
            "id": str(uuid6(clock_seq=step)),
            "ts": "2026-01-01T00:00:00+00:00",
            "channel_values": {"messages": messages, "topic": "tides"},
            "channel_versions": versions,
            "versions_seen": {"agent": dict(versions)},
            "updated_channels": ["messages"],
        }
        new = {"messages": versions["messages"]} if step else dict(versions)
        config = saver.put(config, checkpoint, {"source": "loop", "step": step}, new)
        saver.put_writes(config, [("messages", [f"reply {step}"])], f"task-{step}", "~0")
        latest = saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
        assert latest is not None and latest.checkpoint["id"] == checkpoint["id"]
    elapsed = time.perf_counter() - started
    saver.delete_thread(thread)
    return steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=os.environ.get("CREW_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()

    namespace = f"bench:{{{uuid.uuid4().hex[:12]}}}:lg"
    redis_saver = RedisCheckpointSaver.from_url(args.url, namespace=namespace)
    try:
        run_steps(redis_saver, 20)  # warm up connections
        redis_rate = run_steps(redis_saver, args.steps)
    finally:
        redis_saver.close()
    memory_rate = run_steps(InMemorySaver(), args.steps)

    print(f"steps: {args.steps} (put + put_writes + get_tuple each)")
    print(f"in-memory: {memory_rate:,.0f} steps/s")
    print(f"redis ({args.url}): {redis_rate:,.0f} steps/s")
    print(f"ratio: {redis_rate / memory_rate:.3f}")


if __name__ == "__main__":
    main()
