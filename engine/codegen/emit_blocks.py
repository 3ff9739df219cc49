"""The readable printing of a design's program: code as a person writes it (the default export).

:func:`export_blocks` writes one ``nn.Module`` class per block type (its parameters are
the constructor's arguments, rendered from the type's own definition,
:mod:`engine.codegen.typed_class`), one class per imported module class (``Bottleneck``,
``InvertedResidual``: instances with the same class and structure share it, the values
that differ become constructor arguments, :mod:`engine.codegen.shared_class`),
``nn.Sequential`` for numbered chains (ResNet's ``layer1``, the ``downsample``), and
attributes nested as the targets are (:mod:`engine.codegen.targets`), so its
``state_dict`` keys are the targets: those of the live model, which is this very text
compiled (:mod:`engine.runtime.build`), and torchvision's for templates and imports.
Which blocks can be modules is :mod:`engine.codegen.block_context`; the text of a class,
:mod:`engine.codegen.class_text`. No user text reaches the code except through
:func:`~engine.codegen.emit.comment_text` / ``doc_text``; names are sanitised; type
expressions are the checked trees of :mod:`engine.blocks.expr`. No torch import.
"""

from __future__ import annotations

from engine.blocks.hierarchy import records
from engine.codegen import node_code
from engine.codegen.block_context import (
    BlockContext,
    base_name,
    boundary,
    context,
    matches_type,
    owner,
    parent_block,
    relative,
    under,
)
from engine.codegen.class_text import ClassIR, Elem, attribute_at, node_fn, render_class, sequential
from engine.codegen.emit import Plan, _shape, doc_text, example_inputs, render
from engine.codegen.layer_text import _same_pads, layer_ctor, op_of
from engine.codegen.naming import sanitize
from engine.codegen.shared_class import share
from engine.codegen.typed_class import NotReadable, type_classes, typed_class
from engine.core.graph import GraphLike


def _literal_ir(ctx: BlockContext, path: str) -> ClassIR:
    """The class of a plain block (or of the whole design for ``path == ""``)."""
    model, plan = ctx.model, ctx.plan
    order = {n: i for i, n in enumerate(plan.order)}
    direct = [n for n in plan.order if owner(ctx, n) == path]
    children = [p for p in ctx.valid if parent_block(ctx, p) == path]
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
        attr = relative(ctx, path, ctx.scopes[p])
        name = local(attr.replace(".", "_"))
        out = boundary(ctx, p).outputs[0]
        items.append((order[out], "block", p, name, attr))
        for n in model.graph.nodes:
            if under(owner(ctx, n), p):
                elem_of[n] = name
    if path:
        b = boundary(ctx, path)
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
            attr = relative(ctx, path, plan.targets[n])
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
                module = attribute_at("self", attr.split(".")) if attr else ""
                fn = node_fn(t, plan.params[what], module)
            ins = [elem_of.get(s) or arg_of[s] for s in srcs]
            op = "fn" if fn else op_of(t)
            elems.append(Elem(name, ins, ctor, op, None, pads, fn, attr))
        else:
            srcs = boundary(ctx, what).sources
            ins = [elem_of.get(s) or arg_of[s] for s in srcs]
            elems.append(Elem(name, ins, ctx.ctor[what], attr=attr))
    if path:
        out_elem = elem_of[output]
        cname = base_name(ctx, path)
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


def _is_chain(ir: ClassIR) -> bool:
    if len(ir.inputs) != 1:
        return False
    prev = ir.inputs[0]
    for k, e in enumerate(ir.elems):
        if e.path != str(k) or e.ctor is None or e.pads or e.ins != [prev] or e.op != "call":
            return False  # an nn.Sequential only calls its children as they are
        prev = e.name
    return bool(ir.elems) and prev == ir.output


def _program(ctx: BlockContext) -> None:
    """The constructor of every block, innermost first (their classes written once)."""
    recs = records(ctx.model)
    for p in recs:
        if p in ctx.valid:
            ctx.matched[p] = matches_type(ctx, p)
            if ctx.matched[p] is not None:
                ctx.typed_names |= type_classes(ctx, ctx.matched[p])
    for depth in sorted({p.count(".") for p in ctx.valid}, reverse=True):
        pending = []
        for p in recs:
            if p not in ctx.valid or p.count(".") != depth:
                continue
            bt = ctx.matched[p]
            if bt is not None:
                try:
                    cls = typed_class(ctx, bt)
                except NotReadable:
                    pass
                else:
                    src = boundary(ctx, p).sources[0]
                    values = {**bt.params, **recs[p].get("params", {})}
                    kw = "".join(f", {k}={values[k]!r}" for k in bt.params)
                    ctx.ctor[p] = f"{cls}({ctx.plan.shapes[src][0]}{kw})"
                    continue
            ir = _literal_ir(ctx, p)
            if _is_chain(ir):
                ctx.ctor[p] = sequential([e.ctor for e in ir.elems])
                continue
            pending.append((p, ir))
        share(ctx, pending)


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
    ctx = context(graph, plan)
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
