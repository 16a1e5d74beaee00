"""What the bench scripts share: the `--url` option, a session on a fresh board whose keys are
deleted afterwards, and the `ratio:` line every bench ends with.

The scripts run as `python bench/NAME.py`, so this module is imported as `_common`.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from crew.board import Board
from crew.engine.runtime import Session
from crew.spec.project import Project


def add_url(parser: argparse.ArgumentParser) -> None:
    """The `--url` option: the Redis to run against."""
    parser.add_argument(
        "--url",
        default=os.environ.get("CREW_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="The Redis to run against (default: CREW_REDIS_URL or 127.0.0.1:6379).",
    )


def delete_board(board: Board) -> None:
    """Delete every key of `board` (a bench's board only: it is fresh and named by the bench)."""
    keys = list(board.client.scan_iter(match=board.keys.pattern(), count=1000))
    for start in range(0, len(keys), 500):
        board.client.delete(*keys[start : start + 500])


@contextmanager
def fresh_session(project: Project, url: str, person: str = "alice") -> Iterator[Session]:
    """A session of `project` on a fresh board at `url` (set as CREW_BOARD and CREW_REDIS_URL,
    as the CLI would read them); its keys are deleted and the session closed afterwards."""
    os.environ["CREW_BOARD"] = f"bench-{uuid.uuid4().hex[:8]}"
    os.environ["CREW_REDIS_URL"] = url
    session = Session.open(project, person=person)
    try:
        yield session
    finally:
        delete_board(session.board)
        session.close()


def print_ratio(ratio: float) -> None:
    """The last line of every bench, which the tests and the docs read."""
    print(f"ratio: {ratio:.2f}")
