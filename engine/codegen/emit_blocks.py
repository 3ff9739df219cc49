"""The readable printing of a design's program: code as a person writes it (the default export).

:func:`export_blocks` writes one ``nn.Module`` class per block type (its parameters are
the constructor's arguments, rendered from the type's own definition), one class per
imported module class (``Bottleneck``, ``InvertedResidual``: instances with the same
class and structure share it, the values that differ become constructor arguments),
``nn.Sequential`` for numbered chains (ResNet's ``layer1``, the ``downsample``), and
attributes nested as the targets are (:mod:`engine.codegen.targets`), so its
``state_dict`` keys are the targets: those of the live model, which is this very text
compiled (:mod:`engine.runtime.build`), and torchvision's for templates and imports.
``forward`` reuses a variable while its value has no other reader
(``x = self.layer1(x)``), so activations are freed as in hand-written code. No user text
reaches the code except through :func:`~engine.codegen.emit.comment_text` /
``doc_text``; names are sanitised; type expressions are the checked trees of
:mod:`engine.blocks.expr`. No torch import here.
"""

from __future__ import annotations

import ast
import keyword
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.blocks.expr import to_code
from engine.blocks.hierarchy import (
    Boundary,
    all_types,
    block_of,
    boundary_of,
    parent_path,
    records,
)
from engine.blocks.types import IN, BlockType, instantiate
from engine.codegen import node_code
from engine.codegen.emit import Plan, _shape, doc_text, example_inputs, make_plan, render
from engine.codegen.layer_text import FUNCS as _FUNCS
from engine.codegen.layer_text import _same_pads, layer_ctor
from engine.codegen.layer_text import op_of as _op
from engine.codegen.layer_text import value_text as _v
from engine.codegen.naming import class_name, sanitize
from engine.codegen.targets import scope_targets
from engine.core.graph import GraphLike, GraphModel
from engine.nodes import NODE_TYPES, normalize_params


@dataclass
class Elem:
    """One line of a class: a submodule (``ctor``) or an expression (``op``) in forward.

    ``name`` is the value's name in ``forward`` (an identifier); ``attr`` the module's
    attribute path relative to the class (``downsample.0``; default: ``name``).
    """

    name: str
    ins: list[str]
    ctor: str | None = None  # None for an expression without a module
    op: str = "call"  # call, cat, add, mul, flatten, fn
    cond: str | None = None  # optional member: kept only when this holds
    pads: tuple | None = None  # uneven "same" padding done in forward
    fn: Callable[[list[str]], str] | None = None  # op "fn": the expression of the inputs
    attr: str | None = None

    @property
    def path(self) -> str:
        """The attribute path of the module relative to its class."""
        return self.attr or self.name


@dataclass
class ClassIR:
    """A class to write: constructor arguments, forward inputs, elements, output."""

    name: str
    args: list[str]
    inputs: list[str]
    elems: list[Elem]
    output: str
    doc: str = ""
    varargs: bool = False  # forward(self, *inputs): the inputs are concatenated as given


@dataclass
class _Shared:
    """A class shared by blocks of one module class and structure."""

    name: str
    params: dict[int, str]  # slot → argument name
    fixed: dict[int, int]  # slot → the literal every instance has


@dataclass
class _Ctx:
    model: GraphModel
    plan: Plan
    types: dict[str, BlockType]
    valid: set[str]
    scopes: dict[str, str]  # scope path → its target path
    classes: dict[str, list[str]] = field(default_factory=dict)  # name → lines
    ctor: dict[str, str] = field(default_factory=dict)  # block path → constructor text
    shared: dict[tuple, list[_Shared]] = field(default_factory=dict)  # structure → classes
    class_args: dict[str, list[str]] = field(default_factory=dict)  # class → its arguments
    typed_done: set[str] = field(default_factory=set)
    matched: dict[str, BlockType | None] = field(default_factory=dict)  # block → its type
    typed_names: set[str] = field(default_factory=set)  # classes of the types written
    held: dict[str, str] = field(default_factory=dict)  # node → its block (block_of)
    bounds: dict[str, Boundary] = field(default_factory=dict)  # block → its boundary


# --------------------------------------------------------------------------- rendering
def _indent(text: str, n: int) -> str:
    return text.replace("\n", "\n" + " " * n)


def _attribute(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _get(base: str, parts: list[str]) -> str:
    """``self.layer1`` / ``getattr(self.stage, "0")``: the attribute at ``parts``."""
    for p in parts:
        base = f"{base}.{p}" if _attribute(p) else f'getattr({base}, "{p}")'
    return base


def _set(base: str, path: str, value: str) -> str:
    *parents, last = path.split(".")
    obj = _get(base, parents)
    return f"{obj}.{last} = {value}" if _attribute(last) else f'{obj}.add_module("{last}", {value})'


def render_class(ir: ClassIR) -> list[str]:
    """The lines of one class."""
    out = [f"class {ir.name}(nn.Module):"]
    if ir.doc:
        out.append(f'    """{ir.doc}"""')
        out.append("")
    out.append(f"    def __init__({', '.join(['self', *ir.args])}):")
    out.append("        super().__init__()")
    made: set[str] = set()
    for e in ir.elems:
        if e.ctor is None:
            if e.cond:
                out.append(f"        self.use_{e.name} = {e.cond}")
            continue
        parts = e.path.split(".")
        for k in range(1, len(parts)):  # containers of a deeper path (scopes without a class)
            prefix = ".".join(parts[:k])
            if prefix not in made:
                made.add(prefix)
                out.append(f"        {_set('self', prefix, 'nn.Module()')}")
        ctor = _indent(e.ctor, 8)
        if e.cond:
            if "\n" in ctor:
                out += [f"        self.{e.name} = None", f"        if {e.cond}:",
                        f"            self.{e.name} = {_indent(ctor, 4)}"]  # fmt: skip
            else:
                out.append(f"        self.{e.name} = {ctor} if {e.cond} else None")
        else:
            out.append(f"        {_set('self', e.path, ctor)}")
    params = [f"*{i}" for i in ir.inputs] if ir.varargs else ir.inputs
    out += ["", f"    def forward({', '.join(['self', *params])}):"]
    uses = Counter(i for e in ir.elems for i in e.ins)
    var = {i: i for i in ir.inputs}
    live = set(ir.inputs)
    for e in ir.elems:
        args = [var[i] for i in e.ins]
        for i in e.ins:
            uses[i] -= 1
            if uses[i] == 0:
                live.discard(var[i])
        first = e.ins[0]
        if uses[first] == 0 and first in var and e.op != "catall":
            name = var[first]
        else:
            name = next(n for n in ("out", e.name, *(f"{e.name}_{k}" for k in range(1, 99)))
                        if n not in live and n not in ("self", "torch", "nn"))  # fmt: skip
        expr = _call(e, args)
        out.append(f"        {name} = {expr}")
        var[e.name] = name
        live.add(name)
    out.append(f"        return {var[ir.output]}")
    return out


def _call(e: Elem, args: list[str]) -> str:
    if e.op == "call":
        a = list(args)
        if e.pads:
            a[0] = f"nn.functional.pad({a[0]}, {e.pads})"
        mod = _get("self", e.path.split("."))
        expr = f"{mod}({', '.join(a)})"
        return f"{expr} if {mod} is not None else {args[0]}" if e.cond else expr
    if e.op == "cat":
        expr = f"torch.cat([{', '.join(args)}], 1)"
    elif e.op == "catall":
        expr = f"torch.cat({args[0]}, 1)"
    elif e.op == "add":
        expr = " + ".join(args)
    elif e.op == "mul":
        expr = " * ".join(args)
    elif e.op == "fn":
        expr = e.fn(args)
        if e.cond and e.ctor is not None:
            return f"{expr} if self.{e.name} is not None else {args[0]}"
    else:
        expr = f"torch.flatten({args[0]}, 1)"
    return f"{expr} if self.use_{e.name} else {args[0]}" if e.cond else expr


def _fn(ntype: str, p: dict, module: str) -> Callable[[list[str]], str]:
    """The forward expression of a node (its submodule ``module``), given its inputs."""
    return lambda args: node_code.forward_text(ntype, p, args, module)


def _sequential(parts: list[str]) -> str:
    return "nn.Sequential(\n" + "".join(f"    {_indent(p, 4)},\n" for p in parts) + ")"


# --------------------------------------------------------------------------- typed classes
def _typed_class(ctx: _Ctx, bt: BlockType) -> str:
    """Write the class of a block type once (and those of nested types); its name."""
    if bt.key in ctx.typed_done:
        return bt.class_name
    elems: list[Elem] = []
    chans: dict[str, str] = {IN: "in_channels"}
    subs: dict[str, list] = {}  # first part of a dotted member id → its members
    raw: dict[str, str] = {}  # channels of an optional member, where it is present
    conds: dict[str, str | None] = {IN: None}
    for m in bt.members:
        ins = [s for _, s in bt.sources(m.id)]
        cond = to_code(m.when_expr) if m.when_expr is not None else None
        conds[m.id] = cond
        ch = {s: raw[s] if cond is not None and conds[s] == cond else chans[s] for s in ins}
        in_ch = ch[ins[0]] if ins else "in_channels"
        fn = None
        if m.block is not None:
            sub = ctx.types[m.block]
            ctor = f"{_typed_class(ctx, sub)}({in_ch}{_kwargs(m.params, sub)})"
            out_ch = _sub_out(ctx, sub, m.params, in_ch)
        else:
            p = {ps.name: ps.default for ps in NODE_TYPES[m.type].params if not ps.required}
            p.update({k: v for k, v in m.params.items() if k not in m.exprs})
            p.update({k: {"expr": to_code(t)} for k, t in m.exprs.items()})
            ctor = None if m.type in _FUNCS else layer_ctor(m.type, p, in_ch)
            if m.type in node_code.TYPES and not node_code.plain_call(m.type, p):
                if "." in m.id and ctor is not None:
                    raise _NotReadable(bt.key)  # its forward is more than an nn.Sequential step
                fn = _fn(m.type, p, f"self.{m.id}")
            out_ch = _sym_channels(m.type, p, [ch[s] for s in ins])
        raw[m.id] = out_ch
        if cond is not None and out_ch != in_ch:
            out_ch = f"({out_ch} if {cond} else {in_ch})"
        chans[m.id] = out_ch
        op = "call" if m.block is not None else ("fn" if fn else _op(m.type))
        if "." in m.id:
            head = m.id.split(".", 1)[0]
            subs.setdefault(head, []).append((m, ctor, ins, cond))
            chans[head] = out_ch
            continue
        elems.append(Elem(m.id, [_head(i) for i in ins], ctor, op, cond, fn=fn))
    for head, items in subs.items():
        ok = all(m.id == f"{head}.{k}" for k, (m, *_) in enumerate(items)) and all(
            c is not None for _, c, *_ in items
        )
        conds = {c for *_, c in items}
        if not ok or len(conds) != 1:
            raise _NotReadable(bt.key)
        first_in = [_head(i) for i in items[0][2]]
        elem = Elem(head, first_in, _sequential([c for _, c, *_ in items]), "call", conds.pop())
        last = max(i for i, e in enumerate(elems) if _feeds(e, head) is False) if elems else 0
        idx = next((i for i, e in enumerate(elems) if head in e.ins), len(elems))
        elems.insert(min(idx, max(last, idx)), elem)
    for e in elems:
        e.ins = [i if i != IN else "x" for i in e.ins]
    args = ["in_channels"] + [f"{k}={v!r}" for k, v in bt.params.items()]
    ir = ClassIR(bt.class_name, args, ["x"], elems, _head(bt.output), doc_text(bt.title, 70))
    ctx.classes[bt.class_name] = render_class(ir)
    ctx.class_args[bt.class_name] = ["in_channels", *bt.params]
    ctx.typed_done.add(bt.key)
    return bt.class_name


class _NotReadable(Exception):
    """A type whose sub-blocks are not plain chains: its instances are written literally."""


def _feeds(e: Elem, head: str) -> bool:
    return head in e.ins


def _head(mid: str) -> str:
    return mid.split(".", 1)[0]


def _kwargs(params: dict, bt: BlockType) -> str:
    return "".join(f", {k}={_v(v)}" for k, v in params.items() if k in bt.params)


def _sym_channels(ntype: str, p: dict, ins: list[str]) -> str:
    if ntype == "channel_slice":
        start, stop = p.get("start", 0), p["stop"]
        if isinstance(start, int) and isinstance(stop, int):
            return str(stop - start)
        return f"{_v(stop)} - ({_v(start)})"
    if ntype in ("conv", "conv1x1", "conv_transpose"):
        return _v(p["out_channels"])
    if ntype == "linear":
        return _v(p["out_features"])
    if ntype == "concat":
        return " + ".join(ins)
    return ins[0] if ins else "in_channels"


def _sub_out(ctx: _Ctx, sub: BlockType, params: dict, in_ch: str) -> str:
    """The output channels of a nested type as an expression of the outer names."""
    chans: dict[str, str] = {IN: "in_channels"}
    for m in sub.members:
        ins = [chans[s] for _, s in sub.sources(m.id)]
        if m.block is not None:
            chans[m.id] = _sub_out(ctx, ctx.types[m.block], m.params, ins[0])
            continue
        p = {**m.params, **{k: {"expr": to_code(t)} for k, t in m.exprs.items()}}
        chans[m.id] = _sym_channels(m.type, p, ins)
    text = chans[sub.output]
    env = {k: _v(v) for k, v in {**sub.params, **params}.items()}
    env["in_channels"] = in_ch
    tree = ast.parse(text, mode="eval").body
    tree = _Subst(env).visit(tree)
    return to_code(tree)


class _Subst(ast.NodeTransformer):
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802 - ast visitor protocol
        if node.id in self.env:
            return ast.parse(f"({self.env[node.id]})", mode="eval").body
        return node


# --------------------------------------------------------------------------- a design
def _boundary(ctx: _Ctx, path: str) -> Boundary:
    """:func:`engine.blocks.hierarchy.boundary`, computed once per block."""
    if path not in ctx.bounds:
        ctx.bounds[path] = _bound(ctx.model, path, ctx.held)
    return ctx.bounds[path]


def _bound(model: GraphModel, path: str, held: dict[str, str]) -> Boundary:
    return boundary_of(model, {n for n in model.graph.nodes if _under(held[n], path)})


def _owner(ctx: _Ctx, node: str) -> str:
    b = ctx.held[node]
    while b and b not in ctx.valid:
        b = parent_path(b)
    return b


def _parent(ctx: _Ctx, path: str) -> str:
    p = parent_path(path)
    while p and p not in ctx.valid:
        p = parent_path(p)
    return p


def _valid_blocks(model: GraphModel, held: dict[str, str], bounds: dict) -> set[str]:
    """Blocks that can be modules: one output, inputs from outside, no input node inside."""
    valid = set()
    for path in records(model):
        b = bounds[path] = _bound(model, path, held)
        inside = [n for n in model.graph.nodes if _under(held[n], path)]
        if (
            len(b.outputs) == 1
            and b.sources
            and not any(model.graph.nodes[n]["type"] == "input" for n in inside)
        ):
            valid.add(path)
    return valid


def _under(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor + ".")


def _matches_type(ctx: _Ctx, path: str) -> BlockType | None:
    """The block's type, if its nodes are exactly what the type gives (else ``None``)."""
    rec = records(ctx.model)[path]
    key = rec.get("type")
    if key is None or key not in ctx.types:
        return None
    g = ctx.model.graph
    b = _boundary(ctx, path)
    if len(b.sources) != 1:
        return None
    in_ch = ctx.plan.shapes[b.sources[0]][0]
    try:
        inst = instantiate(ctx.types, key, rec.get("params", {}), in_ch, path)
    except Exception:  # noqa: BLE001 - any failure means: write this block literally
        return None
    inside = {n for n in g.nodes if _under(ctx.held[n], path)}
    ren = {n: n for n, *_ in inst.nodes}
    if set(ren) != inside:
        ren = _members_by_name(ctx, path, inst.local, inside)  # e.g. grouped, then saved
        if ren is None:
            return None
    if ren.get(inst.output) != b.outputs[0]:
        return None
    for nid, ntype, params, _ in inst.nodes:
        node = ren[nid]
        if g.nodes[node]["type"] != ntype or g.nodes[node]["params"] != normalize_params(
            ntype, params
        ):
            return None
        if node in ctx.plan.targets and ctx.plan.targets[node] != _join(
            ctx.scopes.get(path, path), inst.local[nid]
        ):
            return None  # a renamed member: the type's attribute would not be its target
    edges = {(u, v, k) for u, v, k in g.edges(keys=True) if u in inside and v in inside}
    if edges != {(ren[u], ren[v], k) for u, v, k in inst.edges}:
        return None
    if {(v, k) for _, v, k in b.entries} != {(ren[v], k) for v, k in inst.entries}:
        return None
    return ctx.types[key]


def _members_by_name(
    ctx: _Ctx, path: str, local: dict[str, str], inside: set[str]
) -> dict[str, str] | None:
    """Instance node → design node, matched by member name (target, or id without stem)."""
    stem = path.replace(".", "_") + "_"
    by_name: dict[str, str] = {}
    for n in inside:
        if n in ctx.plan.targets:
            name = _rel(ctx, path, ctx.plan.targets[n])
        else:
            name = n[len(stem) :] if n.startswith(stem) and len(n) > len(stem) else n
        if name in by_name:
            return None
        by_name[name] = n
    ren = {}
    for nid, member in local.items():
        node = by_name.get(member) or by_name.get(member.replace(".", "_"))
        if node is None:
            return None
        ren[nid] = node
    return ren if set(ren.values()) == inside and len(ren) == len(inside) else None


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _rel(ctx: _Ctx, path: str, target: str) -> str:
    """``target`` relative to the class of block ``path`` (``""``: the design)."""
    base = ctx.scopes.get(path, path) if path else ""
    return target[len(base) + 1 :] if base else target


def _literal_ir(ctx: _Ctx, path: str) -> ClassIR:
    """The class of a plain block (or of the whole design for ``path == ""``)."""
    model, plan = ctx.model, ctx.plan
    order = {n: i for i, n in enumerate(plan.order)}
    direct = [n for n in plan.order if _owner(ctx, n) == path]
    children = [p for p in ctx.valid if _parent(ctx, p) == path]
    stem = (path.replace(".", "_") + "_") if path else ""
    taken: set[str] = set()

    def local(text: str) -> str:
        name = sanitize(text)
        while name in taken or name in ("x", "out"):
            name += "_"
        taken.add(name)
        return name

    elem_of: dict[str, str] = {}  # node → element name inside this class
    items = []
    for p in children:
        attr = _rel(ctx, path, ctx.scopes[p])
        name = local(attr.replace(".", "_"))
        out = _boundary(ctx, p).outputs[0]
        items.append((order[out], "block", p, name, attr))
        for n in model.graph.nodes:
            if _under(_owner(ctx, n), p):
                elem_of[n] = name
    if path:
        b = _boundary(ctx, path)
        inputs = ["x"] if len(b.sources) == 1 else [f"x{i}" for i in range(len(b.sources))]
        arg_of = dict(zip(b.sources, inputs, strict=True))
        output = b.outputs[0]
    else:
        ins = plan.input_nodes
        inputs = ["x"] if len(ins) == 1 else [local(plan.names[n]) for n in ins]
        arg_of = dict(zip(ins, inputs, strict=True))
        output = None
    for n in direct:
        if n in arg_of:
            continue
        attr = None
        if n in plan.targets:
            attr = _rel(ctx, path, plan.targets[n])
            name = local(attr.rsplit(".", 1)[-1])
        else:
            text = n[len(stem) :] if stem and n.startswith(stem) and len(n) > len(stem) else n
            name = local(text if text.isidentifier() else plan.names[n])
        elem_of[n] = name
        items.append((order[n], "node", n, name, attr))
    elems = []
    for _, kind, what, name, attr in sorted(items, key=lambda item: item[0]):
        if kind == "node":
            t = plan.types[what]
            srcs = plan.inputs[what]
            ctor = None
            pads = None
            fn = None
            if what in plan.targets:
                ctor = layer_ctor(t, plan.params[what], str(plan.shapes[srcs[0]][0]))
                if t == "conv" and plan.params[what]["padding"] == "same":
                    pads = _same_pads(plan.params[what])
            if t in node_code.TYPES and not node_code.plain_call(t, plan.params[what]):
                module = _get("self", attr.split(".")) if attr else ""
                fn = _fn(t, plan.params[what], module)
            ins = [elem_of.get(s) or arg_of[s] for s in srcs]
            op = "fn" if fn else _op(t)
            elems.append(Elem(name, ins, ctor, op, None, pads, fn, attr))
        else:
            srcs = _boundary(ctx, what).sources
            ins = [elem_of.get(s) or arg_of[s] for s in srcs]
            elems.append(Elem(name, ins, ctx.ctor[what], attr=attr))
    if path:
        out_elem = elem_of[output]
        cname = _base_name(ctx, path)
        rec = records(model)[path]
        title = rec.get("name") or path.rsplit(".", 1)[-1]
        doc = "" if title.isdigit() or rec.get("class") else doc_text(title, 70)
    else:
        cname = plan.class_name
        outs = [elem_of.get(n) or arg_of[n] for n in plan.sinks]
        out_elem = outs[0]
        doc = ""
    ir = ClassIR(cname, [], inputs, elems, out_elem, doc)
    if len(inputs) > 1:
        _fold_inputs(ir)
    return ir


def _fold_inputs(ir: ClassIR) -> None:
    """``forward(self, *inputs)`` when one concatenation reads every input, in order."""
    readers = [e for e in ir.elems if set(e.ins) & set(ir.inputs)]
    if len(readers) == 1 and readers[0].op == "cat" and readers[0].ins == ir.inputs:
        readers[0].op, readers[0].ins = "catall", ["inputs"]
        ir.inputs, ir.varargs = ["inputs"], True


def _base_name(ctx: _Ctx, path: str) -> str:
    """A block's class name: the imported module's class, else from its name."""
    rec = records(ctx.model)[path]
    if rec.get("class"):
        return class_name(rec["class"])
    title = rec.get("name") or path.rsplit(".", 1)[-1]
    return class_name(title if not title.isdigit() else path.replace(".", " ") + " block")


def _is_chain(ir: ClassIR) -> bool:
    if len(ir.inputs) != 1:
        return False
    prev = ir.inputs[0]
    for k, e in enumerate(ir.elems):
        if e.path != str(k) or e.ctor is None or e.pads or e.ins != [prev] or e.op != "call":
            return False  # an nn.Sequential only calls its children as they are
        prev = e.name
    return bool(ir.elems) and prev == ir.output


# --------------------------------------------------------------------------- shared classes
# Argument names for the numbers of a constructor call, by (callee, position).
_ROLES = {
    ("nn.Conv2d", 0): "in_channels",
    ("nn.Conv2d", 1): "out_channels",
    ("nn.BatchNorm2d", 0): "channels",
    ("nn.Linear", 0): "in_features",
    ("nn.Linear", 1): "out_features",
}


def _slots(ctx: _Ctx, tree: ast.AST) -> list[tuple[ast.Constant, str]]:
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
        return _sequential([_pretty(a) for a in node.args])
    return ast.unparse(node)


def _abstract(ctx: _Ctx, ir: ClassIR, base: str) -> tuple[tuple, list[int], list[tuple]]:
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


def _fits(sh: _Shared, rows: list[list[int]]) -> bool:
    """Whether every row's numbers fit the shared class ``sh``."""
    for row in rows:
        if any(row[i] != v for i, v in sh.fixed.items()):
            return False
        seen: dict[str, int] = {}
        for i, name in sh.params.items():
            if seen.setdefault(name, row[i]) != row[i]:
                return False
    return True


def _new_shared(ctx: _Ctx, key: tuple, ir: ClassIR, rows: list[list[int]], roles) -> _Shared:
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
    sh = _Shared(name, params, fixed)
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


def _share(ctx: _Ctx, pending: list[tuple[str, ClassIR]]) -> None:
    """One class for blocks of the same module class and structure; set their constructors."""
    groups: dict[tuple, list] = {}
    for p, ir in pending:
        key, values, roles = _abstract(ctx, ir, _base_name(ctx, p))
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


def _type_classes(ctx: _Ctx, bt: BlockType) -> set[str]:
    """The class names a type's class writes (its own and its nested types')."""
    names = {bt.class_name}
    for m in bt.members:
        if m.block is not None:
            names |= _type_classes(ctx, ctx.types[m.block])
    return names


def _program(ctx: _Ctx) -> None:
    """The constructor of every block, innermost first (their classes written once)."""
    recs = records(ctx.model)
    for p in recs:
        if p in ctx.valid:
            ctx.matched[p] = _matches_type(ctx, p)
            if ctx.matched[p] is not None:
                ctx.typed_names |= _type_classes(ctx, ctx.matched[p])
    for depth in sorted({p.count(".") for p in ctx.valid}, reverse=True):
        pending = []
        for p in recs:
            if p not in ctx.valid or p.count(".") != depth:
                continue
            bt = ctx.matched[p]
            if bt is not None:
                try:
                    cls = _typed_class(ctx, bt)
                except _NotReadable:
                    pass
                else:
                    src = _boundary(ctx, p).sources[0]
                    values = {**bt.params, **recs[p].get("params", {})}
                    kw = "".join(f", {k}={values[k]!r}" for k in bt.params)
                    ctx.ctor[p] = f"{cls}({ctx.plan.shapes[src][0]}{kw})"
                    continue
            ir = _literal_ir(ctx, p)
            if _is_chain(ir):
                ctx.ctor[p] = _sequential([e.ctor for e in ir.elems])
                continue
            pending.append((p, ir))
        _share(ctx, pending)


def _context(graph: GraphLike, plan: Plan | None = None) -> _Ctx:
    model = graph if isinstance(graph, GraphModel) else _wrap(graph)
    plan = plan if plan is not None else make_plan(model)
    held = {n: block_of(model, n) for n in model.graph.nodes}
    bounds: dict = {}
    valid = _valid_blocks(model, held, bounds)
    return _Ctx(
        model, plan, all_types(model), valid, scope_targets(model), held=held, bounds=bounds
    )


def _wrap(g) -> GraphModel:
    m = GraphModel(str(g.graph.get("name", "") or ""))
    m.graph = g
    return m


def export_blocks(graph: GraphLike, main: bool = True, plan: Plan | None = None) -> str:
    """The readable printing of the design's program (the default export).

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        The network; designs without blocks give one class with ``nn.Sequential`` nowhere.
    main : bool
        Whether to add the ``if __name__ == "__main__":`` smoke run.
    plan : Plan, optional
        The graph's current :func:`~engine.codegen.emit.make_plan` (saves making it again).

    Returns
    -------
    str
        Python source importing only torch. Its model's ``state_dict`` keys are the
        targets (:func:`engine.codegen.targets.module_targets`). A design with several
        outputs is printed flat (:func:`engine.codegen.emit.render`).

    Raises
    ------
    InvalidGraphError
        If the graph has analysis errors.
    """
    ctx = _context(graph, plan)
    plan = ctx.plan
    if len(plan.sinks) != 1:
        return render(plan, main=main)  # several outputs: the flat form returns a tuple
    _program(ctx)
    root = _literal_ir(ctx, "")
    t = plan.totals
    title = doc_text(plan.model_name) if plan.model_name else "(unnamed)"
    root.doc = (
        f"Design {title}: input {', '.join(_shape(plan.shapes[n]) for n in plan.input_nodes)}, "
        f"output {_shape(plan.shapes[plan.sinks[0]])}.\n\n    Parameters: {t.params:,}; "
        f"multiply-accumulates per image: {t.macs:,}.\n    "
    )
    out = [
        f'"""PyTorch model {title}, exported by ConvCanvas (one class per block type).',
        "",
        "Its state_dict keys are ConvCanvas's (layer1.0.conv1.weight): a weights file saved",
        "by ConvCanvas loads with strict=True; built after torch.manual_seed(s), the model",
        "starts from the weights of ConvCanvas's model with seed s.",
        '"""',
        "import torch",
        "from torch import nn",
        "",
    ]
    helpers = node_code.helper_lines(set(plan.types.values()))
    if helpers:
        out += ["", *helpers[:-1]]
    for lines in list(ctx.classes.values()) + [render_class(root)]:
        out += ["", *lines, ""]
    if main:
        shapes = example_inputs(plan)
        out += [
            "",
            'if __name__ == "__main__":',
            "    torch.manual_seed(0)",
            f"    model = {plan.class_name}().eval()",
            "    with torch.inference_mode():",
            f"        result = model({shapes})",
            '    print("output shape:", tuple(result.shape))',
            '    print("parameters:", sum(p.numel() for p in model.parameters()))',
        ]
    return "\n".join(out) + "\n"


__all__ = ["export_blocks", "render_class", "ClassIR", "Elem"]
