"""Board transitions per second for a claim -> complete cycle, next to raw redis-py EVALSHA.

    python bench/board.py [--url redis://127.0.0.1:6379/0] [-n 5000]

Both halves run the same Lua scripts on fresh queued cards in this run: once through
`crew.Board` (argument building, refusal checks, the returned `Card` parsed), once as bare
`client.evalsha(...)` calls with arguments prepared beforehand. Each transition is one round
trip either way, so the ratio shows what the Python API costs on top. The last line is
`ratio: <transitions/s / raw/s>` (target >= 0.7). The bench uses its own board name and
deletes only that board's keys.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import redis

from crew.board import Board

ROUND = 250


def _cards(board: Board, count: int) -> list[str]:
    spec = {
        "run": "bench",
        "playbook": "bench",
        "step": "work",
        "kind": "agent",
        "assignee": "worker",
        "owner": "bench",
    }
    ids: list[str] = []
    for start in range(0, count, 1000):
        ids += [c.id for c in board.create_cards([spec] * min(1000, count - start))]
    return ids


def board_rate(board: Board, ids: list[str]) -> float:
    started = time.perf_counter()
    for card in ids:
        lease = board.claim(card, "bench", 30)
        board.complete(card, lease.token, output={"ok": True}, confidence=0.9, actor="bench")
    return 2 * len(ids) / (time.perf_counter() - started)


def raw_rate(client: redis.Redis, board: Board, ids: list[str]) -> float:
    prefix = board.keys.prefix
    claim, complete = board._scripts.sha("claim"), board._scripts.sha("complete")
    calls = []
    for card in ids:
        # a fresh card's first lease token is "1"
        calls.append((claim, [prefix, "", card, "bench", "30"]))
        calls.append((complete, [prefix, "", card, "1", "bench", '{"ok":true}', "0.9", "{}"]))
    started = time.perf_counter()
    for sha, args in calls:
        client.evalsha(sha, 1, *args)
    return len(calls) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=os.environ.get("CREW_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("-n", type=int, default=5000, help="cards per half (2 transitions each)")
    args = parser.parse_args()

    client = redis.Redis.from_url(args.url, decode_responses=True)
    board = Board(client, f"bench-{uuid.uuid4().hex[:8]}")
    try:
        ours_ids, raw_ids, warm_ids = (
            _cards(board, args.n),
            _cards(board, args.n),
            _cards(board, 200),
        )
        board_rate(board, warm_ids[:100])  # load the scripts, warm the connection
        raw_rate(client, board, warm_ids[100:])
        # alternate small rounds so a noisy neighbour slows both halves alike
        ours_seconds = raw_seconds = 0.0
        for start in range(0, args.n, ROUND):
            ours_seconds += (
                2
                * len(ours_ids[start : start + ROUND])
                / board_rate(board, ours_ids[start : start + ROUND])
            )
            raw_seconds += (
                2
                * len(raw_ids[start : start + ROUND])
                / raw_rate(client, board, raw_ids[start : start + ROUND])
            )
        ours_rate, raw_rate_ = 2 * args.n / ours_seconds, 2 * args.n / raw_seconds
        print(f"board (claim -> complete via crew.Board): {ours_rate:,.0f} transitions/s")
        print(f"raw redis-py EVALSHA (same scripts):      {raw_rate_:,.0f} calls/s")
        print(f"ratio: {ours_rate / raw_rate_:.2f}")
    finally:
        keys = list(client.scan_iter(match=board.keys.pattern(), count=1000))
        if keys:
            client.delete(*keys)


if __name__ == "__main__":
    main()
