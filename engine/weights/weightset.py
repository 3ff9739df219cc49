"""Which weights a design uses, per node, and how edits drop and undo restores them (no torch).

A :class:`WeightSet` holds trained or loaded tensors (numpy arrays) per node, each with
the node's *signature*: its type, parameters and input shapes. :meth:`WeightSet.sync`
compares the signatures with the current graph after every edit: a node whose signature
changed (a parameter edit, a new input width) or that was removed has its tensors moved
to a shelf, keyed by the old signature; a node whose signature matches a shelved one
again (after undo, or after editing a value back) gets them back. So editing a layer
drops that layer's weights only, and undo restores them, without the undo commands
knowing about weights. Nodes without weights use the seeded random initialisation.

Keys of :meth:`WeightSet.state` are the model's ``state_dict`` keys: each node's target
(:func:`engine.codegen.targets.module_targets`) and the tensor's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from engine.codegen.targets import module_targets


@dataclass(frozen=True)
class SyncReport:
    """What :meth:`WeightSet.sync` changed: nodes whose weights were dropped or restored."""

    dropped: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.dropped or self.restored)


def _graph(model):
    return getattr(model, "graph", model)


def names_for(model) -> dict[str, str]:
    """``{node: target}``: each module node's path, the prefix of its ``state_dict`` keys."""
    return module_targets(_graph(model))


def signature(model, analysis, node: str) -> str:
    """The node's type, parameters and input shapes, as text (equal text: same weights fit)."""
    g = _graph(model)
    data = g.nodes[node]
    preds = sorted(((k, u) for u, _v, k in g.in_edges(node, keys=True)), key=lambda t: t[0])
    shapes = []
    for _k, u in preds:
        r = analysis.nodes.get(u) if analysis is not None else None
        shape = list(r.shape) if r is not None and r.shape is not None else None
        # A C×H×W input: only C decides the weights' shapes (a new image size keeps them).
        shapes.append(shape[:1] if shape is not None and len(shape) == 3 else shape)
    return json.dumps([data["type"], data.get("params", {}), shapes], sort_keys=True, default=str)


def split_state(state: dict, names: dict[str, str]) -> tuple[dict[str, dict], list[str]]:
    """Group ``state_dict`` keys by node: ``({node: {suffix: array}}, unmatched keys)``."""
    by_attr = {a: n for n, a in names.items()}
    out: dict[str, dict] = {}
    unmatched = []
    for key, value in state.items():
        attr, _, suffix = key.rpartition(".")
        node = by_attr.get(attr)
        if node is None:
            unmatched.append(key)
            continue
        out.setdefault(node, {})[suffix] = np.asarray(value)
    return out, unmatched


class WeightSet:
    """The weights a design uses: random (seeded) unless trained or loaded.

    Attributes
    ----------
    kind : str
        ``"random"``, ``"trained"`` or ``"loaded"``.
    seed : int
        Seed of the random initialisation (nodes without stored weights).
    origin : str
        ``"trained on shapes, 97.3%"``, ``"loaded from FILE"`` (empty when random).
    version : int
        Bumped on every change of the tensors in use.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Back to random weights; forget everything stored and shelved."""
        self.kind = "random"
        self.origin = ""
        self.meta: dict[str, str] = {}
        self.nodes: dict[str, tuple[str, dict]] = {}  # node -> (signature, tensors)
        self.shelf: dict[tuple[str, str], dict] = {}  # (node, signature) -> tensors
        self.dropped: list[str] = []
        self.version = getattr(self, "version", 0) + 1

    # ------------------------------------------------------------------ set
    def assign(
        self, model, analysis, state: dict, kind: str, origin: str, meta: dict | None = None
    ) -> list[str]:
        """Use ``state`` (exported-code keys) for the current graph; return unmatched keys."""
        per_node, unmatched = split_state(state, names_for(model))
        self.kind, self.origin, self.meta = kind, origin, dict(meta or {})
        self.nodes = {n: (signature(model, analysis, n), t) for n, t in per_node.items()}
        self.shelf = {}
        self.dropped = []
        self.version += 1
        return unmatched

    # ------------------------------------------------------------------ follow edits
    def sync(self, model, analysis) -> SyncReport:
        """Shelve the weights of changed or removed nodes, restore those that match again."""
        if self.kind == "random":
            return SyncReport()
        g = _graph(model)
        dropped, restored = [], []
        for node, (sig, tensors) in list(self.nodes.items()):
            if node not in g or signature(model, analysis, node) != sig:
                self.shelf[(node, sig)] = tensors
                del self.nodes[node]
                dropped.append(node)
        for (node, sig), tensors in list(self.shelf.items()):
            if node in g and node not in self.nodes and signature(model, analysis, node) == sig:
                self.nodes[node] = (sig, tensors)
                del self.shelf[(node, sig)]
                restored.append(node)
        if dropped or restored:
            self.dropped = [n for n in dict.fromkeys(self.dropped + dropped) if n not in self.nodes]
            self.dropped = [n for n in self.dropped if n in g]
            self.version += 1
        return SyncReport(tuple(dropped), tuple(restored))

    def rename(self, old: str, new: str) -> None:
        """Follow a node rename (the tensors stay with the node)."""
        if old in self.nodes:
            self.nodes[new] = self.nodes.pop(old)
        for node, sig in list(self.shelf):
            if node == old:
                self.shelf[(new, sig)] = self.shelf.pop((node, sig))
        self.dropped = [new if n == old else n for n in self.dropped]

    # ------------------------------------------------------------------ read
    def state(self, model) -> dict[str, np.ndarray]:
        """The stored tensors under the current exported-code keys (``{}`` when random)."""
        names = names_for(model)
        out = {}
        for node, (_sig, tensors) in self.nodes.items():
            attr = names.get(node)
            if attr is None:
                continue
            for suffix, arr in tensors.items():
                out[f"{attr}.{suffix}"] = arr
        return out

    def text(self) -> str:
        """What the window says: ``random, seed 0``, ``trained on shapes, 97.3%`` …"""
        if self.kind == "random" or (not self.nodes and not self.shelf):
            return f"random, seed {self.seed}"
        if not self.dropped:
            return self.origin
        names = ", ".join(self.dropped[:3]) + (" …" if len(self.dropped) > 3 else "")
        return f"{self.origin}; {names} random after edit"
