"""A small project whose role calls tools: `clerk` looks orders up (read-only) and refunds them
(an effect: a line appended to `refunds.log`, approved by dan when the amount is over 100)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from crew.spec.loader import load_project
from crew.spec.project import Project

TOOLS = '''\
"""The clerk's tools."""

from __future__ import annotations

import time
from pathlib import Path

from crew import ToolCall

ORDERS = {"A1": {"customer": "Ann", "amount": 40}, "B2": {"customer": "Bo", "amount": 250}}


def lookup_order(order: str) -> dict:
    """Look an order up by its id."""
    if order not in ORDERS:
        raise KeyError(f"no order {order}")
    return ORDERS[order]


def refund(order: str, amount: float, call: ToolCall) -> dict:
    """Refund an order: appends a line to refunds.log."""
    with Path("refunds.log").open("a") as log:
        log.write(f"{call.call_id} {order} {amount} approved_by={call.approved_by}\\n")
    return {"refunded": amount, "order": order}


def charge(order: str) -> str:
    """Charge an order: appends a line to charges.log (and waits while a file `hold` exists)."""
    with Path("charges.log").open("a") as log:
        log.write(f"{order}\\n")
    while Path("hold").exists():
        time.sleep(0.05)
    return "charged"


def slow(seconds: float) -> str:
    """Sleep for a while."""
    time.sleep(seconds)
    return "slept"


def opaque() -> object:
    """Return something that is not JSON."""
    return object()
'''


def tools_project(
    root: Path,
    *,
    tools: dict[str, Any] | None = None,
    role: dict[str, Any] | None = None,
    profile: dict[str, Any] | None = None,
) -> Project:
    """Write the project into `root` (the current directory) and load it."""
    (root / "agents").mkdir(parents=True, exist_ok=True)
    (root / "playbooks").mkdir(exist_ok=True)
    (root / "shop").mkdir(exist_ok=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "tools.py").write_text(TOOLS)
    registry = {
        "lookup_order": {"python": "shop.tools:lookup_order", "idempotent": True},
        "refund": {
            "python": "shop.tools:refund",
            "approval": "dan",
            "approve_when": "amount > 100",
        },
        "charge": {"python": "shop.tools:charge"},
        "slow": {"python": "shop.tools:slow", "timeout": "1s"},
        "opaque": {"python": "shop.tools:opaque"},
        **(tools or {}),
    }
    team = {
        "name": "shop",
        "models": {"default": {"provider": "openai", "model": "test", **(profile or {})}},
        "people": {
            "alice": {"name": "Alice"},
            "dan": {"name": "Dan", "delegates": ["erin"]},
            "erin": {"name": "Erin"},
        },
        "tools": registry,
        "settings": {"sla": "4h"},
    }
    (root / "crew.yaml").write_text(yaml.safe_dump(team, sort_keys=False))
    clerk = {
        "name": "clerk",
        "title": "Support Clerk",
        "goal": "Settle customers' refund requests.",
        "model": "default",
        "owner": "alice",
        "output": {"answer": {"type": "string"}},
        "confidence": {"threshold": 0.5},
        "tools": list(registry),
        "max_tool_calls": 6,
        **(role or {}),
    }
    (root / "agents" / "clerk.yaml").write_text(yaml.safe_dump(clerk, sort_keys=False))
    playbook = {
        "name": "refund",
        "inputs": {"order": {"type": "string"}},
        "steps": [{"id": "settle", "role": "clerk", "task": "Settle order {{inputs.order}}."}],
    }
    (root / "playbooks" / "refund.yaml").write_text(yaml.safe_dump(playbook, sort_keys=False))
    return load_project(root)


def answer(text: str = "done") -> dict[str, Any]:
    return {"answer": text, "confidence": 0.9, "rationale": "r"}
