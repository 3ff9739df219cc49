"""Readable PyTorch code that follows the design's blocks, as a person writes it.

:func:`export_blocks` writes one ``nn.Module`` class per block type (its parameters are
the constructor's arguments, rendered from the type's own definition), one class per
distinct plain block, ``nn.Sequential`` for plain chains (ResNet's ``layer1``), and
attributes nested as the blocks are (``layer1.0.conv1``), so a network built from the
library has torchvision's ``state_dict`` keys. ``forward`` reuses a variable while its
value has no other reader (``x = self.layer1(x)``), so activations are freed as in
hand-written code without ``del`` lines. :func:`key_map` maps the flat model's keys
(:mod:`engine.codegen.emit`, the live model) to these keys. No user text reaches the code
except through :func:`~engine.codegen.emit.comment_text` / ``doc_text``; names are
sanitised; type expressions are the checked trees of :mod:`engine.blocks.expr`.
No torch import here.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.blocks.expr import to_code
from engine.blocks.hierarchy import all_types, block_of, boundary, parent_path, records
from engine.blocks.types import IN, BlockType, instantiate
from engine.codegen import node_code
from engine.codegen.emit import Plan, _same_pads, _shape, doc_text, example_inputs, make_plan
from engine.codegen.layer_text import FUNCS as _FUNCS
from engine.codegen.layer_text import layer_ctor
from engine.codegen.layer_text import op_of as _op
from engine.codegen.layer_text import value_text as _v
from engine.codegen.naming import class_name, is_plain, sanitize
from engine.core.graph import GraphLike, GraphModel
from engine.nodes import NODE_TYPES, normalize_params


@dataclass
class Elem:
    """One line of a class: a submodule (``ctor``) or an expression (``op``) in forward."""

    name: str
    ins: list[str]
    ctor: str | None = None  # None for an expression without a module
    op: str = "call"  # call, cat, add, mul, flatten, fn
    cond: str | None = None  # optional member: kept only when this holds
    pads: tuple | None = None  # uneven "same" padding done in forward
    fn: Callable[[list[str]], str] | None = None  # op "fn": the expression of the inputs


@dataclass
class ClassIR:
    """A class to write: constructor arguments, forward inputs, elements, output."""

    name: str
    args: list[str]
    inputs: list[str]
    elems: list[Elem]
    output: str
    doc: str = ""


@dataclass
class _Ctx:
    model: GraphModel
    plan: Plan
    types: dict[str, BlockType]
    valid: set[str]
    classes: dict[str, list[str]] = field(default_factory=dict)  # name → lines
    bodies: dict[str, str] = field(default_factory=dict)  # body text → class name
    keys: dict[str, str] = field(default_factory=dict)  # node → attribute path
    typed_done: set[str] = field(default_factory=set)


# --------------------------------------------------------------------------- rendering
def _indent(text: str, n: int) -> str:
    return text.replace("\n", "\n" + " " * n)


def render_class(ir: ClassIR) -> list[str]:
    """The lines of one class."""
    out = [f"class {ir.name}(nn.Module):"]
    if ir.doc:
        out.append(f'    """{ir.doc}"""')
        out.append("")
    out.append(f"    def __init__({', '.join(['self', *ir.args])}):")
    out.append("        super().__init__()")
    for e in ir.elems:
        if e.ctor is None:
            if e.cond:
                out.append(f"        self.use_{e.name} = {e.cond}")
            continue
        ctor = _indent(e.ctor, 8)
        if e.cond:
            if "\n" in ctor:
                out += [f"        self.{e.name} = None", f"        if {e.cond}:",
                        f"            self.{e.name} = {_indent(ctor, 4)}"]  # fmt: skip
            else:
                out.append(f"        self.{e.name} = {ctor} if {e.cond} else None")
        else:
            out.append(f"        self.{e.name} = {ctor}")
    out += ["", f"    def forward({', '.join(['self', *ir.inputs])}):"]
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
        if uses[first] == 0 and first in var:
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
        a = args[0]
        if e.pads:
            a = f"nn.functional.pad({a}, {e.pads})"
        expr = f"self.{e.name}({a})"
        return f"{expr} if self.{e.name} is not None else {args[0]}" if e.cond else expr
    if e.op == "cat":
        expr = f"torch.cat([{', '.join(args)}], 1)"
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


def _fn(ntype: str, p: dict, name: str) -> Callable[[list[str]], str]:
    """The forward expression of a node (its submodule ``self.name``), given its inputs."""
    return lambda args: node_code.forward_text(ntype, p, args, f"self.{name}")


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
                fn = _fn(m.type, p, m.id)
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
def _owner(ctx: _Ctx, node: str) -> str:
    b = block_of(ctx.model, node)
    while b and b not in ctx.valid:
        b = parent_path(b)
    return b


def _parent(ctx: _Ctx, path: str) -> str:
    p = parent_path(path)
    while p and p not in ctx.valid:
        p = parent_path(p)
    return p


def _valid_blocks(model: GraphModel) -> set[str]:
    """Blocks that can be modules: one output, inputs from outside, no input node inside."""
    valid = set()
    for path in records(model):
        b = boundary(model, path)
        inside = [n for n in model.graph.nodes if _under(block_of(model, n), path)]
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
    b = boundary(ctx.model, path)
    if len(b.sources) != 1:
        return None
    in_ch = ctx.plan.shapes[b.sources[0]][0]
    try:
        inst = instantiate(ctx.types, key, rec.get("params", {}), in_ch, path)
    except Exception:  # noqa: BLE001 - any failure means: write this block literally
        return None
    inside = {n for n in g.nodes if _under(block_of(ctx.model, n), path)}
    if {n for n, *_ in inst.nodes} != inside or inst.output != b.outputs[0]:
        return None
    for nid, ntype, params, _ in inst.nodes:
        if g.nodes[nid]["type"] != ntype or g.nodes[nid]["params"] != normalize_params(
            ntype, params
        ):
            return None
    edges = {(u, v, k) for u, v, k in g.edges(keys=True) if u in inside and v in inside}
    if edges != set(inst.edges) or {(v, k) for _, v, k in b.entries} != set(inst.entries):
        return None
    for nid, local in inst.local.items():
        ctx.keys[nid] = local
    return ctx.types[key]


def _build(ctx: _Ctx, path: str, prefix: str) -> tuple[str, list[Elem]]:
    """The constructor text of block ``path`` (writing its class if needed)."""
    bt = _matches_type(ctx, path)
    if bt is not None:
        try:
            cls = _typed_class(ctx, bt)
        except _NotReadable:
            bt = None
        else:
            for n in list(ctx.keys):
                if _under(block_of(ctx.model, n), path) and not ctx.keys[n].startswith(prefix):
                    ctx.keys[n] = prefix + ctx.keys[n]
            src = boundary(ctx.model, path).sources[0]
            rec = records(ctx.model)[path]
            values = {**bt.params, **rec.get("params", {})}
            kw = "".join(f", {k}={values[k]!r}" for k in bt.params)
            return f"{cls}({ctx.plan.shapes[src][0]}{kw})", []
    ir = _literal_ir(ctx, path, prefix)
    if _is_chain(ir):
        return _sequential([e.ctor for e in ir.elems]), ir.elems
    lines = render_class(ir)
    body = "\n".join(lines[1:])
    if body in ctx.bodies:
        return f"{ctx.bodies[body]}()", ir.elems
    name = ir.name
    k = 2
    while name in ctx.classes:
        name, k = f"{ir.name}{k}", k + 1
    lines[0] = f"class {name}(nn.Module):"
    ctx.classes[name] = lines
    ctx.bodies[body] = name
    return f"{name}()", ir.elems


def _is_chain(ir: ClassIR) -> bool:
    prev = ir.inputs[0] if len(ir.inputs) == 1 else None
    for k, e in enumerate(ir.elems):
        if e.name != str(k) or e.ctor is None or e.pads or e.ins != [prev]:
            return False
        prev = e.name
    return bool(ir.elems) and prev == ir.output


def _literal_ir(ctx: _Ctx, path: str, prefix: str) -> ClassIR:
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
    rels = [p[len(path) + 1 :] if path else p for p in children]
    # Digit names ("0", "1", …) only for what may become an nn.Sequential: nothing but
    # blocks named 0..n-1. Elsewhere "0" is no attribute name: it becomes "n0".
    seq = sorted(rels) == sorted(str(k) for k in range(len(rels))) and not any(
        plan.types[n] != "input" for n in direct
    )
    for p, rel in zip(children, rels, strict=True):
        name = rel if seq else local(rel.replace(".", "_"))
        taken.add(name)
        out = boundary(model, p).outputs[0]
        items.append((order[out], "block", p, name))
        for n in model.graph.nodes:
            if _under(_owner(ctx, n), p):
                elem_of[n] = name
    if path:
        b = boundary(model, path)
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
        text = n[len(stem) :] if stem and n.startswith(stem) and len(n) > len(stem) else n
        name = local(text if is_plain(text) else plan.names[n])
        elem_of[n] = name
        items.append((order[n], "node", n, name))
    elems = []
    for _, kind, what, name in sorted(items):
        if kind == "node":
            t = plan.types[what]
            srcs = plan.inputs[what]
            ctor = None
            pads = None
            fn = None
            if t not in _FUNCS:
                ctor = layer_ctor(t, plan.params[what], str(plan.shapes[srcs[0]][0]))
                if t == "conv" and plan.params[what]["padding"] == "same":
                    pads = _same_pads(plan.params[what])
                if t in node_code.TYPES and not node_code.plain_call(t, plan.params[what]):
                    fn = _fn(t, plan.params[what], name)
                if ctor is not None:
                    ctx.keys[what] = prefix + name
            ins = [elem_of.get(s) or arg_of[s] for s in srcs]
            elems.append(Elem(name, ins, ctor, "fn" if fn else _op(t), None, pads, fn))
        else:
            srcs = boundary(model, what).sources
            ctor, _ = _build(ctx, what, f"{prefix}{name}.")
            elems.append(Elem(name, [elem_of.get(s) or arg_of[s] for s in srcs], ctor))
    if path:
        rec = records(model)[path]
        title = rec.get("name") or path.rsplit(".", 1)[-1]
        cname = class_name(title if not title.isdigit() else path.replace(".", " ") + " block")
        out_elem = elem_of[output]
        doc = doc_text(title, 70)
    else:
        cname = plan.class_name
        outs = [elem_of.get(n) or arg_of[n] for n in plan.sinks]
        out_elem = outs[0]
        doc = ""
    return ClassIR(cname, [], inputs, elems, out_elem, doc)


def _context(graph: GraphLike) -> _Ctx:
    model = graph if isinstance(graph, GraphModel) else _wrap(graph)
    plan = make_plan(model)
    return _Ctx(model, plan, all_types(model), _valid_blocks(model))


def _wrap(g) -> GraphModel:
    m = GraphModel(str(g.graph.get("name", "") or ""))
    m.graph = g
    return m


def export_blocks(graph: GraphLike) -> str:
    """Readable PyTorch source following the design's blocks (see the module docstring).

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        The network; designs without blocks give one class with ``nn.Sequential`` nowhere.

    Returns
    -------
    str

    Raises
    ------
    InvalidGraphError
        If the graph has analysis errors.
    """
    ctx = _context(graph)
    plan = ctx.plan
    if len(plan.sinks) != 1:
        from engine.codegen.emit import render

        return render(plan)  # several outputs: the flat form returns a tuple
    root = _literal_ir(ctx, "", "")
    t = plan.totals
    title = doc_text(plan.model_name) if plan.model_name else "(unnamed)"
    root.doc = (
        f"Design {title}: input {', '.join(_shape(plan.shapes[n]) for n in plan.input_nodes)}, "
        f"output {_shape(plan.shapes[plan.sinks[0]])}.\n\n    Parameters: {t.params:,}; "
        f"multiply-accumulates per image: {t.macs:,}.\n    "
    )
    out = [
        f'"""PyTorch model {title}, exported by ConvCanvas (one class per block type)."""',
        "import torch",
        "from torch import nn",
        "",
    ]
    helpers = node_code.helper_lines(set(plan.types.values()))
    if helpers:
        out += ["", *helpers[:-1]]
    for lines in list(ctx.classes.values()) + [render_class(root)]:
        out += ["", *lines, ""]
    out += _loader(ctx)
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


def _loader(ctx: _Ctx) -> list[str]:
    """``load_convcanvas_weights``: weights saved by ConvCanvas (flat keys) into this model.

    A module path becomes its flat name with dots as ``_`` (``layer1.0.conv1`` →
    ``layer1_0_conv1``); only the paths that differ from that are listed.
    """
    odd = {
        path: ctx.plan.names[n]
        for n, path in ctx.keys.items()
        if ctx.plan.names[n] != path.replace(".", "_")
    }
    lines = ["", "_FLAT_NAMES = {"] if odd else ["", "_FLAT_NAMES = {}"]
    if odd:
        lines += [f"    {path!r}: {flat!r}," for path, flat in odd.items()] + ["}"]
    return lines + [
        "",
        "",
        "def load_convcanvas_weights(model, state_dict):",
        '    """Load a state dict saved by ConvCanvas (one flat name per layer) into ``model``."""',
        "    mapped = {}",
        "    for key in model.state_dict():",
        '        path, name = key.rsplit(".", 1)',
        '        flat = _FLAT_NAMES.get(path, path.replace(".", "_"))',
        '        mapped[key] = state_dict[f"{flat}.{name}"]',
        "    model.load_state_dict(mapped, strict=True)",
        "",
    ]


def key_map(graph: GraphLike) -> dict[str, str]:
    """``{flat attribute: block attribute path}`` of every node with a submodule.

    ``state_dict`` keys of the live (flat) model map as ``flat + rest`` →
    ``path + rest`` (``layer1_0_conv1.weight`` → ``layer1.0.conv1.weight``).
    """
    ctx = _context(graph)
    _literal_ir(ctx, "", "")
    return {ctx.plan.names[n]: path for n, path in ctx.keys.items()}


def convert_state_dict(graph: GraphLike, state: dict) -> dict:
    """A flat model's ``state_dict`` with the keys of :func:`export_blocks`'s model."""
    names = key_map(graph)
    out = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        out[f"{names.get(head, head)}.{rest}" if rest else key] = value
    return out


__all__ = ["export_blocks", "key_map", "convert_state_dict", "layer_ctor"]
