"""Tools of MCP servers (DESIGN §7: `mcp:` tools of crew.yaml `mcp_servers`), through
langchain-mcp-adapters.

What a caller may rely on:

- `mcp_tools(project, specs)` starts each server the `specs` name once, lists what it offers
  (concurrently, one listing per server) and returns one `crew.agents.tool.Tool` per spec:
  the model is given the server's own description and input JSON Schema, arguments are checked
  against that schema (`json_schema_problems`) before a call. A server that cannot be started
  or listed, an unknown server, or a tool the server does not offer is a one-line
  `ConfigError` ("MCP server 'docs' has no tool 'x' (it offers: a, b)"), never a traceback.
- A session per call: each call starts its own session (stdio: its own server process, in the
  project root; streamable HTTP: its own connection) and closes it when the call ends or
  times out. Nothing is shared between calls or threads, so a server that crashes or hangs
  costs only the call it happened in (the model is told, the next call starts afresh), a call
  abandoned at its `timeout` tears its session down, and no server outlives the call. The
  price: a stdio server starts once per call (a Python FastMCP server: about half a second).
- Failures of a call (the server's own error result, a server that crashed or could not be
  reached) raise `McpCallError` with one line; `Tool.call` gives it to the model as the result.
- A stdio server's stderr is captured, never printed on crew's terminal: its last line is
  quoted when the server fails.
- `check_servers(project)` (for `crew tools --check`) starts every server of `mcp_servers` once
  and reports what each offers and which registry tools it lacks.
- langchain-mcp-adapters and mcp are imported only when a server is used; when they are not
  installed the error says `pip install "crew[mcp]"`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, TypeVar

from crew.exceptions import ConfigError
from crew.spec.models import McpServerSpec, ToolSpec
from crew.types import ToolCall

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from crew.agents.tool import Tool
    from crew.spec.project import Project

__all__ = ["McpCallError", "Offered", "ServerCheck", "check_servers", "list_server", "mcp_tools"]

LIST_TIMEOUT = 30.0
"""Seconds a server has to start and list its tools."""

T = TypeVar("T")


class McpCallError(Exception):
    """A call of an MCP tool failed: the server's error, or the server itself (one line)."""


class McpServerError(Exception):
    """A server could not be started or listed (one line, without the server's name)."""


@dataclass(frozen=True)
class Offered:
    """One tool a server offers: what the model is told about it."""

    name: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class ServerCheck:
    """What `crew tools --check` learnt of one server."""

    name: str
    transport: str
    """`stdio: COMMAND ARGS` or `http: URL`."""
    offered: tuple[Offered, ...] = ()
    error: str | None = None
    lacks: dict[str, str] = field(default_factory=dict)
    """Registry tools naming this server that it does not offer: registry name → server name."""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.lacks

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "transport": self.transport,
            "ok": self.ok,
            "error": self.error,
            "tools": [
                {"name": t.name, "description": t.description, "arguments": t.schema}
                for t in self.offered
            ],
            "lacks": [{"tool": name, "mcp_tool": remote} for name, remote in self.lacks.items()],
        }


def mcp_tools(project: Project, specs: Mapping[str, ToolSpec]) -> dict[str, Tool]:
    """The `mcp:` tools `specs` name, listed from their servers (see the module doc)."""
    by_server: dict[str, dict[str, ToolSpec]] = {}
    for name, spec in specs.items():
        assert spec.mcp is not None, name
        if spec.mcp not in project.crew.mcp_servers:
            known = ", ".join(sorted(project.crew.mcp_servers)) or "none"
            raise ConfigError(
                f"tool '{name}': no MCP server '{spec.mcp}' (mcp_servers in crew.yaml: {known})",
                hint="Add it under `mcp_servers:` in crew.yaml, or fix `mcp:` of the tool.",
            )
        by_server.setdefault(spec.mcp, {})[name] = spec
    listed = _list_servers(project, list(by_server))
    tools: dict[str, Tool] = {}
    for server, named in by_server.items():
        offered = listed[server]
        if isinstance(offered, McpServerError):
            raise ConfigError(
                f"MCP server '{server}' could not be started: {offered}",
                hint=f"Check mcp_servers.{server} in crew.yaml; `crew tools --check` tries it.",
            )
        for name, spec in named.items():
            remote = spec.tool or name
            found = next((o for o in offered if o.name == remote), None)
            if found is None:
                names = ", ".join(o.name for o in offered) or "no tools"
                raise ConfigError(
                    f"MCP server '{server}' has no tool '{remote}' (it offers: {names})",
                    hint=f"Fix tool '{name}' in crew.yaml (`tool:` names the server's tool).",
                )
            tools[name] = _tool(project, server, name, spec, found)
    return tools


def list_server(project: Project, server: str) -> tuple[Offered, ...]:
    """What `server` offers; `McpServerError` when it cannot be started or listed."""
    result = _list_servers(project, [server])[server]
    if isinstance(result, McpServerError):
        raise result
    return result


def check_servers(project: Project) -> list[ServerCheck]:
    """Every server of `mcp_servers`, started once (concurrently): what it offers and lacks."""
    servers = sorted(project.crew.mcp_servers)
    listed = _list_servers(project, servers) if servers else {}
    checks = []
    for server in servers:
        spec = project.crew.mcp_servers[server]
        offered = listed[server]
        if isinstance(offered, McpServerError):
            checks.append(ServerCheck(server, transport(spec), error=str(offered)))
            continue
        names = {o.name for o in offered}
        lacks = {
            name: tool.tool or name
            for name, tool in sorted(project.crew.tools.items())
            if tool.mcp == server and (tool.tool or name) not in names
        }
        checks.append(ServerCheck(server, transport(spec), offered, lacks=lacks))
    return checks


def transport(spec: McpServerSpec) -> str:
    """How crew reaches a server, as `crew tools --check` shows it."""
    if spec.url is not None:
        return f"http: {spec.url}"
    return "stdio: " + " ".join([spec.command or "", *spec.args])


# --- listing -------------------------------------------------------------------------------


def _list_servers(
    project: Project, servers: list[str]
) -> dict[str, tuple[Offered, ...] | McpServerError]:
    _require()

    async def one(server: str) -> tuple[Offered, ...] | McpServerError:
        try:
            return await asyncio.wait_for(_list(project, server), LIST_TIMEOUT)
        except TimeoutError:
            return McpServerError(f"it did not list its tools within {LIST_TIMEOUT:g}s")
        except McpServerError as error:
            return error

    async def every() -> list[tuple[Offered, ...] | McpServerError]:
        return list(await asyncio.gather(*(one(server) for server in servers)))

    return dict(zip(servers, _run_sync(every), strict=True))


async def _list(project: Project, server: str) -> tuple[Offered, ...]:
    from langchain_mcp_adapters.tools import load_mcp_tools

    async with _session(project, server) as session:
        await session.initialize()
        tools = await load_mcp_tools(session, server_name=server)
    offered = []
    for tool in tools:
        schema = tool.args_schema if isinstance(tool.args_schema, dict) else {}
        offered.append(Offered(tool.name, " ".join((tool.description or "").split()), schema))
    return tuple(offered)


# --- calling -------------------------------------------------------------------------------


def _tool(project: Project, server: str, name: str, spec: ToolSpec, offered: Offered) -> Tool:
    from crew.agents.tool import Tool, json_schema_problems

    schema = dict(offered.schema) or {"type": "object", "properties": {}}

    def run(arguments: dict[str, Any], call: ToolCall) -> Any:
        # bounded here too (Tool.call stops waiting at the same time): the session is torn
        # down, its server stopped, rather than left running in an abandoned thread
        return _run_sync(
            lambda: asyncio.wait_for(_call(project, server, offered, arguments), spec.timeout)
        )

    def validate(arguments: dict[str, Any]) -> str | None:
        return json_schema_problems(schema, arguments)

    return Tool(
        name=name,
        spec=spec,
        description=offered.description,
        schema=schema,
        runner=run,
        validator=validate,
    )


async def _call(project: Project, server: str, offered: Offered, arguments: dict[str, Any]) -> Any:
    from langchain_mcp_adapters.tools import convert_mcp_tool_to_langchain_tool
    from mcp.types import Tool as McpTool

    definition = McpTool(
        name=offered.name, description=offered.description, inputSchema=offered.schema
    )
    try:
        async with _session(project, server) as session:
            await session.initialize()
            tool = convert_mcp_tool_to_langchain_tool(session, definition, server_name=server)
            message = await tool.ainvoke(
                {"name": offered.name, "args": arguments, "id": "crew", "type": "tool_call"}
            )
    except McpServerError as error:
        raise McpCallError(f"MCP server '{server}' failed during the call: {error}") from None
    content = _content(getattr(message, "content", message))
    if getattr(message, "status", "success") == "error":
        shown = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        raise McpCallError(" ".join(shown.split()))
    artifact = getattr(message, "artifact", None)
    if isinstance(artifact, dict) and artifact.get("structured_content") is not None:
        return artifact["structured_content"]
    return content


def _content(content: Any) -> Any:
    """What the model is given of an MCP result: its text (JSON when it is JSON), or blocks."""
    if isinstance(content, str):
        return _maybe_json(content)
    parts = []
    for block in content or ():
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(_maybe_json(str(block.get("text", ""))))
        elif isinstance(block, dict):
            parts.append({k: v for k, v in block.items() if k != "id"})
        else:
            parts.append(str(block))
    return parts[0] if len(parts) == 1 else parts


def _maybe_json(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError:
            pass
    return text


# --- sessions ------------------------------------------------------------------------------


@asynccontextmanager
async def _session(project: Project, server: str) -> AsyncIterator[Any]:
    """An MCP client session to `server` (not initialised). Whatever fails in it, the transport
    or the body, comes out as `McpServerError` (one line; a stdio server's last stderr line)."""
    spec = project.crew.mcp_servers[server]
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
        try:
            if spec.url is not None:
                from langchain_mcp_adapters.sessions import create_session

                connection: Any = {"transport": "streamable_http", "url": spec.url}
                async with create_session(connection) as session:
                    yield session
            else:
                from mcp import ClientSession, StdioServerParameters
                from mcp.client.stdio import stdio_client

                assert spec.command is not None
                parameters = StdioServerParameters(
                    command=spec.command, args=list(spec.args), env=spec.env, cwd=str(project.root)
                )
                async with (
                    stdio_client(parameters, errlog=stderr) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    yield session
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt | SystemExit | asyncio.CancelledError):
                raise
            if isinstance(_leaf(error), McpServerError):
                raise _leaf(error) from None
            raise McpServerError(_with_stderr(_error_text(error), stderr)) from None


def _with_stderr(text: str, stderr: IO[str]) -> str:
    """`text`, and the last line the server wrote on its stderr (often why it failed)."""
    try:
        stderr.flush()
        stderr.seek(0)
        lines = [line.strip() for line in stderr.read().splitlines() if line.strip()]
    except (OSError, ValueError):
        return text
    return f"{text} (its stderr: {_short(lines[-1], 200)})" if lines else text


def _run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to its end from sync code: here (no loop runs in this thread, e.g. the
    tool's own thread), or in a thread of its own when this thread runs an event loop."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="crew-mcp") as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def _require() -> None:
    try:
        import langchain_mcp_adapters  # noqa: F401
        import mcp  # noqa: F401
    except ImportError:
        raise ConfigError(
            "MCP tools need langchain-mcp-adapters and mcp, which are not installed",
            hint='Install them: pip install "crew[mcp]".',
        ) from None


def _leaf(error: BaseException) -> BaseException:
    """The first error inside (nested) exception groups: what actually went wrong."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _error_text(error: BaseException) -> str:
    error = _leaf(error)
    text = " ".join(str(error).split())
    name = type(error).__name__
    return f"{name}: {_short(text)}" if text else name


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
