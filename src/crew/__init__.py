"""crew: work management for human + AI teams.

The public API is what `__all__` lists. Heavy parts (LangGraph, langchain-openai) load on first
use, so `import crew` and the CLI's board commands stay instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crew.exceptions import (
    AlreadyDecided,
    BoardError,
    CardNotFound,
    ConfigError,
    CrewError,
    LeaseLost,
    NotAllowed,
    Problem,
    RedisUnavailable,
    RunError,
    RunExists,
    WrongStatus,
)

if TYPE_CHECKING:
    from crew.board import Board
    from crew.graph import compile_playbook
    from crew.persistence import RedisCheckpointSaver
    from crew.runtime import RunReport, Session, cancel_run, resume_run, start_run
    from crew.spec.loader import find_project_root, load_project
    from crew.spec.project import Project
    from crew.testing import OpenAIServer, ScriptedModel

__version__ = "0.1.0"

_LAZY = {
    "Board": "crew.board",
    "RedisCheckpointSaver": "crew.persistence",
    "RunReport": "crew.runtime",
    "Session": "crew.runtime",
    "cancel_run": "crew.runtime",
    "compile_playbook": "crew.graph",
    "resume_run": "crew.runtime",
    "start_run": "crew.runtime",
    "Project": "crew.spec.project",
    "find_project_root": "crew.spec.loader",
    "load_project": "crew.spec.loader",
    "OpenAIServer": "crew.testing",
    "ScriptedModel": "crew.testing",
}

__all__ = [
    "AlreadyDecided",
    "Board",
    "BoardError",
    "CardNotFound",
    "ConfigError",
    "CrewError",
    "LeaseLost",
    "NotAllowed",
    "OpenAIServer",
    "Problem",
    "Project",
    "RedisCheckpointSaver",
    "RedisUnavailable",
    "RunError",
    "RunExists",
    "RunReport",
    "ScriptedModel",
    "Session",
    "WrongStatus",
    "__version__",
    "cancel_run",
    "compile_playbook",
    "find_project_root",
    "load_project",
    "resume_run",
    "start_run",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'crew' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
