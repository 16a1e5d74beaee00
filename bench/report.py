"""`crew report` costs the same whatever the history; roll-ups cost transitions little.

    python bench/report.py [--url redis://127.0.0.1:6379/0] [--small 1000] [--large 100000]

1. Roll-up overhead: the same transition cycles (an agent card started, then completed; or
   escalated, then answered) as bare EVALSHA calls, one round trip each, with the board's scripts
   as they are and with the same scripts whose roll-up functions (scripts/_rollups.lua) are
   stubbed to do nothing, in alternating rounds (the median ratio): `overhead: X%` (target
   <= 15%).
2. Report time: two fresh boards get `--small` and `--large` past card executions written through
   the real transition scripts (start, complete or escalate, answer: pipelined EVALSHA calls with
   the time passed in, so the history spreads over the past year; 8 roles, 2 playbooks, 5
   people), then `build_report` over the whole year is timed on each, alternately (best of 20;
   it reads two hashes, the running totals and a day's copy of them, whatever the history).
   The last line is `ratio: X` (report time at large / at small; target <= 2).

The bench uses its own board names and deletes only their keys.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from importlib import resources

import redis

from crew.board import Board
from crew.board.cards import card_id
from crew.board.scripts import source
from crew.people.report import build_report, read_rollups

DAY = 86400.0
ROLES = [f"role{i}" for i in range(8)]
PLAYBOOKS = ["brief", "triage"]
PEOPLE = ["ann", "bob", "cy", "dee", "eve"]
HOOKS = (
    "rollup_executed",
    "rollup_waited",
    "rollup_created",
    "rollup_answered",
    "rollup_reassigned",
    "rollup_overdue",
    "rollup_wait_end",
    "rollup_run_ended",
)


def without_rollups(name: str) -> str:
    """Script `name` with its roll-up functions doing nothing (the baseline)."""
    rollups = (resources.files("crew.board") / "scripts" / "_rollups.lua").read_text()
    stubs = "".join(f"local function {hook}() end\n" for hook in HOOKS)
    text = source(name)
    assert rollups in text
    return text.replace(rollups, stubs)


class Loader:
    """Executions written through the real transition scripts, pipelined."""

    def __init__(self, client: redis.Redis, board: Board, scripts: dict[str, str]) -> None:
        self.client, self.prefix, self.n = client, board.keys.prefix, 0
        self.sha = {name: client.script_load(text) for name, text in scripts.items()}

    def calls(self, i: int, at: float) -> list[tuple[str, list[str]]]:
        """The transitions of execution `i` at time `at`."""
        self.n += 1
        card = card_id(self.n)
        role, playbook = ROLES[i % len(ROLES)], PLAYBOOKS[i % len(PLAYBOOKS)]
        person = PEOPLE[i % len(PEOPLE)]
        confidence = ((i * 37) % 60 + 40) / 100  # 0.40 .. 0.99
        fields = {
            "run": f"r{i}", "playbook": playbook, "step": "work", "kind": "agent", "role": role,
            "assignee": role, "owner": person, "status": "queued", "max_attempts": "3",
            "created_by": person,
        }  # fmt: skip
        usage = json.dumps({"input_tokens": 900, "output_tokens": 300, "calls": 1, "cost": 0.0008})
        now = f"{at:.6f}"
        out = [("start", [self.prefix, now, "w", "60", "{}", json.dumps(fields)])]
        later = f"{at + 30:.6f}"
        if confidence >= 0.7:
            out.append(
                ("complete", [self.prefix, later, card, "1", role, '{"ok":1}', str(confidence),
                              "{}", usage])
            )  # fmt: skip
            return out
        out.append(
            ("wait", [self.prefix, later, card, "1", "escalation", person, json.dumps([person]),
                      f"{at + 7200:.6f}", f"confidence {confidence:.2f} is below 0.7", "",
                      str(confidence), role, "{}", "", "", "", usage])
        )  # fmt: skip
        decision = ("approve", "edit", "retry", "reject")[i % 4]
        out.append(
            ("answer", [self.prefix, f"{at + 30 + 60 * (i % 240):.6f}", card, person, decision,
                        "", '{"ok":2}' if decision == "edit" else "", "", "{}", ""])
        )  # fmt: skip
        return out

    def run(self, calls: list[tuple[str, list[str]]], batch: int = 2000) -> None:
        for start in range(0, len(calls), batch):
            pipe = self.client.pipeline(transaction=False)
            for name, args in calls[start : start + batch]:
                pipe.evalsha(self.sha[name], 1, *args)
            for reply in pipe.execute():
                assert reply[0] == "ok", reply


def overhead(client: redis.Redis, count: int, rounds: int = 20) -> float:
    """How much slower the transition cycles are with roll-ups than with them stubbed: both
    variants run the same cycles in alternating rounds, back to back (so a busy machine slows
    both alike); the median of the rounds' ratios."""
    names = ("start", "complete", "wait", "answer")
    variants = {
        "without": {n: without_rollups(n) for n in names},
        "with": {n: source(n) for n in names},
    }
    boards = {label: Board(client, f"bench-report-{uuid.uuid4().hex[:8]}") for label in variants}
    try:
        loaders = {label: Loader(client, boards[label], variants[label]) for label in variants}
        now = time.time() - DAY
        per_round = max(1, count // rounds)
        ratios = []
        for r in range(rounds):
            took = {}
            order = list(loaders.items())
            for label, loader in order if r % 2 else order[::-1]:
                calls = [
                    c for i in range(r * per_round, (r + 1) * per_round)
                    for c in loader.calls(i, now + i)
                ]  # fmt: skip
                started = time.perf_counter()
                for name, args in calls:  # one round trip each, as a driver makes them
                    client.evalsha(loader.sha[name], 1, *args)
                took[label] = time.perf_counter() - started
            ratios.append(took["with"] / took["without"])
    finally:
        for board in boards.values():
            _drop(client, board)
    return statistics.median(ratios) - 1


def load(client: redis.Redis, executions: int) -> tuple[Board, float, float, float]:
    """A fresh board with `executions` over the past year: the board, the year's bounds and
    the seconds loading took."""
    board = Board(client, f"bench-report-{uuid.uuid4().hex[:8]}")
    loader = Loader(client, board, {n: source(n) for n in ("start", "complete", "wait", "answer")})
    end = board.now()
    first = end - 365 * DAY
    step = 365 * DAY / executions
    started = time.perf_counter()
    calls = [c for i in range(executions) for c in loader.calls(i, first + i * step)]
    loader.run(calls)
    return board, first, end, time.perf_counter() - started


def _drop(client: redis.Redis, board: Board) -> None:
    keys = list(client.scan_iter(match=board.keys.pattern(), count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=os.environ.get("CREW_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=4000, help="cycles for the overhead")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.url, decode_responses=True)
    share = overhead(client, args.cycles)
    print(
        f"overhead: {100 * share:.1f}% (transition cycles with roll-ups vs stubbed; target <= 15%)"
    )
    boards = {}
    try:
        for size in (args.small, args.large):
            board, first, end, loaded = load(client, size)
            boards[size] = (board, first, end)
            fields = len(read_rollups(board, first, end).fields)
            print(f"{size:>7} executions: loaded in {loaded:.1f}s; {fields} roll-up fields")
        times = {size: float("inf") for size in boards}
        for _ in range(20):  # alternately, so a busy machine slows both alike; best of each
            for size, (board, first, end) in boards.items():
                started = time.perf_counter()
                report = build_report(board, since=first, until=end)
                times[size] = min(times[size], time.perf_counter() - started)
                assert sum(r["executions"] for r in report.roles) == size
        for size, took in times.items():
            print(f"{size:>7} executions: report in {1000 * took:.1f} ms")
    finally:
        for board, _, _ in boards.values():
            _drop(client, board)
    print(f"ratio: {times[args.large] / times[args.small]:.2f}")


if __name__ == "__main__":
    main()
