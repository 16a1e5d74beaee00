"""Helpers for the board tests (no tests here): a dump of every key of a board, to assert that
a refused transition changed nothing."""

from __future__ import annotations

from typing import Any

import redis

from crew.board import BoardKeys


def dump_board(client: redis.Redis, name: str) -> dict[str, Any]:
    """Every key of board `name` with its full value (streams: length and entries)."""
    db: Any = client
    state: dict[str, Any] = {}
    for key in sorted(db.scan_iter(match=BoardKeys(name).pattern(), count=1000)):
        kind = db.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "hash":
            state[key] = db.hgetall(key)
        elif kind == "zset":
            state[key] = db.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            state[key] = (db.xlen(key), db.xrange(key))
        elif kind == "list":  # an agent card's transcript (its tool loop)
            state[key] = db.lrange(key, 0, -1)
        else:
            state[key] = db.get(key)
    return state


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
