"""What tests read from a `crew` command's result (`crew_cli` in conftest)."""

from __future__ import annotations

import json
from typing import Any


def as_json(result: Any) -> Any:
    """The command's `--json` output, after checking it printed no traceback."""
    assert "Traceback" not in result.err, result.err
    return json.loads(result.out)
