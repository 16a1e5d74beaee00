"""Step order as DESIGN §2.3 defines it: needs, the implicit previous step, route targets."""

from __future__ import annotations

from pathlib import Path

from crew.spec import flow
from crew.spec.loader import load_project
from crew.spec.models import PlaybookSpec

REPO = Path(__file__).resolve().parents[1]


def test_the_launch_brief_order() -> None:
    playbook = load_project(REPO).playbook("launch-brief")

    assert flow.needs(playbook) == {
        "research": (),
        "draft": ("research",),
        "triage": ("draft",),
        "legal_review": (),  # a route target does not follow the step listed before it
        "publish": ("legal_review",),
    }
    assert flow.routes_into(playbook) == {"legal_review": ("triage",), "publish": ("triage",)}
    assert flow.ancestors(playbook, "legal_review") == {"triage", "draft", "research"}
    assert flow.ancestors(playbook, "research") == set()
    assert flow.cycles(playbook) == []


def test_cycles_are_told_in_run_order() -> None:
    playbook = PlaybookSpec.model_validate(
        {
            "name": "p",
            "steps": [
                {"id": "a", "role": "r", "task": "t", "needs": ["c"]},
                {"id": "b", "role": "r", "task": "t"},
                {"id": "c", "role": "r", "task": "t"},
                {"id": "d", "role": "r", "task": "t", "needs": []},
            ],
        }
    )

    assert flow.cycles(playbook) == [["a", "b", "c", "a"]]
