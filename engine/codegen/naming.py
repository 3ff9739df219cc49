"""Python identifiers for the nodes of a graph (attribute names of the torch model).

A node id that is already a plain ASCII identifier and collides with nothing is used as
it is, so ``state_dict`` keys are predictable (``conv1.weight``). Other ids are
sanitised (``'conv-1'`` → ``conv_1``, ``'3x3'`` → ``n3x3``, ``'class'`` → ``class_``,
``'卷积'`` → ``u5377_u79ef``) and de-duplicated the way ``torch.fx`` names values
(``_1``, ``_2``, … never taking a name another node uses as is). The same name serves
as the submodule attribute and as the local variable in ``forward``, so it must avoid
Python keywords, ``nn.Module``'s own attributes and the names the generated ``forward``
reads (``self``, ``torch``, ``nn``, and the builtins ``dict`` and ``zip`` of capture mode).
Other builtins are fine: a local ``input`` in ``forward`` shadows nothing it uses.
No torch import here.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

import networkx as nx

from engine.core.graph import GraphLike

FALLBACK_CLASS = "ConvCanvasNet"

# Names that ``forward`` reads besides its locals (module-level names of the ``__main__``
# block are globals, which the locals of ``forward`` cannot disturb).
# (and the helper classes of engine.codegen.node_code.HELPERS)
CODE_NAMES = frozenset({"self", "torch", "nn", "GlobalResponseNorm"})
# Builtins that the generated ``forward`` calls (capture mode returns ``dict(zip(...))``).
FORWARD_BUILTINS = frozenset({"dict", "zip"})

# Attributes of an ``nn.Module`` instance (torch 2.x, dunders excluded: every id starting
# with ``__`` is sanitised anyway). tests/test_codegen.py checks this covers the
# installed torch.
MODULE_ATTRS = frozenset(
    """
T_destination _apply _backward_hooks _backward_pre_hooks _buffers _call_impl
_compiled_call_impl _forward_hooks _forward_hooks_always_called _forward_hooks_with_kwargs
_forward_pre_hooks _forward_pre_hooks_with_kwargs _get_backward_hooks _get_backward_pre_hooks
_get_name _is_full_backward_hook _load_from_state_dict _load_state_dict_post_hooks
_load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules _named_members
_non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook
_register_state_dict_hook _replicate_for_data_parallel _save_to_state_dict _slow_forward
_state_dict_hooks _state_dict_pre_hooks _version _wrapped_call_impl add_module apply bfloat16
buffers call_super_init children compile cpu cuda double dump_patches eval extra_repr float
forward get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict
modules mtia named_buffers named_children named_modules named_parameters parameters
register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
set_submodule share_memory state_dict to to_empty train training type xpu zero_grad
_is_hpu _version_counter
""".split()
)

RESERVED = (
    frozenset(keyword.kwlist)
    | frozenset(keyword.softkwlist)
    | FORWARD_BUILTINS
    | MODULE_ATTRS
    | CODE_NAMES
)

_ASCII_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BAD = re.compile(r"[^A-Za-z0-9_]+")
_MAX_LEN = 60


def is_plain(name: str, reserved: frozenset | set = frozenset()) -> bool:
    """Whether ``name`` can be used as an attribute and local name as it is."""
    return (
        bool(_ASCII_ID.match(name))
        and not name.startswith("__")
        and name not in RESERVED
        and name not in reserved
    )


def _ascii_words(text: str) -> str:
    """Transliterate to ASCII: accents dropped, other characters as ``u<hex>`` words."""
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if ch.isascii():
            out.append(ch)
        elif ch == "\u00d7":  # the multiplication sign of "3×3"
            out.append("x")
        elif unicodedata.combining(ch):
            continue
        elif unicodedata.category(ch)[0] in "LN":
            out.append(f"_u{ord(ch):04x}_")
        else:  # punctuation, symbols, spaces: a word break
            out.append(" ")
    return "".join(out)


def sanitize(name: str, reserved: frozenset | set = frozenset()) -> str:
    """A safe identifier close to ``name`` (not de-duplicated).

    Parameters
    ----------
    name : str
        Any text (a node id).
    reserved : set of str
        Extra names to avoid (suffixed with ``_``).

    Returns
    -------
    str
        An ASCII identifier that is no keyword, ``nn.Module`` attribute or
        reserved name, and does not start with ``__`` (no name mangling).
    """
    if is_plain(name, reserved):
        return name
    text = _BAD.sub("_", _ascii_words(str(name)))
    text = re.sub(r"__+", "_", text).strip("_")[:_MAX_LEN].rstrip("_")
    if not text:
        text = "node"
    if text[0].isdigit():
        text = "n" + text
    while text in RESERVED or text in reserved:
        text += "_"
    return text


def _bump(base: str, taken: set[str], reserved: frozenset | set) -> str:
    """``base`` or ``base_1``, ``base_2``… : the first name not taken nor reserved."""
    if base not in taken:
        return base
    m = re.match(r"(.*)_(\d+)\Z", base)
    stem, i = (m.group(1), int(m.group(2))) if m else (base, 0)
    while True:
        i += 1
        cand = f"{stem}_{i}"
        if cand not in taken and cand not in RESERVED and cand not in reserved:
            return cand


def module_names(graph: GraphLike, reserved: frozenset | set = frozenset()) -> dict[str, str]:
    """The attribute / local-variable name of every node.

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        The network.
    reserved : set of str, optional
        Further names to avoid (e.g. the generated class's name).

    Returns
    -------
    dict[str, str]
        ``{node_id: name}`` in the graph's node order; names are unique.
    """
    g = graph.graph if not isinstance(graph, nx.Graph) else graph
    ids = list(g.nodes)
    names: dict[str, str] = {}
    taken: set[str] = set()
    for n in ids:  # plain ids first: they keep their names whatever the others are
        if isinstance(n, str) and is_plain(n, reserved):
            names[n] = n
            taken.add(n)
    bases = {n: sanitize(str(n), reserved) for n in ids if n not in names}
    for n, base in bases.items():  # then sanitised names that are still free
        if base not in taken:
            names[n] = base
            taken.add(base)
    for n, base in bases.items():  # then the rest, numbered
        if n not in names:
            names[n] = _bump(base, taken, reserved)
            taken.add(names[n])
    return {n: names[n] for n in ids}


def design_class_name(model_name: str | None, taken: set[str] | frozenset[str]) -> str:
    """:func:`class_name`, avoiding the class names in ``taken`` (its block types' classes:
    a design named like one of them would redefine it): ``Net``, ``Net2``, … appended."""
    base = class_name(model_name)
    name, k = base, 2
    while name in taken:
        name = f"{base}Net" if k == 2 and not base.endswith("Net") else f"{base}{k}"
        k += 1
    return name


def block_class_names(graph_attrs: dict) -> frozenset[str]:
    """The class names block types may use in an export of a design (``graph.graph``):
    the design's own types' and every built-in type's."""
    from engine.blocks.library import BUILTIN_TYPES  # blocks import codegen names

    own = {d.get("class") for d in (graph_attrs.get("block_types") or {}).values()
           if isinstance(d, dict)}  # fmt: skip
    return frozenset({bt.class_name for bt in BUILTIN_TYPES.values()} | {c for c in own if c})


def class_name(model_name: str | None) -> str:
    """A CamelCase class name from the design's name (``'resnet-50 v1'`` → ``Resnet50V1``)."""
    text = _ascii_words(model_name or "")
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]
    name = "".join(w[0].upper() + w[1:] for w in words)[:_MAX_LEN]
    if not name or name == "Untitled":
        return FALLBACK_CLASS
    if name[0].isdigit():
        name = "Net" + name
    if name in RESERVED or keyword.iskeyword(name) or hasattr(builtins, name):  # module level
        name += "Net"
    return name
