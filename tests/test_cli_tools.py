"""`crew tools`: the registry as a model sees it; and `crew validate` on a tool's Python code."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult

CREW_YAML = """\
name: refunds
models:
  default: {model: gpt-4.1-mini}
people:
  dan: {name: Dan Ortiz}
tools:
  issue_refund:
    python: tools.billing:issue_refund
    approval: dan
    approve_when: "amount > 100"
    timeout: 2m
  search_docs:
    mcp: docs
    tool: search
mcp_servers:
  docs: {command: python, args: [mcp/docs_server.py]}
"""

ROLE_YAML = """\
name: clerk
title: Refund Clerk
goal: Refund orders that qualify.
owner: dan
output:
  done: {type: boolean}
tools: [issue_refund, search_docs]
"""

BILLING = '''\
"""Billing actions."""

from __future__ import annotations

import crew


def issue_refund(
    order: str, amount: float, reason: str = "", call: crew.ToolCall | None = None
) -> dict:
    """Refund part or all of an order.

    The amount is in the order's currency.
    """
    return {"order": order, "refunded": amount}
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "refunds"
    (root / "agents").mkdir(parents=True)
    (root / "tools").mkdir()
    (root / "crew.yaml").write_text(CREW_YAML)
    (root / "agents" / "clerk.yaml").write_text(ROLE_YAML)
    (root / "tools" / "__init__.py").write_text("")
    (root / "tools" / "billing.py").write_text(BILLING)
    return root


def test_tools_json_lists_the_registry_with_schemas_from_signatures(
    project: Path, crew_cli: Callable[..., CliResult]
) -> None:
    result = crew_cli("--project", str(project), "tools", "--json")

    assert result.code == 0, result.err
    tools = {tool["name"]: tool for tool in json.loads(result.out)["tools"]}
    refund = tools["issue_refund"]
    assert refund["source"] == "python: tools.billing:issue_refund"
    assert refund["description"] == "Refund part or all of an order."
    assert refund["approval"] == "dan"
    assert refund["approve_when"] == "amount > 100"
    assert refund["idempotent"] is False
    assert refund["timeout"] == 120
    assert refund["roles"] == ["clerk"]
    schema = refund["arguments"]
    # `call: crew.ToolCall` is crew's: the model never sees it.
    assert set(schema["properties"]) == {"order", "amount", "reason"}
    assert schema["properties"]["amount"]["type"] == "number"
    assert schema["required"] == ["order", "amount"]
    docs = tools["search_docs"]
    assert docs["source"] == "mcp: docs/search"
    assert docs["mcp_tool"] == "search"
    assert docs["arguments"] is None
    assert docs["approval"] == "none"
    assert docs["timeout"] == 30


def test_tools_prints_one_block_per_tool(project: Path, crew_cli: Callable[..., CliResult]) -> None:
    result = crew_cli("--project", str(project), "tools")

    assert result.code == 0, result.err
    assert result.out.splitlines()[:5] == [
        "issue_refund  (python: tools.billing:issue_refund)",
        "  Refund part or all of an order.",
        "  approval: dan when amount > 100 · idempotent: no · timeout: 2m",
        "  arguments: order: string, amount: number, reason: string?",
        "  roles: clerk",
    ]
    assert "search_docs  (mcp: docs/search)" in result.out
    assert "arguments: given by the MCP server" in result.out


def test_a_project_without_tools_says_how_to_add_them(
    tmp_path: Path, crew_cli: Callable[..., CliResult]
) -> None:
    (tmp_path / "crew.yaml").write_text("name: empty\n")

    result = crew_cli("--project", str(tmp_path), "tools")

    assert result.code == 0
    assert result.out.startswith("no tools: add them under `tools:` in crew.yaml")


def test_tools_refuses_a_broken_registry_like_validate(
    project: Path, crew_cli: Callable[..., CliResult]
) -> None:
    (project / "tools" / "billing.py").write_text(BILLING.replace("amount: float", "amount"))

    result = crew_cli("--project", str(project), "tools")

    assert result.code == 2
    assert "Traceback" not in result.err
    assert (
        "crew.yaml:8: tool 'issue_refund' (tools.billing:issue_refund): "
        "parameter(s) amount have no type hint" in result.err
    )


def test_validate_sees_the_tool_module_as_it_is_now(
    project: Path, crew_cli: Callable[..., CliResult]
) -> None:
    assert crew_cli("validate", str(project)).code == 0
    (project / "tools" / "billing.py").write_text("raise ImportError('no stripe key')  # now\n")
    # another project's `tools` package with the same module name, checked in between
    other = project.parent / "other"
    (other / "tools").mkdir(parents=True)
    (other / "crew.yaml").write_text(CREW_YAML.replace("refunds", "other"))
    (other / "tools" / "__init__.py").write_text("")
    (other / "tools" / "billing.py").write_text(BILLING)
    assert crew_cli("validate", str(other)).code == 0

    result = crew_cli("validate", str(project))

    assert result.code == 2
    assert (
        "crew.yaml:8: tool 'issue_refund': module 'tools.billing' cannot be imported: "
        "ImportError: no stripe key. Fix the module" in result.err
    )
