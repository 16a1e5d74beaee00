"""How sure is an output? The three confidence methods of a role (DESIGN §5).

- `self_report`: the model's own `confidence` field.
- `consistency`: the step is sampled N times; confidence is the mean agreement of the output's
  scalar fields (enum, boolean, number, integer). A field's agreement is the share of samples
  that agree with the most common value; numbers agree when they are within 5% of the field's
  declared range (`maximum - minimum`) of the samples' median, or within 5% of the median itself
  when no range is declared. Free-text fields, arrays and objects are not compared; when a role
  has no scalar field, the mean self-reported confidence is used instead. The output kept is the
  first sample that agrees with the most fields.
- `judge`: another role scores the output from 0 to 1 with a reason (its own output fields
  `score` and `reason`); confidence is that score.

Each method returns a `Confidence`: the score and its parts, which go on the card.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crew.spec.models import FieldSpec, FieldType

NUMBER_TOLERANCE = 0.05
JUDGE_OUTPUT: dict[str, dict[str, Any]] = {
    "score": {"type": "number", "minimum": 0, "maximum": 1,
              "description": "How good the output is for its task, from 0 (useless) to 1"},
    "reason": {"type": "string", "description": "Why this score, in one or two sentences"},
}


@dataclass(frozen=True)
class Confidence:
    method: str
    score: float
    parts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "score": self.score, "parts": self.parts}


def self_report(output: Mapping[str, Any]) -> Confidence:
    return Confidence("self_report", _clamp(output.get("confidence", 0.0)))


def consistency(
    samples: Sequence[Mapping[str, Any]], fields: Mapping[str, FieldSpec]
) -> tuple[Confidence, Mapping[str, Any]]:
    """Score agreement among `samples`; return it with the sample to keep as the output."""
    if not samples:
        raise ValueError("consistency needs at least one sample")
    scalar = {name: spec for name, spec in fields.items() if _is_scalar(spec)}
    if not scalar:
        mean = statistics.fmean(_clamp(s.get("confidence", 0.0)) for s in samples)
        parts = {"samples": len(samples), "fields": {}, "fallback": "self_report"}
        return Confidence("consistency", round(mean, 4), parts), samples[0]

    agreement: dict[str, float] = {}
    agrees: list[int] = [0] * len(samples)
    for name, spec in scalar.items():
        values = [s.get(name) for s in samples]
        matches = _agreeing(values, spec)
        agreement[name] = round(sum(matches) / len(samples), 4)
        for index, match in enumerate(matches):
            agrees[index] += int(match)
    score = round(statistics.fmean(agreement.values()), 4)
    best = max(range(len(samples)), key=lambda index: (agrees[index], -index))
    parts = {"samples": len(samples), "fields": agreement}
    return Confidence("consistency", score, parts), samples[best]


def judged(judge_role: str, verdict: Mapping[str, Any]) -> Confidence:
    """The judge role's verdict (`score`, `reason`) as the output's confidence."""
    score = _clamp(verdict.get("score", 0.0))
    parts = {"judge": judge_role, "reason": str(verdict.get("reason", ""))}
    return Confidence("judge", score, parts)


def judge_task(task: str, output: Mapping[str, Any]) -> str:
    """What the judge role is asked: the original task and the output to score."""
    import yaml

    shown = {k: v for k, v in output.items() if k not in ("confidence", "rationale")}
    return (
        "Score how well this output does its task, from 0 (useless or wrong) to 1 (complete "
        "and correct). Give the score and a short reason.\n\n"
        f"Task:\n{task}\n\nOutput:\n{yaml.safe_dump(shown, sort_keys=False, allow_unicode=True)}"
    )


def _agreeing(values: list[Any], spec: FieldSpec) -> list[bool]:
    if spec.type in (FieldType.NUMBER, FieldType.INTEGER) and not spec.enum:
        numbers = [v for v in values if _is_number(v)]
        if not numbers:
            return [False] * len(values)
        median = statistics.median(numbers)
        if spec.minimum is not None and spec.maximum is not None:
            tolerance = NUMBER_TOLERANCE * (spec.maximum - spec.minimum)
        else:
            tolerance = NUMBER_TOLERANCE * abs(median)
        return [_is_number(v) and abs(v - median) <= tolerance for v in values]
    counts = Counter(_hashable(v) for v in values)
    modal, _ = counts.most_common(1)[0]
    return [_hashable(v) == modal and v is not None for v in values]


def _is_scalar(spec: FieldSpec) -> bool:
    if spec.enum:
        return True
    return spec.type in (FieldType.BOOLEAN, FieldType.NUMBER, FieldType.INTEGER)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, list | dict) else value


def _clamp(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    if number != number:  # NaN
        return 0.0
    return max(0.0, min(1.0, number))
