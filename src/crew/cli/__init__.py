"""The `crew` command line. `main` is the console script entry point."""

from __future__ import annotations

import atexit
import gc
import sys

from rich.text import Text

from crew.cli._app import app, err_console, follow_columns
from crew.cli.display import line
from crew.exceptions import ConfigError, CrewError, RunError

# Each import registers its commands on `app`.
from crew.cli import commands as _commands  # noqa: F401  isort: skip

__all__ = ["app", "main"]


def exit_code_for(error: CrewError) -> int:
    """1 for a run that failed, 2 for anything the user can fix (config, usage, board refusal)."""
    return 1 if isinstance(error, RunError) else 2


def _print_error(text: str) -> None:
    # Messages quote what the user gave (an input, a file's content): neutralise it.
    err_console.print(Text.assemble(("error: ", "bold red"), line(text)), soft_wrap=True)


def main() -> None:
    # Last at exit (atexit runs the first registered last): the heap (LangGraph, pydantic, ...)
    # is the OS's to free, and the interpreter's final garbage collections over it made every
    # command exit about a third of a second late. Nothing of crew's relies on them.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    follow_columns()
    try:
        app()
    except ConfigError as error:
        for line in str(error).splitlines():
            _print_error(line)
        sys.exit(2)
    except CrewError as error:
        _print_error(str(error))
        sys.exit(exit_code_for(error))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
