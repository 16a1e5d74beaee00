"""`approve_when` expressions: what they allow, what they refuse, and how calls match."""

from __future__ import annotations

import pytest

from crew.spec.expressions import ExpressionError, matches, parse


@pytest.mark.parametrize(
    ("expression", "arguments", "expected"),
    [
        ("amount > 100", {"amount": 250}, True),
        ("amount > 100", {"amount": 100}, False),
        ("amount >= 100 and currency == 'EUR'", {"amount": 100, "currency": "EUR"}, True),
        ("amount >= 100 and currency == 'EUR'", {"amount": 100, "currency": "USD"}, False),
        ("country in ['DE', 'FR'] or vip", {"country": "US", "vip": True}, True),
        ("country not in ('DE', 'FR')", {"country": "DE"}, False),
        ("not dry_run", {"dry_run": False}, True),
        ("0 < amount <= 50", {"amount": 20}, True),
        ("amount > -5", {"amount": -1}, True),
        ("note == None", {}, True),
        ("'urgent' in subject", {"subject": "urgent: refund"}, True),
    ],
)
def test_a_call_matches_by_its_arguments(
    expression: str, arguments: dict[str, object], expected: bool
) -> None:
    assert matches(expression, arguments) is expected


def test_arguments_of_the_wrong_type_need_approval_rather_than_crash() -> None:
    assert matches("amount > 100", {"amount": "a lot"}) is True
    assert matches("amount > 100", {}) is True  # missing: None > 100 cannot be decided


def test_the_names_an_expression_reads_are_known() -> None:
    assert parse("amount > 100 and not vip and x == True").names == {"amount", "vip", "x"}


@pytest.mark.parametrize(
    ("expression", "refusal"),
    [
        ("len(order) > 3", "calls are not allowed"),
        ("__import__('os').system('true')", "calls are not allowed"),
        ("order.upper() == 'A'", "calls are not allowed"),
        ("order.id == 1", "attributes are not allowed"),
        ("items[0] == 1", "subscripts are not allowed"),
        ("(lambda: 1) == 1", "lambdas are not allowed"),
        ("[x for x in items] == []", "comprehensions are not allowed"),
        ("any(x for x in items)", "calls are not allowed"),
        ("__class__ == 1", "names starting with _"),
        ("_secret", "names starting with _"),
        ("amount * 2 > 100", "arithmetic operators are not allowed"),
        ("a if b else c", "conditional expressions are not allowed"),
        ("{'a': 1} == x", "dicts are not allowed"),
        ("f'{x}' == 'a'", "f-strings are not allowed"),
        ("(x := 1)", "assignments are not allowed"),
        ("~amount", "only `not` and a negative number"),
        ("amount >", "invalid syntax"),
        ("amount = 1", "invalid syntax"),
        ("", "empty"),
        ("b'bytes' == x", "literal b'bytes' is not allowed"),
    ],
)
def test_anything_but_comparisons_and_logic_is_refused(expression: str, refusal: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(expression)
    assert refusal in caught.value.message


def test_matches_never_runs_a_refused_expression() -> None:
    with pytest.raises(ExpressionError):
        matches("__import__('os').getcwd() == ''", {})
