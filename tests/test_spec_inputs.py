"""A run's inputs against the playbook's declared inputs (what `crew run -i` relies on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crew.exceptions import ConfigError
from crew.spec.inputs import check_inputs
from crew.spec.loader import load_project
from crew.spec.models import PlaybookSpec

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def launch_brief() -> PlaybookSpec:
    return load_project(REPO).playbook("launch-brief")


def _playbook(inputs: dict[str, object]) -> PlaybookSpec:
    return PlaybookSpec.model_validate(
        {"name": "p", "inputs": inputs, "steps": [{"id": "a", "role": "r", "task": "t"}]}
    )


def test_defaults_are_applied(launch_brief: PlaybookSpec) -> None:
    assert check_inputs(launch_brief, {"product": "Widget"}) == {
        "product": "Widget",
        "markets": ["US"],
    }


def test_given_values_win_over_defaults(launch_brief: PlaybookSpec) -> None:
    given = {"product": "Widget", "markets": ["US", "EU"]}

    assert check_inputs(launch_brief, given) == given


def test_a_missing_required_input_is_named(launch_brief: PlaybookSpec) -> None:
    with pytest.raises(ConfigError, match="missing input 'product' \\(a string\\)") as info:
        check_inputs(launch_brief, {})
    assert "-i product=" in info.value.hint


def test_an_unknown_input_lists_the_declared_ones(launch_brief: PlaybookSpec) -> None:
    with pytest.raises(ConfigError, match="unknown input 'produt'") as info:
        check_inputs(launch_brief, {"produt": "Widget"})
    assert info.value.hint == "Did you mean 'product'? Inputs: markets, product"


def test_a_wrong_type_names_the_input_and_the_expected_type(launch_brief: PlaybookSpec) -> None:
    with pytest.raises(ConfigError, match="input 'markets' must be a list of strings, not 'US'"):
        check_inputs(launch_brief, {"product": "Widget", "markets": "US"})


def test_list_items_are_checked(launch_brief: PlaybookSpec) -> None:
    with pytest.raises(ConfigError, match=r"input 'markets'\[1\] must be a string, not a list"):
        check_inputs(launch_brief, {"product": "Widget", "markets": ["US", ["x"]]})


def test_numbers_given_for_a_string_are_taken_as_text(launch_brief: PlaybookSpec) -> None:
    assert check_inputs(launch_brief, {"product": 2.0})["product"] == "2.0"


def test_enum_bounds_and_integer_inputs() -> None:
    playbook = _playbook(
        {
            "level": {"type": "string", "enum": ["low", "high"]},
            "count": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2},
            "strict": {"type": "boolean", "required": False},
        }
    )

    assert check_inputs(playbook, {"level": "low"}) == {"level": "low", "count": 2, "strict": None}
    with pytest.raises(ConfigError, match="input 'level' must be one of low, high, not 'mid'"):
        check_inputs(playbook, {"level": "mid"})
    with pytest.raises(ConfigError, match="input 'count' must be at most 5, not 9"):
        check_inputs(playbook, {"level": "low", "count": 9})
    with pytest.raises(ConfigError, match="input 'count' must be an integer"):
        check_inputs(playbook, {"level": "low", "count": 1.5})
    with pytest.raises(ConfigError, match="input 'strict' must be true or false"):
        check_inputs(playbook, {"level": "low", "strict": "yes"})


def test_defaults_are_not_shared_between_runs(launch_brief: PlaybookSpec) -> None:
    first = check_inputs(launch_brief, {"product": "A"})
    first["markets"].append("EU")

    assert check_inputs(launch_brief, {"product": "B"})["markets"] == ["US"]
