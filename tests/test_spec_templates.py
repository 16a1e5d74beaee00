"""Step templates: the names they use, and what they render to (no code ever runs)."""

from __future__ import annotations

import pytest

from crew.exceptions import ConfigError
from crew.spec.templates import TemplateSyntaxError, references, render


def test_references_lists_each_dotted_name_once_in_order() -> None:
    template = (
        "Brief {{inputs.product}} from {{ steps.research }} / {{steps.draft.brief}} "
        "{{item}} #{{index}} {{{feedback}}} {{& inputs.product}} {{! a comment }}"
    )

    assert references(template) == [
        "inputs.product",
        "steps.research",
        "steps.draft.brief",
        "item",
        "index",
        "feedback",
    ]


def test_render_fills_dotted_paths() -> None:
    context = {"inputs": {"product": "Widget"}, "steps": {"draft": {"brief": "Ship it."}}}

    assert render("{{inputs.product}}: {{steps.draft.brief}}", context) == "Widget: Ship it."


def test_missing_values_render_empty() -> None:
    assert (
        render("[{{steps.skipped.brief}}][{{feedback}}][{{inputs.x.y}}]", {"inputs": {}})
        == "[][][]"
    )


def test_mappings_and_lists_render_as_block_yaml() -> None:
    context = {
        "steps": {
            "research": [
                {"summary": "Strong demand", "risks": ["supply"]},
                {"summary": "Thin", "risks": []},
            ]
        }
    }

    assert render("{{steps.research}}", context) == (
        "- summary: Strong demand\n  risks:\n  - supply\n- summary: Thin\n  risks: []"
    )


def test_numbers_booleans_and_list_items() -> None:
    context = {"index": 0, "ok": True, "score": 7.5, "items": ["a", "b"]}

    assert render("{{index}} {{ok}} {{score}} {{items.1}}", context) == "0 true 7.5 b"


def test_nothing_is_html_escaped() -> None:
    context = {"x": "<b>&'\""}

    assert render("{{x}}|{{{x}}}|{{& x}}", context) == "<b>&'\"|<b>&'\"|<b>&'\""


def test_braces_that_are_not_tags_stay_text() -> None:
    assert render("a } b }} c { d", {}) == "a } b }} c { d"


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("Hello {{inputs.name", "never closed"),
        ("{{#items}}x{{/items}}", "sections are not supported"),
        ("{{> partial}}", "partials are not supported"),
        ("{{inputs..x}}", "not a valid reference"),
        ("{{}}", "not a valid reference"),
        ("{{steps.draft | upper}}", "not a valid reference"),
    ],
)
def test_malformed_templates_are_config_errors(template: str, says: str) -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        references(template)

    assert isinstance(info.value, ConfigError)
    assert says in str(info.value)
    assert info.value.offset == template.index("{{")
