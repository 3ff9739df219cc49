"""Module targets: the one key of every layer's weights (torch.fx's name/target split).

A module node's TARGET is its dotted module path, e.g. ``layer2.0.downsample.0``: the
prefix of its ``state_dict`` keys in the live model, in both exports, in every weights
file ConvCanvas writes and in torchvision's own files. It is made of

- the node's ``scope`` (the block or module path it sits in, ``layer2.0.downsample``),
  each part an attribute name: numbers stay numbers (``nn.Sequential`` indices), as do
  hyphenated words (torchvision's RegNet has ``block1-0``), other text is sanitised
  (:func:`engine.codegen.naming.sanitize`);
- the node's own part: its id with the scope's stem taken off (``layer2_0_downsample_0``
  in scope ``layer2.0.downsample`` → ``0``; ``layer1_0_conv1`` in ``layer1.0`` →
  ``conv1``; the stem is the scope or its target with ``_`` for dots), else the
  sanitised id.

Templates (block instances) and imports (one node per module, its id the module's path
with ``_``) so get exactly torchvision's keys. Names within one parent are
de-duplicated (a block keeps its name; a node gets ``_1``, ``_2``…). The *names* of the
Python values in generated code are separate (:mod:`engine.codegen.naming`).
No torch import here.
"""

from __future__ import annotations

import re

import networkx as nx

from engine.codegen.emit import _nx as _named
from engine.codegen.emit import node_is_module
from engine.codegen.naming import class_name, module_names, sanitize
from engine.core.graph import GraphLike

__all__ = ["module_targets", "scope_targets", "legacy_flat_keys", "part_name"]


def _nx(graph: GraphLike) -> nx.MultiDiGraph:
    return graph if isinstance(graph, nx.Graph) else graph.graph


# Methods of nn.ModuleDict (the flat printing's containers): no part may take their name.
_CONTAINER_ATTRS = frozenset({"clear", "pop", "keys", "items", "values", "update"})


# A part with a hyphen (torchvision's RegNet has ``block1-0``) is kept: safe in a string.
_HYPHENATED = re.compile(r"[A-Za-z0-9_]+(-[A-Za-z0-9_]+)+\Z")


def part_name(text: str, hyphens: bool = False) -> str:
    """One part of a target: a number as it is, other text as an identifier.

    With ``hyphens`` (block paths), a hyphenated word stays as it is (``block1-0``).
    """
    text = str(text)
    if text.isdigit() or (hyphens and len(text) <= 60 and _HYPHENATED.match(text)):
        return text
    return sanitize(text, _CONTAINER_ATTRS)


def _free(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    k = 1
    while f"{name}_{k}" in taken:
        k += 1
    return f"{name}_{k}"


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _scope_paths(g: nx.MultiDiGraph) -> list[str]:
    """Every scope path and block path with its prefixes, parents first, in node order."""
    seen: dict[str, None] = {}
    for n in g.nodes:
        scope = g.nodes[n].get("scope") or ""
        parts = scope.split(".") if scope else []
        for k in range(1, len(parts) + 1):
            seen.setdefault(".".join(parts[:k]))
    for path in g.graph.get("blocks", {}) or {}:
        parts = str(path).split(".")
        for k in range(1, len(parts) + 1):
            seen.setdefault(".".join(parts[:k]))
    order = {p: i for i, p in enumerate(seen)}
    return sorted(seen, key=lambda p: (p.count("."), order[p]))


def _layout(graph: GraphLike) -> tuple[dict[str, str], dict[str, str]]:
    """``(scope path → target path, module node → target)``."""
    g = _nx(graph)
    taken: dict[str, set[str]] = {}
    paths: dict[str, str] = {"": ""}
    for path in _scope_paths(g):
        parent, _, last = path.rpartition(".")
        if not last:
            continue
        where = paths.get(parent, "")
        used = taken.setdefault(where, set())
        name = _free(part_name(last, hyphens=True), used)
        used.add(name)
        paths[path] = _join(where, name)
    nodes: dict[str, str] = {}
    for n, data in g.nodes(data=True):
        if not node_is_module(data.get("type"), data.get("params") or {}):
            continue
        scope = data.get("scope") or ""
        where = paths.get(scope, "")
        nid = str(n)
        rest = nid
        for stem in {scope.replace(".", "_") + "_", where.replace(".", "_") + "_"}:
            if scope and nid.startswith(stem) and len(nid) > len(stem):
                rest = nid[len(stem) :]
        used = taken.setdefault(where, set())
        name = _free(part_name(rest), used)
        used.add(name)
        nodes[n] = _join(where, name)
    return paths, nodes


def module_targets(graph: GraphLike) -> dict[str, str]:
    """The target of every module node: ``{node id: dotted module path}``.

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        The network (no analysis needed; analysis errors do not matter).

    Returns
    -------
    dict[str, str]
        For each node whose type is built from an ``nn`` module (conv, batch norm,
        linear, activations, pools…), in node order, its module path: the prefix of its
        ``state_dict`` keys (``layer2.0.downsample.0`` → ``layer2.0.downsample.0.weight``).
        Expression nodes (add, concat, flatten…) and inputs have no target.
        Targets are unique and no target is a prefix path of another.
    """
    return _layout(graph)[1]


def scope_targets(graph: GraphLike) -> dict[str, str]:
    """The module path of every scope / block path (``{"layer1.0": "layer1.0", …}``).

    The containers of :func:`module_targets`: a block path and its target differ only
    where a part had to be sanitised or de-duplicated.
    """
    paths = _layout(graph)[0]
    paths.pop("")
    return paths


def legacy_flat_keys(graph: GraphLike) -> dict[str, str]:
    """``{old flat prefix: target}`` of every module node.

    Weights saved by earlier releases used one flat attribute per layer
    (:func:`engine.codegen.naming.module_names`, e.g. ``layer1_0_conv1``); a key
    ``flat + "." + rest`` of such a file is ``target + "." + rest`` today.
    """
    g, model_name = _named(graph)
    names = module_names(g, reserved={class_name(model_name)})
    return {names[n]: t for n, t in module_targets(graph).items()}
