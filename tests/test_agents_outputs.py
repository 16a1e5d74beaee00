"""Output schema and validation: what the model is held to; messages name the field path."""

from __future__ import annotations

import math
from typing import Any

import pytest

from crew.agents.outputs import InvalidOutput, output_schema, validate_output
from crew.spec.models import RoleSpec

ROLE = RoleSpec.model_validate(
    {
        "name": "researcher",
        "title": "Market Researcher",
        "goal": "Find and weigh evidence.",
        "owner": "alice",
        "output": {
            "summary": {"type": "string"},
            "risks": {"type": "array", "items": {"type": "string"}},
            "severity": {"type": "string", "enum": ["low", "medium", "high"]},
            "score": {"type": "number", "minimum": 0, "maximum": 10},
            "sources": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"url": {"type": "string"}, "year": {"type": "integer"}},
                },
            },
            "region": {"type": "string", "required": False, "default": "US"},
            "urgent": {"type": "boolean", "required": False},
        },
    }
)

GOOD: dict[str, Any] = {
    "summary": "Strong demand",
    "risks": ["supply"],
    "severity": "low",
    "score": 7.5,
    "sources": [{"url": "https://a.example", "year": 2026}],
    "region": "EU",
    "urgent": False,
    "confidence": 0.9,
    "rationale": "two sources agree",
}


def problems(answer: Any) -> list[str]:
    with pytest.raises(InvalidOutput) as caught:
        validate_output(ROLE, answer)
    return caught.value.problems


def test_a_valid_answer_passes_in_field_order() -> None:
    output = validate_output(ROLE, {"extra": 1, **GOOD})

    assert output == GOOD
    assert list(output) == list(GOOD)


def test_json_text_is_accepted_and_optional_fields_take_defaults() -> None:
    text = (
        '```json\n{"summary": "s", "risks": [], "severity": "high", "score": 3, "sources": [],'
        ' "region": null, "confidence": 1, "rationale": "r"}\n```'
    )

    output = validate_output(ROLE, text)

    assert output["region"] == "US"
    assert output["urgent"] is None
    assert output["confidence"] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity": "extreme"}, "severity: 'extreme' is not one of low, medium, high"),
        ({"score": 11}, "score: 11 is above the maximum 10"),
        ({"score": "7"}, "score: expected a number, got a string '7'"),
        ({"score": True}, "score: expected a number, got true"),
        ({"risks": ["a", 3]}, "risks[1]: expected a string, got the number 3"),
        ({"risks": "supply"}, "risks: expected an array, got a string 'supply'"),
        (
            {"sources": [{"url": "u", "year": 2026.5}]},
            "sources[0].year: expected an integer, got the number 2026.5",
        ),
        ({"sources": [{"year": 2026}]}, "sources[0].url: is missing (required string)"),
        ({"sources": [None]}, "sources[0]: is null (expected an object)"),
        ({"summary": None}, "summary: is null (required string)"),
        ({"confidence": 1.7}, "confidence: 1.7 is above the maximum 1"),
        ({"confidence": -0.1}, "confidence: -0.1 is below the minimum 0"),
        ({"confidence": math.inf}, "confidence: inf is not a finite number"),
        ({"confidence": math.nan}, "confidence: nan is not a finite number"),
        ({"rationale": 5}, "rationale: expected a string, got the number 5"),
        ({"urgent": "yes"}, "urgent: expected a boolean, got a string 'yes'"),
    ],
)
def test_each_problem_names_the_field_path(change: dict[str, Any], message: str) -> None:
    assert problems({**GOOD, **change}) == [message]


def test_infinity_in_json_text_is_caught() -> None:
    assert "confidence: inf is not a finite number" in problems(
        '{"summary": "s", "risks": [], "severity": "low", "score": 1, "sources": [],'
        ' "confidence": Infinity, "rationale": "r"}'
    )


def test_whole_number_floats_count_as_integers() -> None:
    output = validate_output(ROLE, {**GOOD, "sources": [{"url": "u", "year": 2026.0}]})

    assert output["sources"][0]["year"] == 2026
    assert isinstance(output["sources"][0]["year"], int)


def test_not_an_object_and_not_json() -> None:
    assert problems([1, 2]) == ["the answer: expected a JSON object, got an array"]
    (message,) = problems("{oops")
    assert message.startswith("the answer is not valid JSON (Expecting property name")


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"summary": "s"})

    assert found == [
        "risks: is missing (required array)",
        "severity: is missing (required string)",
        "score: is missing (required number)",
        "sources: is missing (required array)",
        "confidence: is missing (required number)",
        "rationale: is missing (required string)",
    ]


def test_the_schema_is_strict_mode_compatible() -> None:
    schema = output_schema(ROLE)

    assert schema["title"] == "researcher"
    assert schema["additionalProperties"] is False
    assert schema["required"] == list(schema["properties"])
    assert schema["properties"]["confidence"]["minimum"] == 0
    assert schema["properties"]["confidence"]["maximum"] == 1
    assert schema["properties"]["rationale"]["type"] == "string"
    assert schema["properties"]["region"]["type"] == ["string", "null"]
    assert schema["properties"]["severity"]["enum"] == ["low", "medium", "high"]
    source = schema["properties"]["sources"]["items"]
    assert source["additionalProperties"] is False
    assert source["required"] == ["url", "year"]


def test_author_fields_named_like_crews_fields_do_not_duplicate_them() -> None:
    role = ROLE.model_copy(update={"output": {"confidence": ROLE.output["summary"]}})

    schema = output_schema(role)

    assert schema["required"] == ["confidence", "rationale"]
    assert schema["properties"]["confidence"]["type"] == "number"
