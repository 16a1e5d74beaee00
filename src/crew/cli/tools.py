"""`crew tools [--json]`: the project's tool registry (crew.yaml `tools:`), as a model sees it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crew.cli._app import app, console, print_json
from crew.cli.display import line
from crew.cli.fit import wrapped
from crew.exceptions import ConfigError


def _arguments(schema: dict[str, Any] | None) -> str:
    if schema is None:
        return "given by the MCP server"
    properties: dict[str, Any] = schema.get("properties") or {}
    if not properties:
        return "none"
    required = set(schema.get("required") or [])
    parts = []
    for name, spec in properties.items():
        kind = spec.get("type") or " | ".join(
            str(option.get("type", "?")) for option in spec.get("anyOf", [])
        )
        parts.append(f"{name}: {kind or 'any'}" + ("" if name in required else "?"))
    return ", ".join(parts)


@app.command("tools")
def tools(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the registry as JSON on stdout.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Start each MCP server once: what it offers, which registry tools it lacks "
            "(exit 1 when one fails or lacks a tool).",
        ),
    ] = False,
) -> None:
    """List the tool registry: each tool's source, approval, timeout and arguments."""
    from crew.cli.board import open_project
    from crew.spec.durations import format_duration
    from crew.spec.tools import ToolImportError, describe

    project = open_project(code=True)
    if check:
        from crew.cli.tools_check import check as check_servers

        check_servers(project, as_json=as_json, arguments=_arguments)
        return
    try:
        entries = describe(project)
    except ToolImportError as exc:  # the module changed since the project was checked
        raise ConfigError(exc.message, hint=exc.hint) from None
    if as_json:
        print_json({"project": project.name, "tools": entries})
        return
    if not entries:
        typer.echo("no tools: add them under `tools:` in crew.yaml (see README, Tools)")
        return
    for entry in entries:
        _say(f"{entry['name']}  ({line(entry['source'])})", indent="")
        if entry["description"]:
            _say(line(entry["description"]))
        approval = entry["approval"]
        if entry["approve_when"]:
            approval += f" when {entry['approve_when']}"
        _say(
            f"approval: {line(approval)} · idempotent: {'yes' if entry['idempotent'] else 'no'}"
            f" · timeout: {format_duration(entry['timeout'])}"
        )
        _say(f"arguments: {_arguments(entry['arguments'])}")
        _say(f"roles: {', '.join(entry['roles']) or 'none'}")


def _say(text: str, indent: str = "  ") -> None:
    """One line of a tool's block, wrapped at the terminal's width between words (a name is
    never split), its continuation lines indented under it."""
    typer.echo(wrapped(indent + text, console.width))
