"""What the bench scripts share: the `--url` option, a project whose models are scripted, a
session on a fresh board whose keys are deleted afterwards, the best of R timed rounds, and the
`ratio:` line every bench ends with.

The scripts run as `python bench/NAME.py`, so this module is imported as `_common`.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crew.board import Board
from crew.engine.runtime import Session
from crew.spec.models import CrewSpec, PlaybookSpec, RoleSpec
from crew.spec.project import Project


def add_url(parser: argparse.ArgumentParser) -> None:
    """The `--url` option: the Redis to run against."""
    parser.add_argument(
        "--url",
        default=os.environ.get("CREW_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="The Redis to run against (default: CREW_REDIS_URL or 127.0.0.1:6379).",
    )


def scripted_project(
    root: Path, roles: dict[str, RoleSpec], playbooks: dict[str, PlaybookSpec], **crew: Any
) -> Project:
    """A project in `root` whose default model is scripted (a `crew.testing.ScriptedModel`
    answers) and whose one person is alice; `crew` adds to its crew.yaml (tools, settings) or
    replaces a part of it (people)."""
    spec = {
        "name": "bench",
        "models": {"default": {"model": "scripted"}},
        "people": {"alice": {"name": "Alice"}},
        **crew,
    }
    return Project(root=root, crew=CrewSpec.model_validate(spec), roles=roles, playbooks=playbooks)


def best_of(rounds: int, measure: Callable[[], float]) -> float:
    """The fastest of `rounds` measurements, after one untimed warm-up (imports, caches)."""
    measure()
    return min(measure() for _ in range(rounds))


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
