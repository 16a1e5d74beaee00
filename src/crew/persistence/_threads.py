"""A thread's saved state by its keys, without LangGraph: what the board and retention need.

`RedisCheckpointSaver` lists every key of a thread's state in the thread's index (see
`_layout`): the index exists exactly while the thread has saved state, and deleting what it
lists, then the index, deletes the state. `RedisCheckpointSaver.delete_thread` runs that script;
`delete_threads` runs the same script from any Redis client, so a command that never imports
LangGraph (`crew board`, which enforces retention) can delete a purged run's state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from crew.persistence._layout import DELETE_THREAD, Keys

if TYPE_CHECKING:
    import redis

__all__ = ["delete_threads", "thread_keys"]


def thread_keys(namespace: str, thread_id: str) -> list[str]:
    """The keys whose existence means `thread_id` has state saved under `namespace`."""
    return [Keys(namespace).thread(thread_id)]


def delete_threads(client: redis.Redis, namespace: str, thread_ids: Iterable[str]) -> None:
    """Delete the saved state of each thread, as `RedisCheckpointSaver(namespace=namespace)
    .delete_thread` does (each thread atomically; one round trip for all of them)."""
    keys = Keys(namespace)
    indexes = [keys.thread(thread_id) for thread_id in thread_ids]
    if not indexes:
        return
    script = client.register_script(DELETE_THREAD.lua)
    if hasattr(client, "get_node_from_key"):  # a RedisCluster pipelines no scripts
        for index in indexes:
            script(keys=[index])
        return
    pipe = client.pipeline(transaction=False)
    for index in indexes:
        script(keys=[index], client=pipe)
    pipe.execute()
