"""Small integer expressions for block-type parameters (``width * expansion``).

A block type's member fields and conditions are written in a tiny language: integers,
``True``/``False``, parameter names, ``+ - * //``, comparisons, ``and``/``or``/``not``
and ``a if c else b``. Expressions are parsed with :mod:`ast` and checked node by node;
they are evaluated by walking that tree here (never ``eval``) and written back into
generated code by :func:`to_code`, so text from a file can only ever be one of these.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import operator
from typing import Any

from engine.core.errors import EngineError

#: Names a parameter may not take (they mean something in the generated code).
RESERVED_PARAMS = frozenset({"self", "torch", "nn", "x", "out", "in_channels", "None"})
MAX_EXPR_CHARS = 200

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv}  # fmt: skip
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
           ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}  # fmt: skip


class ExprError(EngineError):
    """An expression that is not in the block-parameter language, or fails to evaluate."""


def check_param_name(name: Any) -> str:
    """``name`` if it can name a block-type parameter.

    Raises
    ------
    ExprError
        If it is not a plain identifier or is reserved.
    """
    if (
        not isinstance(name, str)
        or not name.isidentifier()
        or not name.isascii()
        or keyword.iskeyword(name)
        or name.startswith("_")
        or name in RESERVED_PARAMS
        or hasattr(builtins, name)  # ``super``, ``getattr``: the generated class uses them
    ):
        raise ExprError(f"{name!r:.40} cannot name a block parameter (use letters, digits, _)")
    return name


def parse(text: str, names: set[str] | frozenset[str]) -> ast.expr:
    """Parse and check ``text``, which may use ``names``.

    Raises
    ------
    ExprError
        Naming what is not allowed.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_EXPR_CHARS:
        raise ExprError(f"an expression must be short text, got {text!r:.40}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ExprError(f"cannot read the expression {text!r:.60}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ExprError(f"unknown name '{node.id}' in {text!r:.60}")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, bool)):
                raise ExprError(f"only whole numbers are allowed in {text!r:.60}")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise ExprError(f"only + - * // are allowed in {text!r:.60}")
        elif isinstance(node, ast.Compare):
            if any(type(op) not in _CMPOPS for op in node.ops):
                raise ExprError(f"unsupported comparison in {text!r:.60}")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.Not, ast.USub)):
                raise ExprError(f"unsupported operator in {text!r:.60}")
        elif not isinstance(
            node,
            (ast.BoolOp, ast.And, ast.Or, ast.IfExp, ast.Load, ast.cmpop, ast.operator,
             ast.unaryop),
        ):  # fmt: skip
            raise ExprError(f"{type(node).__name__} is not allowed in {text!r:.60}")
    return tree


def evaluate(tree: ast.expr, env: dict[str, Any]) -> Any:
    """The value of a checked expression tree with ``env`` giving the names."""
    if isinstance(tree, ast.Constant):
        return tree.value
    if isinstance(tree, ast.Name):
        return env[tree.id]
    if isinstance(tree, ast.BinOp):
        left, right = evaluate(tree.left, env), evaluate(tree.right, env)
        if isinstance(tree.op, ast.FloorDiv) and right == 0:
            raise ExprError("division by zero in a block parameter")
        return _BINOPS[type(tree.op)](left, right)
    if isinstance(tree, ast.UnaryOp):
        v = evaluate(tree.operand, env)
        return (not v) if isinstance(tree.op, ast.Not) else -v
    if isinstance(tree, ast.BoolOp):
        values = [evaluate(v, env) for v in tree.values]
        return all(values) if isinstance(tree.op, ast.And) else any(values)
    if isinstance(tree, ast.Compare):
        left = evaluate(tree.left, env)
        for op, comp in zip(tree.ops, tree.comparators, strict=True):
            right = evaluate(comp, env)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(tree, ast.IfExp):
        return evaluate(tree.body if evaluate(tree.test, env) else tree.orelse, env)
    raise ExprError(f"cannot evaluate {type(tree).__name__}")  # pragma: no cover


def to_code(tree: ast.expr) -> str:
    """The checked expression as Python source (names are the constructor's arguments)."""
    return ast.unparse(tree)
