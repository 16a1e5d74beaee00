"""MCP tools (DESIGN §7) end to end: a FastMCP server this test writes, started by crew over stdio
(`sys.executable`), called from a run driven by the scripted model; `crew tools --check`; and the
faults (a missing server command, a server that crashes mid-call or is slow, a tool the server
does not offer)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.cli import CliResult
from support.tools_project import answer, tools_project

from crew.engine.runtime import Session, start_run
from crew.exceptions import ConfigError
from crew.spec.loader import load_project
from crew.spec.project import Project
from crew.testing import ScriptedModel, tool_calls, tool_results

SERVER = '''\
"""The docs server: what an MCP server of a team's might offer."""

import os
import sys
import time

from mcp.server.fastmcp import FastMCP

server = FastMCP("docs", log_level="WARNING")


@server.tool()
def search(query: str, limit: int = 2) -> dict:
    """Search the refund policy."""
    return {"query": query, "hits": [f"{query} #{i}" for i in range(limit)]}


@server.tool()
def crash() -> str:
    """Stop the server in the middle of the call."""
    os._exit(3)


@server.tool()
def nap(seconds: float) -> str:
    """Take a while."""
    time.sleep(seconds)
    return "rested"


if sys.argv[1:2] == ["--port"]:  # streamable HTTP on 127.0.0.1:PORT/mcp
    server.settings.port = int(sys.argv[2])
    server.run("streamable-http")
else:
    server.run()
'''

MCP_TOOLS = {
    "search_docs": {"mcp": "docs", "tool": "search", "idempotent": True},
    "crash": {"mcp": "docs"},
    "nap": {"mcp": "docs", "timeout": "1s"},
}


def mcp_project(
    root: Path,
    tools: dict[str, Any] | None = None,
    servers: dict[str, Any] | None = None,
) -> Project:
    """The clerk's project (tests/support/tools_project.py), its role given MCP tools only."""
    registry = tools if tools is not None else MCP_TOOLS
    tools_project(root)
    (root / "mcp").mkdir(exist_ok=True)
    (root / "mcp" / "docs_server.py").write_text(SERVER)
    team = yaml.safe_load((root / "crew.yaml").read_text())
    team["tools"] = registry
    team["mcp_servers"] = servers or {
        "docs": {"command": sys.executable, "args": ["mcp/docs_server.py"]}
    }
    (root / "crew.yaml").write_text(yaml.safe_dump(team, sort_keys=False))
    clerk = yaml.safe_load((root / "agents" / "clerk.yaml").read_text())
    clerk["tools"] = list(registry)
    (root / "agents" / "clerk.yaml").write_text(yaml.safe_dump(clerk, sort_keys=False))
    return load_project(root)


def run(project: Project, model: ScriptedModel) -> Any:
    session = Session.open(project, person="alice")
    try:
        return start_run(session, project.playbook("refund"), {"order": "A1"}, responder=model)
    finally:
        session.close()


def test_a_role_calls_an_mcp_tool_and_its_faults_go_back_to_the_model(
    project_dir: Path,
) -> None:
    project = mcp_project(project_dir)
    model = ScriptedModel(
        {
            "settle": [
                tool_calls(("crash", {}), ("nap", {"seconds": 30})),
                tool_calls(("search_docs", {"query": 3}), ("search_docs", {"query": "refund"})),
                lambda call: answer(json.dumps(tool_results(call))),
            ]
        }
    )

    report = run(project, model)

    assert report.status == "done", report.reason
    # the model is given the server's own description and input schema
    offered = {d["function"]["name"]: d["function"] for d in model.calls[0].tools or ()}
    assert offered["search_docs"]["description"] == "Search the refund policy."
    assert offered["search_docs"]["parameters"]["required"] == ["query"]
    crashed, slow = tool_results(model.calls[1])
    assert crashed.startswith("Error: McpCallError: MCP server 'docs' failed during the call")
    assert slow == "Error: TimeoutError: nap did not return within 1s"
    # arguments that do not fit the server's schema never reach it
    unfit, found = tool_results(model.calls[2])[-2:]
    assert unfit == "Error: invalid arguments for search_docs: query: 3 is not of type 'string'"
    # a crashed server costs only its call: the next one starts afresh
    assert json.loads(found) == {"query": "refund", "hits": ["refund #0", "refund #1"]}


@pytest.fixture
def http_server(project_dir: Path) -> Iterator[str]:
    """The docs server over streamable HTTP, started by the test: its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = project_dir / "http_docs_server.py"
    script.write_text(SERVER)
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port)], stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:  # until it accepts connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait()


def test_a_tool_of_a_streamable_http_server(
    project_dir: Path, http_server: str, crew_cli: Callable[..., CliResult]
) -> None:
    project = mcp_project(
        project_dir,
        tools={"search_docs": MCP_TOOLS["search_docs"]},
        servers={"docs": {"url": http_server}},
    )
    model = ScriptedModel(
        {
            "settle": [
                tool_calls(("search_docs", {"query": "fees", "limit": 1})),
                lambda call: answer(tool_results(call)[0]),
            ]
        }
    )

    report = run(project, model)

    assert report.status == "done", report.reason
    assert json.loads(report.outputs["settle"]["answer"]) == {"query": "fees", "hits": ["fees #0"]}
    # every server offers its tools: --check passes
    checked = crew_cli("tools", "--check", "--json")
    assert checked.code == 0, checked.err
    assert json.loads(checked.out)["servers"][0] | {"tools": []} == {
        "name": "docs",
        "transport": f"http: {http_server}",
        "ok": True,
        "error": None,
        "tools": [],
        "lacks": [],
    }


def test_a_tool_the_server_does_not_offer_is_a_one_line_config_error(project_dir: Path) -> None:
    project = mcp_project(project_dir, tools={"lookup": {"mcp": "docs", "tool": "find"}})

    with pytest.raises(ConfigError) as raised:
        run(project, ScriptedModel({"settle": [answer()]}))

    assert str(raised.value).startswith(
        "MCP server 'docs' has no tool 'find' (it offers: search, crash, nap)."
    )


def test_a_server_whose_command_is_missing_is_a_one_line_config_error(project_dir: Path) -> None:
    project = mcp_project(
        project_dir,
        tools={"search_docs": MCP_TOOLS["search_docs"]},
        servers={"docs": {"command": str(project_dir / "no-such-server")}},
    )

    with pytest.raises(ConfigError) as raised:
        run(project, ScriptedModel({"settle": [answer()]}))

    message = str(raised.value)
    assert message.startswith("MCP server 'docs' could not be started: FileNotFoundError")
    assert "\n" not in message


def test_tools_check_reports_what_each_server_offers_and_lacks(
    project_dir: Path, crew_cli: Callable[..., CliResult]
) -> None:
    mcp_project(
        project_dir,
        tools={**MCP_TOOLS, "ghost": {"mcp": "docs"}, "wiki": {"mcp": "wiki"}},
        servers={
            "docs": {"command": sys.executable, "args": ["mcp/docs_server.py"]},
            "wiki": {"command": sys.executable, "args": ["mcp/wiki_server.py"]},  # fails
        },
    )
    (project_dir / "mcp" / "wiki_server.py").write_text("raise SystemExit('no wiki token')\n")

    result = crew_cli("tools", "--check")

    assert result.code == 1, result.err
    assert "Traceback" not in result.out + result.err
    lines = result.out.splitlines()
    assert lines[0] == f"docs  (stdio: {sys.executable} mcp/docs_server.py): 3 tools"
    assert lines[1:3] == [
        "  search  Search the refund policy.",
        "    arguments: query: string, limit: integer?",
    ]
    assert "  lacks: ghost, named in crew.yaml `tools:`" in lines
    (wiki,) = [text for text in lines if text.startswith("wiki")]
    assert wiki.endswith(
        "could not be started: McpError: Connection closed (its stderr: no wiki token)"
    )

    data = json.loads(crew_cli("tools", "--check", "--json").out)
    assert data["ok"] is False
    docs, wiki_server = data["servers"]
    assert [t["name"] for t in docs["tools"]] == ["search", "crash", "nap"]
    assert docs["lacks"] == [{"tool": "ghost", "mcp_tool": "ghost"}]
    assert wiki_server["ok"] is False and "no wiki token" in wiki_server["error"]
    tools = {tool["name"]: tool for tool in data["tools"]}
    assert tools["search_docs"]["description"] == "Search the refund policy."
    assert tools["search_docs"]["arguments"]["required"] == ["query"]
    assert tools["ghost"]["arguments"] is None


def test_without_the_mcp_extra_the_error_says_what_to_install(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = mcp_project(project_dir, tools={"search_docs": MCP_TOOLS["search_docs"]})
    monkeypatch.setitem(sys.modules, "langchain_mcp_adapters", None)  # not installed

    with pytest.raises(ConfigError) as raised:
        run(project, ScriptedModel({"settle": [answer()]}))

    assert str(raised.value) == (
        "MCP tools need langchain-mcp-adapters and mcp, which are not installed. "
        'Install them: pip install "crew[mcp]".'
    )
