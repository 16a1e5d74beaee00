"""The saver's writes are Lua scripts: they work on a server that has not seen them yet, and
with more channel values than one Lua call takes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)

from crew import RedisCheckpointSaver


@pytest.fixture
def private_saver(redis62_url: str) -> Iterator[RedisCheckpointSaver]:
    """A saver on the embedded Redis 6.2 this test session started (nobody else uses it, so its
    script cache may be flushed)."""
    namespace = f"test:{{t{uuid.uuid4().hex[:12]}}}:lg"
    saver = RedisCheckpointSaver.from_url(redis62_url, namespace=namespace)
    yield saver
    keys = list(saver.client.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        saver.client.delete(*keys)
    saver.close()


def _flush_scripts(url: str) -> None:
    client = redis.Redis.from_url(url)
    client.script_flush()
    client.close()


async def test_writes_and_reads_work_after_the_server_forgot_the_scripts(
    private_saver: RedisCheckpointSaver, redis62_url: str
) -> None:
    saver = private_saver
    checkpoint = generate_checkpoint(channel_values={"x": [1]}, channel_versions={"x": 1})
    _flush_scripts(redis62_url)
    stored = saver.put(generate_config("t1"), checkpoint, generate_metadata(step=1), {"x": 1})
    _flush_scripts(redis62_url)
    saver.put_writes(stored, [("x", [2])], "task-a")
    _flush_scripts(redis62_url)
    read = saver.get_tuple(generate_config("t1"))
    assert read is not None
    assert read.checkpoint["channel_values"] == {"x": [1]}
    assert read.pending_writes == [("task-a", "x", [2])]

    _flush_scripts(redis62_url)
    other = generate_checkpoint(channel_values={"y": "z"}, channel_versions={"y": 1})
    await saver.aput(generate_config("t2"), other, generate_metadata(), {"y": 1})
    _flush_scripts(redis62_url)
    back = await saver.aget_tuple(generate_config("t2"))
    assert back is not None and back.checkpoint["channel_values"] == {"y": "z"}
    _flush_scripts(redis62_url)
    await saver.adelete_thread("t2")
    assert await saver.aget_tuple(generate_config("t2")) is None
    await saver.aclose()


def test_a_checkpoint_with_thousands_of_new_channel_values_is_stored_whole(
    private_saver: RedisCheckpointSaver,
) -> None:
    values = {f"channel-{i}": i for i in range(1500)}
    versions = {name: 1 for name in values}
    checkpoint = generate_checkpoint(channel_values=values, channel_versions=versions)
    private_saver.put(generate_config("t"), checkpoint, generate_metadata(), versions)
    read = private_saver.get_tuple(generate_config("t"))
    assert read is not None
    assert read.checkpoint["channel_values"] == values
