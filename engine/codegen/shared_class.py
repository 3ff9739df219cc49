"""One class for the blocks of one module class and structure (``Bottleneck``).

Blocks whose classes differ only in whole numbers share one class: the numbers that
differ become constructor arguments, named after their role in the constructor call
(``in_channels``, ``out_channels``, ``stride``; with the member's name where two roles
clash), the numbers every instance has stay literal, and keywords at torch's default are
left out. No torch import.
"""

from __future__ import annotations

import ast

from engine.codegen.block_context import BlockContext, SharedClass, base_name
from engine.codegen.class_text import ClassIR, render_class, sequential
from engine.codegen.naming import sanitize

# Argument names for the numbers of a constructor call, by (callee, position).
_ROLES = {
    ("nn.Conv2d", 0): "in_channels",
    ("nn.Conv2d", 1): "out_channels",
    ("nn.BatchNorm2d", 0): "channels",
    ("nn.Linear", 0): "in_features",
    ("nn.Linear", 1): "out_features",
}


def _slots(ctx: BlockContext, tree: ast.AST) -> list[tuple[ast.Constant, str]]:
    """The whole-number literals of a constructor expression with their argument roles."""
    out: list[tuple[ast.Constant, str]] = []

    def value(node: ast.AST, role: str) -> None:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            out.append((node, role))
        elif isinstance(node, ast.Tuple):
            for elt in node.elts:
                value(elt, role)
        elif isinstance(node, ast.Call):
            call(node)

    def call(node: ast.Call) -> None:
        fname = ast.unparse(node.func)
        known = ctx.class_args.get(fname, [])
        for i, a in enumerate(node.args):
            role = _ROLES.get((fname, i)) or (known[i] if i < len(known) else "value")
            value(a, role)
        for kw in node.keywords:
            value(kw.value, kw.arg or "value")

    value(tree, "value")
    return out


def _pretty(node: ast.expr) -> str:
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "nn.Sequential" and node.args:
        return sequential([_pretty(a) for a in node.args])
    return ast.unparse(node)


def _abstract(ctx: BlockContext, ir: ClassIR, base: str) -> tuple[tuple, list[int], list[tuple]]:
    """``(structure key, numbers, (element, role) per number)`` of a block's class."""
    values: list[int] = []
    roles: list[tuple[str, str]] = []
    shape = []
    # Expression values are compared by position (their names come from node ids).
    canon = {e.name: f"#{k}" for k, e in enumerate(ir.elems) if e.ctor is None}
    for e in ir.elems:
        dump = None
        if e.ctor is not None:
            tree = _normal(ast.parse(e.ctor, mode="eval").body)
            for node, role in _slots(ctx, tree):
                values.append(node.value)
                roles.append((e.name, role))
                node.value = 0
            dump = ast.dump(tree)
        ins = tuple(canon.get(i, i) for i in e.ins)
        path = e.path if e.ctor is not None else None
        text = e.fn([f"#in{i}" for i in range(len(e.ins))]) if e.fn else None
        shape.append((canon.get(e.name, e.name), path, ins, e.op, e.cond, e.pads, dump, text))
    out = canon.get(ir.output, ir.output)
    inputs = ("*",) if ir.varargs else tuple(ir.inputs)
    return (base, tuple(shape), inputs, out, ir.doc), values, roles


def _fits(sh: SharedClass, rows: list[list[int]]) -> bool:
    """Whether every row's numbers fit the shared class ``sh``."""
    for row in rows:
        if any(row[i] != v for i, v in sh.fixed.items()):
            return False
        seen: dict[str, int] = {}
        for i, name in sh.params.items():
            if seen.setdefault(name, row[i]) != row[i]:
                return False
    return True


def _new_shared(
    ctx: BlockContext, key: tuple, ir: ClassIR, rows: list[list[int]], roles
) -> SharedClass:
    """Write the class shared by the blocks whose numbers are ``rows``."""
    params: dict[int, str] = {}
    by_vec: dict[tuple, str] = {}
    used: set[str] = set()
    args: list[str] = []
    for i, vec in enumerate(zip(*rows)):
        if len(set(vec)) == 1:
            continue
        if vec in by_vec:
            params[i] = by_vec[vec]
            continue
        elem, role = roles[i]
        name = sanitize(role)
        if name in used:
            name = sanitize(f"{elem}_{role}")
        k = 2
        while name in used or name in ("self", "x"):
            name, k = f"{sanitize(f'{elem}_{role}')}{k}", k + 1
        used.add(name)
        by_vec[vec] = name
        params[i] = name
        args.append(name)
    fixed = {i: v for i, v in enumerate(rows[0]) if i not in params}
    reserved = {ctx.plan.class_name} | ctx.typed_names
    name, k = key[0], 2
    while name in ctx.classes or name in reserved:
        name, k = f"{key[0]}{k}", k + 1
    slot = 0
    for e in ir.elems:
        if e.ctor is None:
            continue
        tree = _normal(ast.parse(e.ctor, mode="eval").body)
        for node, _role in _slots(ctx, tree):
            if slot in params:
                node.__dict__["cc_arg"] = params[slot]  # replaced by the argument's name
            slot += 1
        e.ctor = _pretty(_Args().visit(tree))
    ir.name = name
    ir.args = args
    ctx.classes[name] = render_class(ir)
    ctx.class_args[name] = args
    sh = SharedClass(name, params, fixed)
    ctx.shared.setdefault(key, []).append(sh)
    return sh


class _Args(ast.NodeTransformer):
    """Numbers marked as constructor arguments become their names; defaults are left out."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:  # noqa: N802 - ast visitor protocol
        arg = node.__dict__.get("cc_arg")
        return ast.Name(arg, ast.Load()) if arg else node

    def visit_Call(self, node: ast.Call) -> ast.AST:  # noqa: N802 - ast visitor protocol
        self.generic_visit(node)
        defaults = _DEFAULTS.get(ast.unparse(node.func), {})
        node.keywords = [
            kw
            for kw in node.keywords
            if not (
                kw.arg in defaults
                and isinstance(kw.value, ast.Constant)
                and type(kw.value.value) is int
                and kw.value.value == defaults[kw.arg]
            )
        ]
        return node


# Keywords written out for comparison (so 1×1 and 3×3 convs can share a class), and left
# out again where they keep torch's default.
_DEFAULTS = {"nn.Conv2d": {"stride": 1, "padding": 0, "groups": 1}}


def _normal(tree: ast.expr) -> ast.expr:
    """The constructor with every keyword of :data:`_DEFAULTS` written out (in one order)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        defaults = _DEFAULTS.get(ast.unparse(node.func))
        if not defaults:
            continue
        given = {kw.arg: kw for kw in node.keywords}
        rest = [kw for kw in node.keywords if kw.arg not in defaults]
        ordered = [given.get(k) or ast.keyword(k, ast.Constant(v)) for k, v in defaults.items()]
        node.keywords = rest[:1] + ordered + rest[1:]  # kernel_size first, as written
    return tree


def share(ctx: BlockContext, pending: list[tuple[str, ClassIR]]) -> None:
    """One class for blocks of the same module class and structure; set their constructors."""
    groups: dict[tuple, list] = {}
    for p, ir in pending:
        key, values, roles = _abstract(ctx, ir, base_name(ctx, p))
        groups.setdefault(key, []).append((p, ir, values, roles))
    for key, insts in groups.items():
        rows = [values for _, _, values, _ in insts]
        sh = next((s for s in ctx.shared.get(key, []) if _fits(s, rows)), None)
        if sh is None:
            sh = _new_shared(ctx, key, insts[0][1], rows, insts[0][3])
        args = ctx.class_args[sh.name]
        first = {name: i for i, name in sorted(sh.params.items(), reverse=True)}
        for p, _ir, values, _ in insts:
            ctx.ctor[p] = f"{sh.name}({', '.join(str(values[first[a]]) for a in args)})"
