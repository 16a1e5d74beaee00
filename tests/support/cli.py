"""What tests read from a `crew` command's result (`crew_cli` in conftest)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

RUN = ("run", "launch-brief", "--replay", "-i", "product=Solar kettle", "--as", "bob")
"""Bob starts the example's launch-brief, its model answers replayed from the cassette."""


@dataclass(frozen=True)
class CliResult:
    """What a user sees from one `crew` command: exit code, stdout, stderr."""

    code: int
    out: str
    err: str


def as_json(result: Any) -> Any:
    """The command's `--json` output, after checking it printed no traceback."""
    assert "Traceback" not in result.err, result.err
    return json.loads(result.out)
