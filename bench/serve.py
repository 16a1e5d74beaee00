"""`GET /api/inbox` requests per second with 10,000 cards waiting on one person, against a bare
Starlette endpoint that reads one Redis key: same server (one uvicorn, both routes), same client
(one keep-alive httpx client), one run of this script.

    python bench/serve.py [--url URL] [--cards N] [--requests R]

The cards are made on a fresh board of the example project (created waiting, in batches) and
the board's keys deleted afterwards. The inbox reads a bounded range of the person's inbox index
(`crew.web.views.INBOX_LIMIT` cards), never the whole board. The last line is
`ratio: <crew ÷ bare>` (the target is at least 0.3).
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import httpx
import redis
import uvicorn
from _common import add_url, delete_board, print_ratio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crew.people.tokens import issue_token
from crew.spec.loader import load_project
from crew.web.app import create_app, open_state

REPO = Path(__file__).resolve().parent.parent


def _fill(state: object, cards: int) -> None:
    board = state.board  # type: ignore[attr-defined]
    batch = []
    for number in range(cards):
        batch.append(
            {
                "run": f"r{number // 10}",
                "playbook": "launch-brief",
                "step": "legal_review",
                "kind": "checkpoint",
                "assignee": "carol",
                "owner": "carol",
                "status": "waiting",
                "reason": "Approve this brief for publication?",
                "detail": {"question": "Approve this brief for publication?"},
            }
        )
        if len(batch) == 500:
            board.create_cards(batch)
            batch = []
    if batch:
        board.create_cards(batch)


def _rate(client: httpx.Client, path: str, headers: dict[str, str], requests: int) -> float:
    for _ in range(10):  # warm up
        client.get(path, headers=headers).raise_for_status()
    started = time.perf_counter()
    for _ in range(requests):
        client.get(path, headers=headers).raise_for_status()
    return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_url(parser)
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    options = parser.parse_args()

    name = f"bench-serve-{uuid.uuid4().hex[:8]}"
    os.environ["CREW_REDIS_URL"] = options.url
    os.environ["CREW_BOARD"] = name
    os.environ["CREW_SIGNING_KEY"] = "/nonexistent"  # signing is not what is measured
    state, _said = open_state(load_project(REPO))
    raw = redis.Redis.from_url(options.url, decode_responses=True)
    try:
        started = time.perf_counter()
        _fill(state, options.cards)
        print(f"{options.cards} waiting cards made in {time.perf_counter() - started:.1f}s")
        token = issue_token(state.board, "carol").token
        bare_key = state.board.keys.meta()

        async def bare(request: Request) -> JSONResponse:
            value = await run_in_threadpool(raw.hgetall, bare_key)
            return JSONResponse(value)

        app = create_app(state)
        app.router.routes.append(Route("/bare", bare))
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with httpx.Client(base_url=base, timeout=30) as client:
            auth = {"Authorization": f"Bearer {token}"}
            shown = len(client.get("/api/inbox", headers=auth).json())
            crew_rate = _rate(client, "/api/inbox", auth, options.requests)
            bare_rate = _rate(client, "/bare", {}, options.requests)
        server.should_exit = True
        thread.join(10)
        print(f"GET /api/inbox ({shown} cards a page): {crew_rate:.0f} requests/s")
        print(f"GET /bare (one Redis key):          {bare_rate:.0f} requests/s")
        print_ratio(crew_rate / bare_rate)
    finally:
        delete_board(state.board)
        state.close()


if __name__ == "__main__":
    main()
