"""The text of one class of the readable export: its elements and how they print.

A :class:`ClassIR` is a class to write: constructor arguments, ``forward`` inputs, one
:class:`Elem` per submodule or expression, the output. :func:`render_class` prints it as
a person writes it: containers for deeper attribute paths, optional members, and
``forward`` reusing a variable while its value has no other reader
(``x = self.layer1(x)``), so activations are freed as in hand-written code. No torch
import.
"""

from __future__ import annotations

import keyword
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from engine.codegen import node_code


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


# --------------------------------------------------------------------------- rendering
def _indent(text: str, n: int) -> str:
    return text.replace("\n", "\n" + " " * n)


def _attribute(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def attribute_at(base: str, parts: list[str]) -> str:
    """``self.layer1`` / ``getattr(self.stage, "0")``: the attribute at ``parts``."""
    for p in parts:
        base = f"{base}.{p}" if _attribute(p) else f'getattr({base}, "{p}")'
    return base


def _set(base: str, path: str, value: str) -> str:
    *parents, last = path.split(".")
    obj = attribute_at(base, parents)
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
        mod = attribute_at("self", e.path.split("."))
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


def node_fn(ntype: str, p: dict, module: str) -> Callable[[list[str]], str]:
    """The forward expression of a node (its submodule ``module``), given its inputs."""
    return lambda args: node_code.forward_text(ntype, p, args, module)


def sequential(parts: list[str]) -> str:
    """An ``nn.Sequential`` of the constructor texts ``parts``, one per line."""
    return "nn.Sequential(\n" + "".join(f"    {_indent(p, 4)},\n" for p in parts) + ")"
