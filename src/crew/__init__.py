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
    from crew.agents.responders import ModelCall, OpenAIResponder, Responder
    from crew.agents.step import run_agent_step
    from crew.board import Board, Card
    from crew.engine.graph import compile_playbook
    from crew.engine.runtime import (
        RunReport,
        Session,
        cancel_run,
        continue_run,
        resume_run,
        start_run,
    )
    from crew.people.answering import answer_card
    from crew.people.card_view import view_card
    from crew.persistence import RedisCheckpointSaver
    from crew.spec.loader import find_project_root, load_project
    from crew.spec.models import ModelProfile, PlaybookSpec, RoleSpec
    from crew.spec.project import Project
    from crew.testing import OpenAIServer, ScriptedModel
    from crew.types import CardKind, CardStatus, Decision, RunStatus, ToolCall
    from crew.worker import Worker

__version__ = "0.1.0"

_LAZY = {
    "Board": "crew.board",
    "RedisCheckpointSaver": "crew.persistence",
    "RunReport": "crew.engine.runtime",
    "Session": "crew.engine.runtime",
    "cancel_run": "crew.engine.runtime",
    "compile_playbook": "crew.engine.graph",
    "resume_run": "crew.engine.runtime",
    "start_run": "crew.engine.runtime",
    "Project": "crew.spec.project",
    "find_project_root": "crew.spec.loader",
    "load_project": "crew.spec.loader",
    "OpenAIServer": "crew.testing",
    "ScriptedModel": "crew.testing",
    "Card": "crew.board",
    "CardKind": "crew.types",
    "CardStatus": "crew.types",
    "Decision": "crew.types",
    "RunStatus": "crew.types",
    "ToolCall": "crew.types",
    "ModelCall": "crew.agents.responders",
    "OpenAIResponder": "crew.agents.responders",
    "Responder": "crew.agents.responders",
    "run_agent_step": "crew.agents.step",
    "ModelProfile": "crew.spec.models",
    "PlaybookSpec": "crew.spec.models",
    "RoleSpec": "crew.spec.models",
    "answer_card": "crew.people.answering",
    "continue_run": "crew.engine.runtime",
    "view_card": "crew.people.card_view",
    "Worker": "crew.worker",
}

__all__ = [
    "AlreadyDecided",
    "Board",
    "BoardError",
    "Card",
    "CardKind",
    "CardNotFound",
    "CardStatus",
    "ConfigError",
    "CrewError",
    "Decision",
    "LeaseLost",
    "ModelCall",
    "ModelProfile",
    "NotAllowed",
    "OpenAIResponder",
    "OpenAIServer",
    "PlaybookSpec",
    "Problem",
    "Project",
    "RedisCheckpointSaver",
    "RedisUnavailable",
    "Responder",
    "RoleSpec",
    "RunError",
    "RunExists",
    "RunReport",
    "RunStatus",
    "ScriptedModel",
    "Session",
    "ToolCall",
    "Worker",
    "WrongStatus",
    "__version__",
    "answer_card",
    "cancel_run",
    "compile_playbook",
    "continue_run",
    "find_project_root",
    "load_project",
    "resume_run",
    "run_agent_step",
    "start_run",
    "view_card",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'crew' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
