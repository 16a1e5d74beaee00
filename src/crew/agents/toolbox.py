"""A role's tools, ready to offer to its model and to run (DESIGN §7).

What a caller may rely on:

- `toolbox_for(project, role)` resolves the role's tool names against the registry once per
  process (per project file contents): Python tools are imported from the project, MCP tools
  are listed from their server (`crew.agents.mcp`). Failing to do so is a `ConfigError` naming
  the tool, never a traceback.
- `Tool` and `ToolResult` (one tool, what one call came to) live in `crew.agents.tool`, below
  this module and `crew.agents.mcp` alike; they are re-exported here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crew.agents.tool import Tool, ToolResult, json_schema_problems
from crew.exceptions import ConfigError
from crew.spec.models import RoleSpec, ToolSpec
from crew.types import ToolCall

if TYPE_CHECKING:
    from crew.spec.project import Project

__all__ = [
    "Tool",
    "ToolResult",
    "Toolbox",
    "json_schema_problems",
    "python_function",
    "toolbox_for",
]


class Toolbox:
    """The tools of one role, by name."""

    def __init__(self, tools: Mapping[str, Tool], max_calls: int) -> None:
        self.tools = dict(tools)
        self.max_calls = max_calls

    def __bool__(self) -> bool:
        return bool(self.tools)

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    @property
    def definitions(self) -> tuple[dict[str, Any], ...]:
        return tuple(tool.definition for tool in self.tools.values())


def toolbox_for(project: Project, role: RoleSpec) -> Toolbox:
    """The role's tools, resolved and cached (see the module doc)."""
    if not role.tools:
        return Toolbox({}, role.max_tool_calls)
    specs = {name: project.crew.tools.get(name) for name in role.tools}
    key = json.dumps(
        [
            str(project.root.resolve()),
            {name: spec.model_dump(mode="json") if spec else None for name, spec in specs.items()},
            {
                name: server.model_dump(mode="json")
                for name, server in project.crew.mcp_servers.items()
            },
        ],
        sort_keys=True,
    )
    # One resolution per toolbox at a time (parallel fan-out items of one role wait for the
    # first); different roles' toolboxes resolve side by side (an MCP server's listing may take
    # seconds), but tool modules are imported one at a time (`_importing`).
    with _lock:
        cached = _cache.get(key)
        resolving = _resolving.setdefault(key, threading.Lock())
    if cached is None:
        with resolving:
            cached = _cache.get(key)
            if cached is None:
                cached = _resolve(project, specs)
                with _lock:
                    _cache[key] = cached
    return Toolbox(cached, role.max_tool_calls)


_cache: dict[str, dict[str, Tool]] = {}
_lock = threading.Lock()
_resolving: dict[str, threading.Lock] = {}
# Importing a tool module swaps sys.modules entries (crew.spec.tools.import_tool), which another
# thread importing the same package must not see half done.
_importing = threading.Lock()


def python_function(root: Path, reference: str) -> Callable[..., Any]:
    """`module:function` of the project at `root` (an automated step's), imported once per
    process and one import at a time (see `_importing`); `ToolImportError` when it cannot."""
    from crew.spec.tools import import_tool

    key = (str(root.resolve()), reference)
    with _importing:
        function = _functions.get(key)
        if function is None:
            function = _functions[key] = import_tool(root, reference)
    return function


_functions: dict[tuple[str, str], Callable[..., Any]] = {}


def _resolve(project: Project, specs: Mapping[str, ToolSpec | None]) -> dict[str, Tool]:
    tools: dict[str, Tool] = {}
    mcp: dict[str, ToolSpec] = {}
    for name, spec in specs.items():
        if spec is None:
            known = ", ".join(sorted(project.crew.tools)) or "none"
            raise ConfigError(
                f"unknown tool '{name}' (tools in crew.yaml: {known})",
                hint="Add it to `tools:` in crew.yaml, or remove it from the role.",
            )
        if spec.python is not None:
            tools[name] = _python_tool(project, name, spec)
        else:
            mcp[name] = spec
    if mcp:
        from crew.agents.mcp import mcp_tools

        tools.update(mcp_tools(project, mcp))
    return tools


def _python_tool(project: Project, name: str, spec: ToolSpec) -> Tool:
    from crew.spec.tools import (
        ToolImportError,
        argument_schema,
        arguments_model,
        call_parameters,
        description,
        import_tool,
    )

    assert spec.python is not None
    try:
        with _importing:
            function = import_tool(project.root, spec.python)
    except ToolImportError as error:
        raise ConfigError(f"tool '{name}': {error.message}", hint=error.hint) from None
    model = arguments_model(name, function)
    crew_parameters = call_parameters(function)

    def run(arguments: dict[str, Any], call: ToolCall) -> Any:
        checked = model.model_validate(arguments)
        values = {key: getattr(checked, key) for key in arguments if key in model.model_fields}
        for parameter in crew_parameters:
            values[parameter] = call
        return function(**values)

    def validate(arguments: dict[str, Any]) -> str | None:
        from pydantic import ValidationError

        try:
            model.model_validate(arguments)
        except ValidationError as error:
            return _pydantic_problems(error)
        unknown = sorted(set(arguments) - set(model.model_fields))
        if unknown:
            return f"unknown argument(s) {', '.join(unknown)}"
        return None

    return Tool(
        name=name,
        spec=spec,
        description=description(function),
        schema=argument_schema(name, function, model),
        runner=run,
        validator=validate,
    )


def _pydantic_problems(error: Any) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ())) or "arguments"
        problems.append(f"{where}: {item.get('msg')}")
    return "; ".join(problems)
