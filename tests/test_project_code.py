"""The project's Python (its tools and automated steps) is imported and checked by `crew validate`
and the commands that drive runs, never by the ones that only read or answer the board: those
stay fast whatever the tools import, and work while a tool module is broken."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Cli = Callable[..., Any]


def test_board_commands_do_not_run_the_projects_code(crew_cli: Cli, example: Path) -> None:
    (example / "tools" / "markets.py").write_text(
        "from pathlib import Path\n"
        "Path('imported').write_text('yes')\n"
        "raise RuntimeError('no data source configured')\n"
    )
    for command in (("inbox", "--as", "alice"), ("board",), ("runs",)):
        result = crew_cli(*command)
        assert result.code == 0, (command, result.err)
    assert not (example / "imported").exists()

    validated = crew_cli("validate")
    assert validated.code == 2
    assert "RuntimeError: no data source configured" in validated.err
    started = crew_cli("run", "launch-brief", "--replay", "-i", "product=x", "--as", "bob")
    assert started.code == 2 and "no data source configured" in started.err
