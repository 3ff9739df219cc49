"""Compare designs: whole-network totals, their change against a baseline, and a breakdown.

The compare view and ``main.py compare`` use these plain functions. A design is read
from its :class:`~engine.analysis.analyzer.Analysis` (the editor's live one, so a
comparison after an edit costs one pass over the nodes, not a new analysis).

The breakdown splits each design into groups, the same for every compared design:

* **blocks** when every design has at least three (two plain containers, like VGG's
  ``features`` and ``classifier``, say less than its stages): a block is the top of a node's
  ``scope`` (``layer2.0.downsample`` → ``layer2.0``) or, in a design without scopes, the
  common id prefix of template-style names (``layer1_0_conv1`` → ``layer1_0``,
  ``inception3a_concat`` → ``inception3a``); nodes before the first block form ``stem``, those after the last
  ``head``, and a node between blocks joins the block before it (GoogLeNet's pools);
* else **stages**: runs, in topological order, of nodes whose output has the same
  spatial size (``56×56``); flat outputs form the stage ``flat``;
* else (every design is one stage, like a teaching block) **layers**: the nodes that
  have parameters or MACs, by id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from engine.analysis.analyzer import Analysis, analyze
from engine.core.graph import GraphLike

#: The summed quantities of ``summary --json``'s totals, in display order.
TOTAL_KEYS = (
    "params",
    "weights",
    "biases",
    "macs",
    "activation_bytes",
    "peak_activation_bytes",
)
#: The quantities ``deltas`` reports (design minus baseline).
DELTA_KEYS = ("params", "weights", "macs", "activation_bytes", "peak_activation_bytes")
#: The quantities of the breakdown.
GROUP_KEYS = ("params", "macs", "activation_bytes")

_BLOCK = re.compile(r"^([A-Za-z]+\d+[a-z]?(?:_\d+)?)_(?!\d+$).+$")


@dataclass
class DesignSummary:
    """What a comparison shows of one design.

    Attributes
    ----------
    name, file : str
        The design's name and where it comes from (a path, a template, a tab).
    totals : dict[str, int]
        Keys :data:`TOTAL_KEYS`, equal to ``summary --json``'s totals.
    output_shape : tuple or None
        The shape of the output node.
    output_rf : tuple or None
        ``((size_h, jump_h, start_h), (size_w, jump_w, start_w))`` of the output.
    depth : int
        Nodes on the longest path from an input (inputs count 0).
    layers : int
        Convolution and linear layers on the path with the most of them (ResNet-18: 18).
    nodes : int
        Number of nodes.
    errors : list[tuple[str, str]]
        ``(node, message)`` of every node in error.
    """

    name: str
    file: str
    totals: dict[str, int]
    output_shape: tuple | None
    output_rf: tuple | None
    depth: int
    layers: int
    nodes: int
    errors: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The JSON form of ``main.py compare --json``."""
        rf = None
        if self.output_rf is not None:
            (sh, jh, st_h), (sw, jw, st_w) = self.output_rf
            rf = {"size": [sh, sw], "jump": [jh, jw], "start": [st_h, st_w]}
        return {
            "name": self.name,
            "file": self.file,
            "totals": dict(self.totals),
            "output_shape": list(self.output_shape) if self.output_shape is not None else None,
            "receptive_field": rf,
            "depth": self.depth,
            "layers": self.layers,
            "nodes": self.nodes,
        }


@dataclass
class Breakdown:
    """Per-group sums of every compared design, on shared group names.

    Attributes
    ----------
    kind : str
        ``"blocks"``, ``"stages"`` or ``"layers"``.
    groups : list[str]
        Group names in display order (the union over the designs).
    values : list[dict[str, dict[str, int]]]
        ``values[i][group][key]`` for design ``i`` and ``key`` in :data:`GROUP_KEYS`
        (absent groups are missing: the design has no such group).
    """

    kind: str
    groups: list[str]
    values: list[dict[str, dict[str, int]]]

    def series(self, i: int, key: str) -> list[int]:
        """Design ``i``'s ``key`` for every group (0 where it has none)."""
        return [self.values[i].get(g, {}).get(key, 0) for g in self.groups]


@dataclass
class Comparison:
    """Designs, their deltas against the baseline, and the breakdown.

    Attributes
    ----------
    designs : list[DesignSummary]
    baseline : int
        Index of the baseline design.
    deltas : list[dict[str, int]]
        ``deltas[i][key]`` is design ``i`` minus the baseline, keys :data:`DELTA_KEYS`.
    breakdown : Breakdown
    """

    designs: list[DesignSummary]
    baseline: int
    deltas: list[dict[str, int]]
    breakdown: Breakdown

    def to_dict(self) -> dict:
        """The JSON form of ``main.py compare --json``."""
        return {
            "designs": [d.to_dict() for d in self.designs],
            "baseline": self.baseline,
            "deltas": [dict(d) for d in self.deltas],
        }


def _as_analysis(design: GraphLike | Analysis) -> Analysis:
    return design if isinstance(design, Analysis) else analyze(design)


def summarize(design: GraphLike | Analysis, name: str = "", file: str = "") -> DesignSummary:
    """The totals, output and depth of one design.

    Parameters
    ----------
    design : GraphModel, networkx.MultiDiGraph or Analysis
        The design, or its (live) analysis.
    name, file : str
        How to call it.

    Returns
    -------
    DesignSummary
    """
    a = _as_analysis(design)
    t = a.totals
    totals = t.to_dict()
    out = a.nodes[t.output].shape if t.output is not None else None
    depth = 0
    layers: dict[str, int] = {}
    inputs = a.inputs
    nodes = a.nodes
    best = 0
    for n in a.order:
        r = nodes[n]
        if r.shape is None:
            continue
        depth = max(depth, r.depth)
        prev = max((layers.get(p, 0) for p in inputs[n]), default=0)
        k = prev + (1 if r.weights else 0)
        layers[n] = k
        best = max(best, k)
    return DesignSummary(
        name=name,
        file=file,
        totals={k: int(totals[k]) for k in TOTAL_KEYS},
        output_shape=tuple(out) if out is not None else None,
        output_rf=t.output_rf,
        depth=depth,
        layers=best,
        nodes=len(a.order),
        errors=list(a.errors),
    )


def deltas(designs: list[DesignSummary], baseline: int = 0) -> list[dict[str, int]]:
    """Each design's totals minus the baseline's (the baseline's own entry is all zeros)."""
    base = designs[baseline].totals
    return [{k: d.totals[k] - base[k] for k in DELTA_KEYS} for d in designs]


@lru_cache(maxsize=1 << 16)
def block_of(node: str) -> str | None:
    """The block a template-style node id belongs to: ``layer1_0_conv1`` → ``layer1_0``."""
    m = _BLOCK.match(node)
    return m.group(1) if m else None


def scope_block(scope: str) -> str:
    """The top block of a module path: ``layer2.0.downsample`` → ``layer2.0``, ``inception3a.branch2.0`` → ``inception3a``."""
    parts = scope.split(".")
    return ".".join(parts[: 2 if len(parts) > 1 and parts[1].isdigit() else 1])


def _blocks(a: Analysis) -> dict[str, dict[str, int]] | None:
    """Per-block sums, or ``None`` when the design has fewer than three blocks.

    Nodes with a ``scope`` (set by blocks and the importer) are grouped by it; a design
    without scopes is grouped by its ids (:func:`block_of`).
    """
    data = a.graph.nodes  # node → attribute dict (public view)
    if any(data[n].get("scope") for n in a.order):
        keyed = [
            (n, scope_block(data[n]["scope"]) if data[n].get("scope") else None) for n in a.order
        ]
    else:
        keyed = [(n, block_of(n)) for n in a.order]
    names = {b for _, b in keyed if b is not None}
    if len(names) < 3:
        return None
    last = max(i for i, (_, b) in enumerate(keyed) if b is not None)
    out: dict[str, dict[str, int]] = {}
    current = "stem"
    for i, (n, b) in enumerate(keyed):
        if b is not None:
            current = b
        _add(out, "head" if i > last else current, a.nodes[n])
    return out


def _stage_name(shape: tuple | None) -> str | None:
    if shape is None:
        return None
    if len(shape) == 3:
        return f"{shape[1]}×{shape[2]}"
    return "flat"


def _stages(a: Analysis) -> dict[str, dict[str, int]]:
    """Per-stage sums: runs of nodes with the same output size (a repeated size gets ``#2``)."""
    out: dict[str, dict[str, int]] = {}
    current = None
    used: dict[str, int] = {}
    label = ""
    for n in a.order:
        r = a.nodes[n]
        name = _stage_name(r.shape)
        if name is None:
            continue
        if name != current:
            current = name
            used[name] = used.get(name, 0) + 1
            label = name if used[name] == 1 else f"{name} #{used[name]}"
        _add(out, label, r)
    return out


def _layers(a: Analysis) -> dict[str, dict[str, int]]:
    """Per-node sums of the nodes with parameters or MACs."""
    out: dict[str, dict[str, int]] = {}
    for n in a.order:
        r = a.nodes[n]
        if r.shape is not None and (r.params or r.macs):
            _add(out, n, r)
    return out


def _add(out: dict[str, dict[str, int]], group: str, r) -> None:
    g = out.get(group)
    if g is None:
        g = out[group] = {"params": 0, "macs": 0, "activation_bytes": 0}
    if r.shape is not None:
        g["params"] += r.params
        g["macs"] += r.macs
        g["activation_bytes"] += r.activation_bytes


def _natural(name: str) -> list:
    """Sort key that puts ``layer2_0`` before ``layer10_0``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _union(per_design: list[dict[str, dict[str, int]]], kind: str) -> list[str]:
    """Group names across the designs: blocks ``stem``, natural order, ``head``; else first seen."""
    names: dict[str, None] = {}
    for d in per_design:
        for g in d:
            names.setdefault(g, None)
    if kind != "blocks":
        return list(names)
    inner = sorted((g for g in names if g not in ("stem", "head")), key=_natural)
    return [g for g in ("stem",) if g in names] + inner + [g for g in ("head",) if g in names]


def breakdown(analyses: list[Analysis]) -> Breakdown:
    """Split every design into the same kind of groups (see the module docstring).

    Parameters
    ----------
    analyses : list[Analysis]

    Returns
    -------
    Breakdown
    """
    blocks = [_blocks(a) for a in analyses]
    if analyses and all(b is not None for b in blocks):
        values = [b for b in blocks if b is not None]
        return Breakdown("blocks", _union(values, "blocks"), values)
    stages = [_stages(a) for a in analyses]
    if any(len(s) > 1 for s in stages):
        return Breakdown("stages", _union(stages, "stages"), stages)
    layers = [_layers(a) for a in analyses]
    return Breakdown("layers", _union(layers, "layers"), layers)


def distinct_names(names: list[str], files: list[str]) -> list[str]:
    """Names that tell designs apart: a repeated name gains its file's name when that is
    unique among them, else its position (``resnet (a.json)``, ``resnet (#3)``)."""
    from collections import Counter
    from pathlib import PurePath

    counts = Counter(names)
    out = []
    for i, (name, file) in enumerate(zip(names, files, strict=True)):
        if counts[name] == 1:
            out.append(name)
            continue
        same = [
            PurePath(files[j]).name if files[j] else "" for j, m in enumerate(names) if m == name
        ]
        label = PurePath(file).name if file else ""
        out.append(
            f"{name} ({label})" if label and same.count(label) == 1 else f"{name} (#{i + 1})"
        )
    return out


def compare(
    designs: list[GraphLike | Analysis],
    names: list[str] | None = None,
    files: list[str] | None = None,
    baseline: int = 0,
) -> Comparison:
    """Compare designs against the baseline ``designs[baseline]``.

    Parameters
    ----------
    designs : list of GraphModel, networkx.MultiDiGraph or Analysis
        At least one design; an :class:`Analysis` is used as it is (no re-analysis).
    names, files : list[str], optional
        How to call each design (default: the graph's name, and ``""``).
    baseline : int
        Index of the baseline.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        If there is no design or ``baseline`` is out of range.
    """
    if not designs:
        raise ValueError("compare needs at least one design")
    if not 0 <= baseline < len(designs):
        raise ValueError(f"baseline {baseline} is not one of the {len(designs)} designs")
    analyses = [_as_analysis(d) for d in designs]
    if names is None:
        names = [getattr(d, "name", "") or f"design {i + 1}" for i, d in enumerate(designs)]
    files = files if files is not None else [""] * len(analyses)
    names = distinct_names(list(names), list(files))
    summaries = [summarize(a, n, f) for a, n, f in zip(analyses, names, files)]
    return Comparison(summaries, baseline, deltas(summaries, baseline), breakdown(analyses))
