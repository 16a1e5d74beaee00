"""Durable run state: a LangGraph checkpoint saver on plain Redis (6.2 or newer, no modules).

`RedisCheckpointSaver` stores checkpoints, their channel values and pending writes in ordinary
hashes and sorted sets, so any process that reaches the same Redis can resume a run. It passes the
base capabilities of LangGraph's conformance suite (put, put_writes, get_tuple, list,
delete_thread) through both its sync and async methods, and implements `prune` and `copy_thread`.

How the state is laid out in Redis (keys, records, scripts) is documented in `_layout`. There is no
key shared by all threads: each thread's state is bounded by its own history, and `delete_thread`
(or `prune`) removes it. With a Redis Cluster hash tag in the namespace (`crew:{board}:lg`), every
key of a namespace lives in one slot.

Importing this package does not import LangGraph: `RedisCheckpointSaver` loads it on first use.
`thread_keys` and `delete_threads` work on a thread's state by its keys without it (the board
asks whether a run id left state behind; retention deletes a purged run's state).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crew.persistence._threads import delete_threads, thread_keys

if TYPE_CHECKING:
    from crew.persistence._saver import RedisCheckpointSaver

__all__ = ["RedisCheckpointSaver", "delete_threads", "thread_keys"]


def __getattr__(name: str) -> Any:
    if name == "RedisCheckpointSaver":
        from crew.persistence._saver import RedisCheckpointSaver

        return RedisCheckpointSaver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
