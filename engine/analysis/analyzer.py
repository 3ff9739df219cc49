"""Shape, cost and receptive-field propagation over the graph.

:func:`analyze` runs once over a graph; :class:`Analyzer` keeps the result of a
:class:`~engine.core.graph.GraphModel` current after every edit, recomputing only the edited
node's descendants and stopping where a node's output did not change.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable, Iterable

import networkx as nx

from engine.analysis.results import NodeResult, Totals
from engine.core.graph import GraphEvent, GraphLike, GraphModel
from engine.nodes import (
    INFER_MERGE,
    INFER_ONE,
    INPUT_RF,
    NODE_TYPES,
    RECEPTIVE_MERGE,
    RECEPTIVE_ONE,
    Problem,
    fmt_shape,
)

__all__ = ["Analysis", "Analyzer", "NodeResult", "Totals", "analyze", "receptive_field"]

BYTES_PER_VALUE = 4  # float32
_MIN_INPUTS = {name: t.min_inputs for name, t in NODE_TYPES.items()}
_NO_INPUTS: list[str] = []  # shared, never mutated


def _graph_of(graph: GraphLike) -> nx.MultiDiGraph:
    return graph.graph if isinstance(graph, GraphModel) else graph


def _order(
    g: nx.MultiDiGraph, inputs: dict | None = None
) -> tuple[list[str], set[str], dict[str, list[str]]]:
    """Kahn's topological order (stable: insertion order breaks ties) and nodes on cycles.

    Also returns every node's distinct successors in the graph's edge order. If
    ``inputs`` is given, it is filled with every node's inputs in port order on the way.
    Reads the graph through networkx's public API only (one pass over its edges).
    """
    succ: dict[str, list[str]] = {n: [] for n in g}
    ports: dict[str, list[tuple[int, str]]] = {}
    indeg = dict.fromkeys(succ, 0)
    for u, v, k in g.edges(keys=True):  # grouped by source, then by target
        s = succ[u]
        if not s or s[-1] != v:
            s.append(v)
            indeg[v] += 1
        p = ports.get(v)
        if p is None:
            ports[v] = [(k, u)]
        else:
            p.append((k, u))
    order: list[str] = []
    for n, k in indeg.items():
        if not k:
            order.append(n)
        if inputs is not None:
            p = ports.get(n)
            if p is None:
                inputs[n] = _NO_INPUTS
            elif len(p) == 1:
                inputs[n] = [p[0][1]]
            else:
                p.sort()
                inputs[n] = [u for _, u in p]
    for n in order:  # Kahn: the list grows while it is walked
        for v in succ[n]:
            d = indeg[v] - 1
            indeg[v] = d
            if not d:
                order.append(v)
    if len(order) == len(indeg):
        return order, set(), succ
    on_cycle: set[str] = set()
    for comp in nx.strongly_connected_components(g):
        if len(comp) > 1:
            on_cycle |= comp
        else:
            (n,) = comp
            if n in succ[n]:
                on_cycle.add(n)
    # Nodes on cycles come next (insertion order); then the nodes downstream of them, in a
    # topological order of their own: without the cycle nodes, the rest is acyclic.
    placed = set(order)
    order.extend(n for n in succ if n in on_cycle)
    rest = [n for n in succ if n not in placed and n not in on_cycle]
    indeg = dict.fromkeys(rest, 0)
    for u, vs in succ.items():
        if u not in placed and u not in on_cycle:
            for v in vs:
                indeg[v] += 1
    ready = [n for n in rest if indeg[n] == 0]
    i = 0
    while i < len(ready):
        n = ready[i]
        i += 1
        order.append(n)
        for v in succ[n]:
            if v in indeg:
                indeg[v] -= 1
                if indeg[v] == 0:
                    ready.append(v)
    return order, on_cycle, succ


class Analysis:
    """The analysis of a whole graph.

    Attributes
    ----------
    nodes : dict[str, NodeResult]
        One result per node.
    order : list[str]
        A topological order (nodes on cycles last).
    successors : dict[str, list[str]]
        Every node's distinct successors, in the graph's edge order.
    """

    def __init__(self, graph: GraphLike) -> None:
        self.graph: nx.MultiDiGraph = _graph_of(graph)
        self.nodes: dict[str, NodeResult] = {}
        self.order: list[str] = []
        self.index: dict[str, int] = {}
        self.inputs: dict[str, list[str]] = {}
        self.on_cycle: set[str] = set()
        self.successors: dict[str, list[str]] = {}
        self._data: dict[str, dict] = {}  # node → its attribute dict (type, compiled, ...)
        self._totals: Totals | None = None
        self._memory: _MemoryProfile | None = None  # for totals after parameter edits
        self.recomputed = 0  # nodes recomputed by the last update (for tests and benches)
        self.rebuild()

    # ------------------------------------------------------------------ core
    def _compute(self, n: str) -> NodeResult:
        data = self._data[n]
        t = data["type"]
        c = data["compiled"]
        if t == "input":
            return NodeResult(c, 0, 0, 0, 0, c[0] * c[1] * c[2] * BYTES_PER_VALUE, INPUT_RF)
        ins = self.inputs[n]
        if n in self.on_cycle:
            return NodeResult(error=f"{t} '{n}' is part of a cycle; remove one of its edges")
        k = len(ins)
        if k < _MIN_INPUTS[t]:
            if not ins:
                return NodeResult(error=f"{t} '{n}' has no input; connect a node to it")
            return NodeResult(
                error=f"{t} '{n}' needs at least {_MIN_INPUTS[t]} inputs, has {k}; connect another"
            )
        nodes = self.nodes
        one = INFER_ONE.get(t)
        if one is not None:
            if k > 1:
                return NodeResult(
                    error=f"{t} '{n}' takes one input but has {k}; disconnect all but one"
                )
            r = nodes[ins[0]]
            shape = r.shape
            if shape is None:
                return NodeResult(waiting_on=r.waiting_on or ins[0], depth=r.depth + 1)
            depth = r.depth + 1
            try:
                out, w, b, o, macs = one(c, shape, ins[0])
            except Problem as exc:
                return NodeResult(error=f"{t} '{n}' {exc}", depth=depth)
            rf = RECEPTIVE_ONE[t](c, r.rf, shape)
        else:
            shapes, rfs, depth = [], [], 0
            for u in ins:
                r = nodes[u]
                if r.shape is None:
                    return NodeResult(waiting_on=r.waiting_on or u, depth=r.depth + 1)
                shapes.append(r.shape)
                rfs.append(r.rf)
                if r.depth >= depth:
                    depth = r.depth + 1
            try:
                out, w, b, o, macs = INFER_MERGE[t](c, shapes, ins)
            except Problem as exc:
                return NodeResult(error=f"{t} '{n}' {exc}", depth=depth)
            rf = RECEPTIVE_MERGE[t](c, rfs, shapes)
        size = out[0] * out[1] * out[2] if len(out) == 3 else out[0]
        if size <= 0:
            return NodeResult(
                error=f"{t} '{n}' would output {fmt_shape(out)}: sizes must be positive",
                depth=depth,
            )
        return NodeResult(out, w, b, o, macs, size * BYTES_PER_VALUE, rf, None, None, depth)

    def _reorder(self) -> None:
        """Recompute the order, the order's index and every node's ordered inputs."""
        self.inputs = {}
        self.order, self.on_cycle, self.successors = _order(self.graph, self.inputs)
        self._data = dict(self.graph.nodes(data=True))
        self.index = dict(zip(self.order, range(len(self.order))))

    def rebuild(self) -> None:
        """Recompute order, inputs and every node, with the totals in the same pass."""
        # A big graph allocates tens of thousands of small acyclic objects here: pausing
        # the cyclic garbage collector meanwhile avoids full collections mid-analysis.
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            self._memory = None
            self._reorder()
            self._totals = self._compute_all()
        finally:
            if paused:
                gc.enable()
        self.recomputed = len(self.order)

    def _compute_all(self) -> Totals:
        """Compute every node in order and return the totals (the hot loop of a full analysis).

        Single-input nodes whose input has an output take an inlined path; everything else
        (and every error) goes through :meth:`_compute`. The totals are those of
        :meth:`_MemoryProfile.totals`, gathered on the way (inlined: a second pass over
        every node would cost about a sixth more).
        """
        nodes = self.nodes = {}
        compute = self._compute
        gnode = self._data
        succ = self.successors
        inputs = self.inputs
        fast = not self.on_cycle  # cycle nodes may read inputs that come later in the order
        infer_one = INFER_ONE
        receptive_one = RECEPTIVE_ONE
        weights = biases = other = macs = acts = live = peak = 0
        output = None
        held: dict[str, int] = {}
        uses: dict[str, int] = {}
        for n in self.order:
            ins = inputs[n]
            r = None
            if fast and len(ins) == 1:
                data = gnode[n]
                t = data["type"]
                one = infer_one.get(t)
                src = nodes[ins[0]]
                shape = src.shape
                if one is not None and shape is not None:
                    c = data["compiled"]
                    try:
                        out, w, b, o, mac = one(c, shape, ins[0])
                    except Problem:
                        pass  # _compute words the error
                    else:
                        size = out[0] * out[1] * out[2] if len(out) == 3 else out[0]
                        if size > 0:
                            r = NodeResult(
                                out,
                                w,
                                b,
                                o,
                                mac,
                                size * BYTES_PER_VALUE,
                                receptive_one[t](c, src.rf, shape),
                                None,
                                None,
                                src.depth + 1,
                            )
            if r is None:
                r = compute(n)
            nodes[n] = r
            if r.shape is not None:
                weights += r.weights
                biases += r.biases
                other += r.other
                macs += r.macs
                b = r.activation_bytes
                acts += b
                live += b
                if live > peak:
                    peak = live
                k = len(succ[n])
                if k:
                    held[n] = b
                    uses[n] = k
                else:
                    output = n
            for u in ins if len(ins) < 2 else dict.fromkeys(ins):  # one use per consumer
                k = uses.get(u)
                if k is not None:
                    if k == 1:
                        live -= held[u]
                        del uses[u]
                    else:
                        uses[u] = k - 1
        t = Totals()
        t.weights, t.biases, t.other, t.macs, t.activation_bytes = (
            weights,
            biases,
            other,
            macs,
            acts,
        )
        t.params = weights + biases + other
        t.output = output
        if output is not None:
            t.output_rf = nodes[output].rf
        t.peak_activation_bytes = peak
        return t

    def update(self, changed: Iterable[str], structural: bool = False) -> set[str]:
        """Recompute ``changed`` and, where their output changed, their descendants.

        Parameters
        ----------
        changed : iterable of str
            Nodes whose parameters or inputs changed (unknown ids are ignored).
        structural : bool
            Whether nodes or edges were added or removed (recomputes the order first).

        Returns
        -------
        set of str
            The nodes whose result changed in any way.
        """
        if structural:
            self._memory = None
            was_on_cycle = self.on_cycle
            self._reorder()
            for n in list(self.nodes):
                if n not in self.index:
                    del self.nodes[n]
            if self.on_cycle or was_on_cycle:
                # Nodes that joined or left a cycle change even if their inputs did not.
                changed = list(changed) + list(self.on_cycle ^ was_on_cycle)
        index = self.index
        heap = [(index[n], n) for n in set(changed) if n in index]
        heapq.heapify(heap)
        queued = {n for _, n in heap}
        succ = self.successors
        nodes = self.nodes
        memory = self._memory
        touched: set[str] = set()
        count = 0
        while heap:
            i, n = heapq.heappop(heap)
            new = self._compute(n)
            count += 1
            old = nodes.get(n)
            nodes[n] = new
            if memory is not None:
                memory.replace(i, n, old, new)
            if old is not None and new.same_output(old):
                if (old.weights, old.biases, old.other, old.macs) != (
                    new.weights,
                    new.biases,
                    new.other,
                    new.macs,
                ):
                    touched.add(n)
                continue
            touched.add(n)
            for v in succ[n]:
                if v not in queued:
                    queued.add(v)
                    heapq.heappush(heap, (index[v], v))
        self.recomputed = count
        if touched or structural:
            self._totals = None
        return touched

    # ------------------------------------------------------------------ results
    @property
    def totals(self) -> Totals:
        """Sums, peak activation memory (topological order) and the output's receptive field."""
        if self._totals is None:
            memory = self._memory
            if memory is None:
                memory = _MemoryProfile(self)
                if not self.on_cycle:
                    self._memory = memory  # kept current by update() while edits are parameters
            self._totals = memory.totals(self.nodes)
        return self._totals

    @property
    def errors(self) -> list[tuple[str, str]]:
        """``(node, message)`` for every node in error, in topological order."""
        return [(n, self.nodes[n].error) for n in self.order if self.nodes[n].error]

    @property
    def ok(self) -> bool:
        """Whether every node has an output."""
        return all(r.shape is not None for r in self.nodes.values())

    def __getitem__(self, node: str) -> NodeResult:
        return self.nodes[node]

    def to_dict(self) -> dict:
        """The JSON form printed by ``main.py summary --json``."""
        g = self.graph
        return {
            "nodes": [self.nodes[n].to_dict(n, g.nodes[n]["type"]) for n in self.order],
            "totals": self.totals.to_dict(),
            "errors": [{"node": n, "message": m} for n, m in self.errors],
        }


class _MemoryProfile:
    """Sums and per-step allocations/releases of a forward pass in the analysis' order.

    Kept current by deltas while the structure (order, edges) stays the same, so the
    totals after a parameter edit cost two numpy prefix sums instead of a Python loop
    over every node (2,001 nodes: ~6 µs instead of ~700 µs). numpy is imported here, on
    the first totals read after an edit, so that ``import engine`` stays light. Step ``i`` allocates the output of ``order[i]``; an output is released
    at the step of its last consumer (outputs of the network are never released).
    """

    __slots__ = ("alloc", "release", "last", "sinks", "sums")

    def __init__(self, a: Analysis) -> None:
        import numpy as np

        index, succ = a.index, a.successors
        self.alloc = np.zeros(len(a.order), np.int64)
        self.release = np.zeros(len(a.order), np.int64)
        self.last: dict[str, int] = {}
        self.sums = [0, 0, 0, 0, 0]  # weights, biases, other, macs, activation bytes
        sinks = []
        for i, n in enumerate(a.order):
            consumers = succ[n]
            if consumers:
                self.last[n] = max(index[v] for v in consumers)
            else:
                sinks.append(n)
            self.replace(i, n, None, a.nodes[n])
        self.sinks = sinks[::-1]  # the output is the last sink with a shape

    def replace(self, i: int, n: str, old: NodeResult | None, new: NodeResult) -> None:
        """Node ``n`` (step ``i``) changed its result from ``old`` to ``new``."""
        s = self.sums
        delta = 0
        if old is not None and old.shape is not None:
            s[0] -= old.weights
            s[1] -= old.biases
            s[2] -= old.other
            s[3] -= old.macs
            s[4] -= old.activation_bytes
            delta -= old.activation_bytes
        if new.shape is not None:
            s[0] += new.weights
            s[1] += new.biases
            s[2] += new.other
            s[3] += new.macs
            s[4] += new.activation_bytes
            delta += new.activation_bytes
        if delta:
            self.alloc[i] += delta
            last = self.last.get(n)
            if last is not None:
                self.release[last] += delta

    def totals(self, nodes: dict[str, NodeResult]) -> Totals:
        """The :class:`Totals` of the current results."""
        t = Totals()
        t.weights, t.biases, t.other, t.macs, t.activation_bytes = self.sums
        t.params = t.weights + t.biases + t.other
        # Live bytes right after step i allocates: allocations up to i minus releases before i.
        if len(self.alloc):
            live = self.alloc.cumsum()
            live -= self.release.cumsum()
            live += self.release
            t.peak_activation_bytes = max(0, int(live.max()))
        t.output = next((n for n in self.sinks if nodes[n].shape is not None), None)
        if t.output is not None:
            t.output_rf = nodes[t.output].rf
        return t


def analyze(graph: GraphLike) -> Analysis:
    """Analyse a whole graph.

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        The network.

    Returns
    -------
    Analysis
        Per-node results, totals and errors.
    """
    return Analysis(graph)


def receptive_field(graph: GraphLike) -> dict[str, tuple | None]:
    """The receptive field of every node: ``((size_h, jump_h, start_h), (size_w, ...))``."""
    a = analyze(graph)
    return {n: a.nodes[n].rf for n in a.order}


class Analyzer:
    """Keeps an :class:`Analysis` of a :class:`GraphModel` current after every edit.

    Listeners added with :meth:`subscribe` are called with ``(analysis, changed_nodes)``
    after each update (the engine's ``analysis_changed`` notification).
    """

    def __init__(self, model: GraphModel) -> None:
        self.model = model
        self.analysis = Analysis(model)
        self._listeners: list[Callable[[Analysis, set[str]], None]] = []
        model.subscribe(self._on_event)

    def subscribe(self, callback: Callable[[Analysis, set[str]], None]) -> None:
        """Call ``callback(analysis, changed)`` after every update."""
        self._listeners.append(callback)

    def close(self) -> None:
        """Stop following the model."""
        self.model.unsubscribe(self._on_event)

    def _on_event(self, event: GraphEvent) -> None:
        kind = event.kind
        if kind in (
            "node_moved",
            "name_changed",
            "scope_changed",
            "block_changed",
            "block_types_changed",
        ):
            return
        a = self.analysis
        if kind == "graph_reset":
            a.graph = self.model.graph
            a.rebuild()
            changed = set(a.order)
        elif kind == "node_renamed":
            # Results are keyed by id and error texts name inputs by id: rebuild, and
            # report the old id too (it has no result any more, like a removed node).
            a.rebuild()
            changed = set(a.order) | {event.extra["old"]}
        else:
            changed = a.update(event.nodes, structural=event.structural)
            if kind == "node_removed":
                changed.add(event.nodes[0])
        for cb in list(self._listeners):
            cb(a, changed)
