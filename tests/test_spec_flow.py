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


def test_a_route_may_select_its_cases_and_its_default_each_once() -> None:
    playbook = PlaybookSpec.model_validate(
        {
            "name": "p",
            "steps": [
                {
                    "id": "a",
                    "role": "r",
                    "task": "t",
                    "route": {"field": "f", "cases": {"x": "b", "y": "b"}, "default": "c"},
                },
                {"id": "b", "role": "r", "task": "t"},
                {"id": "c", "role": "r", "task": "t"},
            ],
        }
    )

    assert flow.route_targets(playbook.step("a")) == ("b", "c")
    assert flow.route_targets(playbook.step("b")) == ()


def test_an_edit_replaces_the_first_shown_step_else_the_step_before() -> None:
    playbook = PlaybookSpec.model_validate(
        {
            "name": "p",
            "steps": [
                {"id": "first", "checkpoint": {"owner": "o", "question": "q"}},
                {"id": "a", "role": "r", "task": "t"},
                {"id": "b", "role": "r", "task": "t"},
                {"id": "shows", "checkpoint": {"owner": "o", "question": "q", "show": ["a", "b"]}},
                {"id": "before", "checkpoint": {"owner": "o", "question": "q"}},
            ],
        }
    )

    assert flow.edited_step(playbook, "shows") == "a"
    assert flow.edited_step(playbook, "before") == "shows"
    assert flow.edited_step(playbook, "first") is None
    assert flow.edited_step(playbook, "a") is None  # not a checkpoint
    assert flow.edited_step(playbook, "gone") is None
