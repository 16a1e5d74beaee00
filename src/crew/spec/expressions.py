"""`approve_when` expressions (DESIGN §7): a small, safe language over a tool call's arguments.

What a caller may rely on:

- An expression is parsed with Python's `ast` (``mode="eval"``) and only these nodes are
  allowed: comparisons (``== != < <= > >= in not in``), ``and`` / ``or`` / ``not``, literals
  (numbers, strings, ``True`` / ``False`` / ``None``, lists and tuples of them), and argument
  names. Calls, attributes, subscripts, lambdas, comprehensions, arithmetic and names starting
  with ``_`` are refused by `parse` with `ExpressionError`. Nothing is ever passed to `eval`.
- `matches` evaluates a parsed expression against a call's arguments. An argument the call
  did not pass is ``None``. A comparison Python refuses (``"a" < 1``, ``None > 100``) is not an
  error: the call is treated as matching (`matches` returns True), so a malformed call waits
  for a person instead of slipping past approval.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Expression", "ExpressionError", "matches", "parse"]

MAX_LENGTH = 1000


class ExpressionError(ValueError):
    """The expression is not one crew evaluates; `offset` is where (0-based, in the text)."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}

_REFUSED = {
    ast.Call: "calls",
    ast.Attribute: "attributes",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambdas",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.BinOp: "arithmetic operators",
    ast.IfExp: "conditional expressions",
    ast.NamedExpr: "assignments",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.JoinedStr: "f-strings",
    ast.Starred: "starred values",
    ast.Await: "await expressions",
}

ALLOWED = "comparisons (== != < <= > >= in, not in), and/or/not, literals and argument names"


class Expression:
    """A checked expression: its text, its AST, and the argument names it reads."""

    def __init__(self, text: str, tree: ast.Expression) -> None:
        self.text = text
        self.tree = tree
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        self.names = frozenset(names - {"True", "False", "None"})

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def parse(text: str) -> Expression:
    """Check `text`; ExpressionError (with a message saying what is not allowed) if it is bad."""
    if not text.strip():
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        offset = max((exc.offset or 1) - 1, 0)
        detail = "" if exc.msg == "invalid syntax" else f" ({exc.msg})"
        raise ExpressionError(f"invalid syntax{detail}", offset) from None
    for node in ast.walk(tree):
        _check_node(node)
    return Expression(text, tree)


def _check_node(node: ast.AST) -> None:
    offset = getattr(node, "col_offset", 0)
    if isinstance(node, ast.Expression | ast.Load | ast.cmpop | ast.boolop):
        return
    if isinstance(node, ast.Compare | ast.BoolOp | ast.List | ast.Tuple):
        return
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not) or (
            isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
        ):
            return
        raise ExpressionError(
            "only `not` and a negative number are allowed as unary operators", offset
        )
    if isinstance(node, ast.unaryop):
        return
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, bool | int | float | str):
            return
        raise ExpressionError(f"literal {node.value!r} is not allowed", offset)
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise ExpressionError(
                f"name '{node.id}' is not allowed (names starting with _)", offset
            )
        return
    what = next((label for kind, label in _REFUSED.items() if isinstance(node, kind)), None)
    what = what or type(node).__name__
    raise ExpressionError(f"{what} are not allowed", offset)


def matches(expression: Expression | str, arguments: Mapping[str, Any]) -> bool:
    """Whether the call with these `arguments` matches (and so needs approval)."""
    parsed = parse(expression) if isinstance(expression, str) else expression
    try:
        return bool(_value(parsed.tree.body, arguments))
    except TypeError:
        return True  # arguments of the wrong type: let a person look rather than let it through


def _value(node: ast.expr, arguments: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ("True", "False", "None"):  # pragma: no cover - parsed as constants
            return {"True": True, "False": False, "None": None}[node.id]
        return arguments.get(node.id)
    if isinstance(node, ast.List | ast.Tuple):
        return [_value(item, arguments) for item in node.elts]
    if isinstance(node, ast.UnaryOp):
        operand = _value(node.operand, arguments)
        return (not operand) if isinstance(node.op, ast.Not) else -operand
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_value(v, arguments) for v in node.values)
        return any(_value(v, arguments) for v in node.values)
    if isinstance(node, ast.Compare):
        left = _value(node.left, arguments)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _value(comparator, arguments)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    raise ExpressionError(f"{type(node).__name__} is not allowed")  # parse refused it already
