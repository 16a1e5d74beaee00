"""`crew tools --check [--json]`: start each MCP server of crew.yaml once and report what it
offers (name, description, arguments) and which registry tools it lacks; exit 1 when a server
fails or lacks a tool."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from crew.cli._app import console, print_json
from crew.cli.display import line
from crew.cli.fit import wrapped

if TYPE_CHECKING:
    from crew.spec.project import Project


def check(
    project: Project, *, as_json: bool, arguments: Callable[[dict[str, Any] | None], str]
) -> None:
    """Print the servers' report (and with `--json`, the registry with the MCP tools' arguments
    as their servers give them); exit 1 unless every server is fine. `arguments` shows a JSON
    Schema on one line as `crew tools` does."""
    from crew.agents.mcp import check_servers
    from crew.exceptions import ConfigError
    from crew.spec.tools import ToolImportError, describe

    checks = check_servers(project)
    if as_json:
        offered: dict[str, tuple[str, dict[str, Any]]] = {}
        for server in checks:
            by_name = {o.name: o for o in server.offered}
            for name, tool in project.crew.tools.items():
                found = by_name.get(tool.tool or name) if tool.mcp == server.name else None
                if found is not None:
                    offered[name] = (found.description, found.schema)
        try:
            entries = describe(project, offered)
        except ToolImportError as exc:  # the module changed since the project was checked
            raise ConfigError(exc.message, hint=exc.hint) from None
        print_json(
            {
                "project": project.name,
                "ok": all(server.ok for server in checks),
                "servers": [server.as_json() for server in checks],
                "tools": entries,
            }
        )
    elif not checks:
        typer.echo("no MCP servers: add them under `mcp_servers:` in crew.yaml (see README, Tools)")
    for server in checks if not as_json else ():
        head = f"{server.name}  ({line(server.transport)})"
        if server.error is not None:
            typer.echo(f"{head}: could not be started: {line(server.error)}")  # one line
            continue
        count = len(server.offered)
        typer.echo(f"{head}: {count} tool{'' if count == 1 else 's'}")
        for offered_tool in server.offered:
            about = f"  {offered_tool.description}" if offered_tool.description else ""
            _say(f"  {line(offered_tool.name)}{line(about)}")
            _say(f"    arguments: {line(arguments(offered_tool.schema))}")
        for name, remote in server.lacks.items():
            shown = name if remote == name else f"{name} (tool: {remote})"
            _say(f"  lacks: {line(shown)}, named in crew.yaml `tools:`")
    if not all(server.ok for server in checks):
        raise typer.Exit(1)


def _say(text: str) -> None:
    """A line of a tool's (a description, its arguments) wrapped at the terminal's width between
    words (a name is never split), its continuation lines indented under it."""
    typer.echo(wrapped(text, console.width))
