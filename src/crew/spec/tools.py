"""Python tools of the registry (DESIGN §7): importing `module:function` from a project, checking
that the function can be offered to a model, and its argument schema.

What a caller may rely on:

- `import_tool` imports the module afresh, with the project root first on ``sys.path``: it sees
  the file as it is now, and two projects checked in one process never see each other's tools.
  Failures are `ToolImportError` with a one-line message (the exception's type and message),
  never a traceback.
- `signature_problems` uses `inspect` only (cheap: `crew validate` stays light); `argument_schema`
  builds the JSON Schema with langchain-core's tool machinery and is imported on first use.
- A parameter annotated ``crew.ToolCall`` is crew's, not the model's: it is left out of the
  schema and needs no other hint.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

from crew.types import ToolCall

if TYPE_CHECKING:
    from crew.spec.project import Project

__all__ = [
    "ToolImportError",
    "argument_schema",
    "arguments_model",
    "call_parameters",
    "describe",
    "description",
    "import_tool",
    "signature_problems",
]


class ToolImportError(Exception):
    """`module:function` could not be imported; the message is one line, fit for file:line."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def import_tool(root: Path, reference: str) -> Callable[..., Any]:
    """The function `reference` (``module:function``) names, imported from the project `root`."""
    module_name, _, function_name = reference.partition(":")
    root = root.resolve()
    # Import the module (and its packages) afresh: as it is now, from this project, even when a
    # module of that name was imported before from elsewhere (another project, another test).
    parts = module_name.split(".")
    for i in range(len(parts), 0, -1):
        sys.modules.pop(".".join(parts[:i]), None)
    sys.path.insert(0, str(root))
    try:
        importlib.invalidate_caches()
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise ToolImportError(
                f"no module '{module_name}' in the project",
                f"Create {module_name.replace('.', '/')}.py under {root.name}/ "
                "(imported with the project root on sys.path).",
            ) from None
        raise ToolImportError(
            f"module '{module_name}' cannot be imported: {_one_line(exc)}",
            "Fix the module, or install what it imports.",
        ) from None
    except (Exception, SystemExit) as exc:
        raise ToolImportError(
            f"module '{module_name}' cannot be imported: {_one_line(exc)}",
            "Fix the module: importing it must not fail.",
        ) from None
    finally:
        with contextlib.suppress(ValueError):  # the module may have removed it itself
            sys.path.remove(str(root))
    function = getattr(module, function_name, None)
    if function is None:
        names = [
            name
            for name, value in vars(module).items()
            if inspect.isfunction(value) and not name.startswith("_")
        ]
        from crew.spec.suggest import did_you_mean

        raise ToolImportError(
            f"module '{module_name}' has no function '{function_name}'",
            did_you_mean(function_name, names, kind="Functions"),
        )
    if not callable(function):
        raise ToolImportError(
            f"'{reference}' is a {type(function).__name__}, not a function",
            "Name a function: module:function.",
        )
    return function  # type: ignore[no-any-return]


def _is_call(annotation: Any) -> bool:
    if annotation is ToolCall:
        return True
    if isinstance(annotation, str):  # a hint typing could not resolve: read it
        return re.search(r"\bToolCall\b", annotation) is not None
    return get_origin(annotation) in (Union, UnionType) and ToolCall in get_args(annotation)


def call_parameters(function: Callable[..., Any]) -> list[str]:
    """The parameters crew fills in itself (annotated ``crew.ToolCall``, or optionally one)."""
    try:
        hints = get_type_hints(function)
    except Exception:  # a hint naming something the module does not define
        hints = {}
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if _is_call(hints.get(p.name, p.annotation))
    ]


def description(function: Callable[..., Any]) -> str:
    """What the model is told the tool does: the docstring (its first paragraph)."""
    doc = inspect.getdoc(function) or ""
    return doc.split("\n\n", 1)[0].strip()


def signature_problems(function: Callable[..., Any]) -> list[str]:
    """Why this function cannot be offered to a model (one sentence each), or []."""
    problems: list[str] = []
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        return [f"its signature cannot be read ({_one_line(exc)})"]
    missing = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            star = "*" if parameter.kind is parameter.VAR_POSITIONAL else "**"
            problems.append(f"parameter {star}{parameter.name} cannot be given by a model")
        elif parameter.annotation is parameter.empty:
            missing.append(parameter.name)
    if missing:
        problems.append(f"parameter(s) {', '.join(missing)} have no type hint")
    if not description(function):
        problems.append("it has no docstring (the model reads it to know what the tool does)")
    return problems


def arguments_model(name: str, function: Callable[..., Any]) -> Any:
    """The pydantic model of the arguments a model passes (crew's `ToolCall` parameters left
    out), built from the signature by langchain-core: what checks and coerces a call's
    arguments, and what `argument_schema` describes."""
    from langchain_core.tools import create_schema_from_function

    return create_schema_from_function(name, function, filter_args=call_parameters(function))


def argument_schema(name: str, function: Callable[..., Any], model: Any = None) -> dict[str, Any]:
    """The JSON Schema of the arguments a model passes, from the signature (langchain-core);
    `model`: the function's `arguments_model`, when the caller has it already."""
    from langchain_core.tools import StructuredTool
    from langchain_core.utils.function_calling import convert_to_openai_tool

    schema = model if model is not None else arguments_model(name, function)
    tool = StructuredTool.from_function(
        function, name=name, description=description(function), args_schema=schema
    )
    parameters: dict[str, Any] = convert_to_openai_tool(tool)["function"]["parameters"]
    return parameters


def describe(
    project: Project, offered: Mapping[str, tuple[str, dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    """The registry as `crew tools --json` prints it: one entry per tool, by name.

    `arguments` is the JSON Schema a model is given (Python tools); None for an MCP tool, whose
    arguments only its server knows, unless `offered` gives them (registry name → the server's
    description and JSON Schema, as `crew tools --check` learns them)."""
    entries = []
    for name, tool in sorted(project.crew.tools.items()):
        description_text = ""
        arguments: dict[str, Any] | None = None
        if tool.python is not None:
            function = import_tool(project.root, tool.python)
            description_text = description(function)
            arguments = argument_schema(name, function)
        elif offered is not None and name in offered:
            description_text, arguments = offered[name]
        entries.append(
            {
                "name": name,
                "source": tool.source,
                "python": tool.python,
                "mcp": tool.mcp,
                "mcp_tool": (tool.tool or name) if tool.mcp is not None else None,
                "description": description_text,
                "approval": tool.approval,
                "approve_when": tool.approve_when,
                "idempotent": tool.idempotent,
                "timeout": tool.timeout,
                "arguments": arguments,
                "roles": sorted(r for r, spec in project.roles.items() if name in spec.tools),
            }
        )
    return entries
