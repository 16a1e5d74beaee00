"""`settings.retention`: abandoned waiting runs are cancelled, finished ones deleted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from support.cli import RUN, as_json

Cli = Callable[..., Any]


def retention(root: Path, **settings: Any) -> None:
    team = yaml.safe_load((root / "crew.yaml").read_text())
    team["settings"]["retention"] = settings
    (root / "crew.yaml").write_text(yaml.safe_dump(team))


def test_by_default_a_waiting_run_is_kept(crew_cli: Cli, example: Path) -> None:
    run = as_json(crew_cli(*RUN, "--json"))["run"]
    assert crew_cli("board").code == 0
    assert as_json(crew_cli("status", run, "--json"))["status"] == "waiting"


def test_an_abandoned_run_is_cancelled_then_deleted_once_finished_long_enough(
    crew_cli: Cli,
    example: Path,
) -> None:
    run = as_json(crew_cli(*RUN, "--json"))["run"]
    # Any time at all counts as abandoned here, so no test has to wait.
    retention(example, abandoned="0s", finished="1d")
    assert crew_cli("board").code == 0
    status = as_json(crew_cli("status", run, "--json"))
    assert status["status"] == "cancelled"
    assert all(step["status"] in ("done", "cancelled", "skipped") for step in status["steps"])
    (cancelled,) = [
        e for e in as_json(crew_cli("log", run, "--json")) if e["event"] == "run_cancelled"
    ]
    assert cancelled["actor"] == "crew"
    assert "abandoned" in cancelled["detail"]["reason"]
    assert as_json(crew_cli("inbox", "--as", "carol", "--json")) == []

    retention(example, abandoned="0s", finished="0s")
    assert crew_cli("board").code == 0
    gone = crew_cli("status", run)
    assert gone.code == 2 and run in gone.err
