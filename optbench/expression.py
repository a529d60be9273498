r"""Closed-form test functions written as text: ``"(1 - x1)**2 + 100*(x2 - x1**2)**2"``.

The text is parsed with Python's :mod:`ast` and checked against a whitelist — numbers, the
variables ``x1 … xD``, the constants ``pi`` and ``e``, ``+ - * / **``, unary ``-``/``+`` and
calls of the one-argument functions in :data:`FUNCTIONS` — so no code is ever run. The tree is
then compiled to a vectorized forward-mode evaluation: every node yields its value ``(T,)`` and
its gradient ``(T, D)`` (dual numbers with a D-dimensional tangent), by the chain rule

.. math::  \nabla (u v) = v \nabla u + u \nabla v, \qquad
           \nabla (u^c) = c\, u^{c-1} \nabla u, \qquad
           \nabla (u^v) = u^v \left(\ln u\, \nabla v + v \nabla u / u\right), \qquad
           \nabla \phi(u) = \phi'(u) \nabla u.

Constant sub-expressions carry no gradient array. Where a function is not differentiable
(``abs`` at 0, ``sqrt`` at 0) the gradient takes NumPy's value (``sign(0) = 0``, ``inf``).

This module imports NumPy (and the standard library's ``ast``) alone.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

import numpy as np

#: Longest expression accepted (a guard against pathological input to the parser).
MAX_LENGTH = 10_000

#: name -> (function, derivative) of the functions an expression may call.
FUNCTIONS: dict[str, tuple[Callable, Callable]] = {
    "sin": (np.sin, np.cos),
    "cos": (np.cos, lambda u: -np.sin(u)),
    "tan": (np.tan, lambda u: 1.0 + np.tan(u) ** 2),
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda u: 1.0 / u),
    "sqrt": (np.sqrt, lambda u: 0.5 / np.sqrt(u)),
    "abs": (np.abs, np.sign),
    "tanh": (np.tanh, lambda u: 1.0 - np.tanh(u) ** 2),
    "sinh": (np.sinh, np.cosh),
    "cosh": (np.cosh, np.sinh),
    "arctan": (np.arctan, lambda u: 1.0 / (1.0 + u * u)),
    "arcsin": (np.arcsin, lambda u: 1.0 / np.sqrt(1.0 - u * u)),
    "arccos": (np.arccos, lambda u: -1.0 / np.sqrt(1.0 - u * u)),
}

CONSTANTS = {"pi": np.pi, "e": np.e}

_VARIABLE = re.compile(r"^x([1-9][0-9]*)$")
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_NAMES_OF = {ast.BitXor: "^ (use ** for powers)", ast.FloorDiv: "//", ast.Mod: "%",
             ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<",
             ast.RShift: ">>", ast.Invert: "~", ast.Not: "not"}


class ExpressionError(ValueError):
    """An expression that optbench cannot read; the message points at the offending piece."""


# A compiled node maps x (T, D) to (value, gradient); a constant's value is a float and its
# gradient None (zero).
Node = Callable[[np.ndarray], "tuple[np.ndarray | float, np.ndarray | None]"]


def _fail(text: str, node: ast.AST | None, message: str):
    if node is None or not hasattr(node, "col_offset"):
        raise ExpressionError(f"expression {message}")
    start = node.col_offset
    end = getattr(node, "end_col_offset", None) or start + 1
    piece = text[start:end] if getattr(node, "end_lineno", 1) == 1 else text[start:start + 20]
    raise ExpressionError(f"expression {message}: {piece!r} at column {start + 1}")


class Expression:
    """A parsed, checked expression in ``x1 … xD``, with its forward-mode gradient.

    Args:
      text: the expression, e.g. ``"(1 - x1)**2 + 100*(x2 - x1**2)**2"``.
      dim: the number of coordinates ``D``; the expression may use ``x1 … xD``.

    Raises:
      ExpressionError: a syntax error or a piece outside the whitelist, with its column.
    """

    def __init__(self, text: str, dim: int):
        if not isinstance(text, str) or not text.strip():
            raise ExpressionError(f"expression must be a non-empty string, got {text!r}")
        if len(text) > MAX_LENGTH:
            raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters")
        self.dim = dim
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            col = f" at column {exc.offset}" if exc.offset else ""
            raise ExpressionError(f"expression is not valid syntax{col}: {exc.msg}") from None
        except (RecursionError, MemoryError, ValueError):
            raise ExpressionError("expression is nested too deeply") from None
        self._text = text.strip()
        try:
            self._root = self._compile(tree.body)
        except RecursionError:
            raise ExpressionError("expression is nested too deeply") from None

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``x (T, D) -> (f (T,), grad (T, D))``."""
        value, grad = self._root(x)
        T = x.shape[0]
        value = np.broadcast_to(np.asarray(value, dtype=np.float64), (T,)).copy()
        grad = np.zeros_like(x) if grad is None else np.broadcast_to(grad, x.shape).copy()
        return value, grad

    # -- compilation ---------------------------------------------------------------------------

    def _compile(self, node: ast.AST) -> Node:
        text = self._text
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                _fail(text, node, "may hold only numbers, not this constant")
            return _constant(float(node.value))
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return _negate(self._compile(node.operand))
            if isinstance(node.op, ast.UAdd):
                return self._compile(node.operand)
            _fail(text, node, f"may not use the operator {_NAMES_OF.get(type(node.op), '?')}")
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _OPERATORS:
                _fail(text, node, f"may not use the operator {_NAMES_OF.get(op, op.__name__)}")
            left, right = self._compile(node.left), self._compile(node.right)
            return _BINARY[op](left, right)
        if isinstance(node, ast.Call):
            return self._call(node)
        what = {ast.Compare: "comparisons", ast.BoolOp: "and/or", ast.Attribute: "attributes",
                ast.Subscript: "indexing", ast.Lambda: "lambda", ast.IfExp: "if/else",
                ast.Tuple: "tuples", ast.List: "lists"}.get(type(node), type(node).__name__)
        _fail(text, node, f"may not contain {what}")

    def _name(self, node: ast.Name) -> Node:
        name = node.id
        if name in CONSTANTS:
            return _constant(CONSTANTS[name])
        m = _VARIABLE.match(name)
        if m is None:
            hint = f"variables are x1..x{self.dim}, constants pi and e"
            _fail(self._text, node, f"uses unknown name {name!r} ({hint})")
        index = int(m[1])
        if index > self.dim:
            _fail(self._text, node,
                  f"uses {name} but the function has {self.dim} coordinate"
                  f"{'s' if self.dim != 1 else ''} (x1..x{self.dim})")
        return _variable(index - 1)

    def _call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name):
            self._compile(node.func)  # reports the attribute, call, ... that names the function
            _fail(self._text, node.func, "may call only functions named directly")
        if node.func.id not in FUNCTIONS:
            _fail(self._text, node.func,
                  f"calls unknown function {node.func.id!r} (known: {', '.join(FUNCTIONS)})")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            _fail(self._text, node, f"calls {node.func.id} with other than one argument")
        fn, derivative = FUNCTIONS[node.func.id]
        return _apply(fn, derivative, self._compile(node.args[0]))


def _constant(c: float) -> Node:
    return lambda x: (c, None)


def _variable(i: int) -> Node:
    def node(x):
        g = np.zeros_like(x)
        g[:, i] = 1.0
        return x[:, i], g

    return node


def _scale(grad, factor):
    """``factor (T,) * grad (T, D)``; None stays None."""
    if grad is None:
        return None
    return grad * (factor[:, None] if np.ndim(factor) else factor)


def _add_grads(a, b, sign=1.0):
    if b is None:
        return a
    if a is None:
        return b if sign == 1.0 else -b
    return a + b if sign == 1.0 else a - b


def _negate(u: Node) -> Node:
    def node(x):
        v, g = u(x)
        return -v, None if g is None else -g

    return node


def _add(u: Node, w: Node) -> Node:
    def node(x):
        (a, ga), (b, gb) = u(x), w(x)
        return a + b, _add_grads(ga, gb)

    return node


def _sub(u: Node, w: Node) -> Node:
    def node(x):
        (a, ga), (b, gb) = u(x), w(x)
        return a - b, _add_grads(ga, gb, -1.0)

    return node


def _mul(u: Node, w: Node) -> Node:
    def node(x):
        (a, ga), (b, gb) = u(x), w(x)
        return a * b, _add_grads(_scale(ga, b), _scale(gb, a))

    return node


def _div(u: Node, w: Node) -> Node:
    def node(x):
        (a, ga), (b, gb) = u(x), w(x)
        q = a / b
        # d(a/b) = (da - q db) / b
        return q, _scale(_add_grads(ga, _scale(gb, q), -1.0), 1.0 / b)

    return node


def _pow(u: Node, w: Node) -> Node:
    def node(x):
        (a, ga), (b, gb) = u(x), w(x)
        p = np.power(a, b)
        if gb is None:  # constant exponent: no log of a negative base
            if ga is None:
                return p, None
            if b == 0:
                return p, np.zeros_like(ga)
            return p, _scale(ga, b * np.power(a, b - 1.0))
        grad = _scale(gb, p * np.log(a))
        if ga is not None:
            grad = _add_grads(grad, _scale(ga, b * np.power(a, b - 1.0)))
        return p, grad

    return node


def _apply(fn: Callable, derivative: Callable, u: Node) -> Node:
    def node(x):
        a, ga = u(x)
        return fn(a), _scale(ga, derivative(a))

    return node


_BINARY = {ast.Add: _add, ast.Sub: _sub, ast.Mult: _mul, ast.Div: _div, ast.Pow: _pow}
