"""The documented confidence scores: self-report, consistency across samples, a judge's verdict."""

from __future__ import annotations

from crew.agents.confidence import consistency, judged, self_report
from crew.spec.models import FieldSpec

FIELDS = {
    "summary": FieldSpec.model_validate({"type": "string"}),
    "severity": FieldSpec.model_validate({"type": "string", "enum": ["low", "medium", "high"]}),
    "score": FieldSpec.model_validate({"type": "number", "minimum": 0, "maximum": 10}),
    "urgent": FieldSpec.model_validate({"type": "boolean"}),
}


def _sample(severity: str, score: float, urgent: bool, summary: str = "x") -> dict[str, object]:
    return {"summary": summary, "severity": severity, "score": score, "urgent": urgent,
            "confidence": 0.9, "rationale": "r"}


def test_self_report_is_the_models_own_number_clamped() -> None:
    assert self_report({"confidence": 0.42}).score == 0.42
    assert self_report({"confidence": 7}).score == 1.0
    assert self_report({}).score == 0.0


def test_full_agreement_is_one() -> None:
    samples = [_sample("low", 3, False, "a"), _sample("low", 3.2, False, "b")]
    score, kept = consistency(samples, FIELDS)
    assert score.score == 1.0
    assert score.parts["fields"] == {"severity": 1.0, "score": 1.0, "urgent": 1.0}
    assert kept["summary"] == "a"  # free text is not compared


def test_partial_agreement_is_the_mean_share_agreeing_with_the_majority() -> None:
    samples = [_sample("low", 3, False), _sample("high", 3, True), _sample("low", 9, False)]
    score, kept = consistency(samples, FIELDS)
    # severity 2/3, score: median 3, tolerance 0.5 -> 2/3, urgent 2/3
    assert score.parts["fields"] == {"severity": 0.6667, "score": 0.6667, "urgent": 0.6667}
    assert score.score == 0.6667
    assert kept == samples[0]


def test_no_scalar_fields_falls_back_to_self_report() -> None:
    fields = {"summary": FIELDS["summary"]}
    score, _ = consistency([{"summary": "a", "confidence": 0.5}, {"summary": "b",
                            "confidence": 0.7}], fields)
    assert score.score == 0.6 and score.parts["fallback"] == "self_report"


def test_judge_score_and_reason_become_the_confidence() -> None:
    score = judged("reviewer", {"score": 0.35, "reason": "cites no sources"})
    assert score.to_dict() == {
        "method": "judge", "score": 0.35,
        "parts": {"judge": "reviewer", "reason": "cites no sources"},
    }
