"""Run an image through a graph, keep every node's output, compute statistics and localise.

:class:`FeatureRunner` checks a graph once (analysis errors, one input node, activation
memory), builds its torch module once in capture mode and can then run any number of
images; :func:`run_features` is the one-shot form. :func:`rf_box` maps any feature pixel
back onto the original image through the receptive field and the preprocessing.

Memory between runs
-------------------
Every map is kept, so a run allocates the whole activation total in many blocks of a few
MiB. With glibc's default settings those blocks are ``mmap``-ed and handed back when
freed, so every new run page-faults its memory in again. :func:`tune_allocator` (called by
:class:`FeatureRunner`, so in the process that runs inference) sets, with ``mallopt``,
``M_MMAP_THRESHOLD`` = 32 MiB (glibc's maximum: feature maps come from the heap) and
``M_TRIM_THRESHOLD`` = 1 GiB (freed maps stay mapped), so the next run reuses the same,
already-faulted pages. Keeping the previous run's tensors alive would also avoid the
faults but holds two sets of maps; preallocated outputs would need every layer to write
into given buffers, which ``torch.nn`` layers do not. Maps over 32 MiB still come from
``mmap``. The memory held after a run is only the maps themselves:
:attr:`FeatureResult.maps` are numpy views of the output tensors, not copies. The
measurements behind these choices are in docs/benchmarks.md (``python -m bench features``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from typing import TYPE_CHECKING

import numpy as np

from engine.analysis.analyzer import Analysis, analyze
from engine.analysis.rf_boxes import rf_box
from engine.core.errors import FeatureError
from engine.core.graph import GraphLike
from engine.runtime.feature_types import FeatureResult, NodeStats
from engine.runtime.images import (
    MAX_PIXELS,
    ImageError,
    load_image,
    preprocess,
)
from engine.runtime.memory import memory_need

if TYPE_CHECKING:
    import torch

DEFAULT_MEMORY_LIMIT = 2 * 1024**3
DEFAULT_NEAR_ZERO = 1e-3

__all__ = [
    "FeatureError",
    "FeatureRunner",
    "ImageError",
    "localisation_node",
    "memory_need",
    "node_stats",
    "run_features",
    "tune_allocator",
]


# --------------------------------------------------------------------------- allocator
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit
_TRIM_THRESHOLD = 1024 * 1024 * 1024
_tuned: bool | None = None


def tune_allocator() -> bool:
    """Make glibc keep freed feature maps for reuse (see the module docstring).

    Idempotent; does nothing (and returns ``False``) where glibc's ``mallopt`` is missing.

    Returns
    -------
    bool
        Whether both thresholds were set.
    """
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and ok
    _tuned = ok
    return ok


# --------------------------------------------------------------------------- statistics
def node_stats(
    values: torch.Tensor | np.ndarray, near_zero: float = DEFAULT_NEAR_ZERO
) -> NodeStats:
    """Statistics of one output (batch dimension removed).

    Parameters
    ----------
    values : torch.Tensor or numpy.ndarray
        ``(C, H, W)`` or ``(F,)`` values (a tensor is read through a numpy view).
    near_zero : float
        ``near_zero`` counts values with ``|v| < near_zero``.

    Returns
    -------
    NodeStats
        Sparsity (exact zeros), near-zero fraction, mean, population std (ddof 0), max,
        min and the index of the (first) maximum.

    Notes
    -----
    Single-threaded numpy passes (~25 ms for the 37.7 M values of ResNet-50 at 224×224;
    torch's reductions were slower and, with two threads on two busy cores, erratic):
    counts of ``v == 0``,
    ``v < t`` and ``v <= -t``, a pairwise float32 sum, a BLAS dot product for the second
    moment (the variance is recomputed from deviations when the mean dominates it and
    cancellation could lose digits), ``argmax`` and ``min``.
    """
    a = (
        values.numpy()
        if hasattr(values, "numpy") and not isinstance(values, np.ndarray)
        else np.asarray(values)
    )
    shape = a.shape
    flat = a.reshape(-1)
    if flat.dtype != np.float32:
        flat = flat.astype(np.float32)
    n = flat.size
    if n == 0:
        raise FeatureError("cannot compute statistics of an empty tensor")
    zeros = int(np.count_nonzero(flat == 0))
    t = np.float32(near_zero)
    small = int(np.count_nonzero(flat < t)) - int(np.count_nonzero(flat <= -t))
    # Huge weights overflow float32 to infinity: the statistics say inf/nan, no warning.
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(np.add.reduce(flat, dtype=np.float32)) / n
        if not np.isfinite(mean):
            mean = float(np.add.reduce(flat, dtype=np.float64)) / n
        second = float(np.dot(flat, flat)) / n
        var = second - mean * mean
        if not (var > 1e-3 * mean * mean) or not np.isfinite(second):
            d = flat.astype(np.float64)
            mean = float(d.mean())
            d -= mean
            var = float(np.dot(d, d)) / n
    arg = int(flat.argmax())
    index = tuple(int(i) for i in np.unravel_index(arg, shape))
    return NodeStats(
        sparsity=zeros / n,
        near_zero=small / n,
        mean=mean,
        std=float(np.sqrt(max(var, 0.0))),
        max=float(flat[arg]),
        min=float(flat.min()),
        argmax=index,
    )


# --------------------------------------------------------------------------- localisation
def localisation_node(analysis: Analysis) -> str | None:
    """The last node (topological order) with a spatial map larger than 1×1.

    Falls back to the last C×H×W node, then to ``None`` when no node has one.
    """
    last3 = None
    for n in reversed(analysis.order):
        s = analysis.nodes[n].shape
        if s is not None and len(s) == 3:
            if s[1] * s[2] > 1:
                return n
            if last3 is None:
                last3 = n
    return last3


def _strongest(arr: np.ndarray, channel: int | None) -> tuple[int, int, int, float]:
    """``(channel, y, x, value)`` of the largest activation (in ``channel`` if given)."""
    if arr.ndim == 1:
        if channel is not None:
            return channel, 0, 0, float(arr[channel])
        i = int(np.argmax(arr))
        return i, 0, 0, float(arr[i])
    if channel is not None:
        plane = arr[channel]
        y, x = np.unravel_index(int(np.argmax(plane)), plane.shape)
        return channel, int(y), int(x), float(plane[y, x])
    c, y, x = np.unravel_index(int(np.argmax(arr)), arr.shape)
    return int(c), int(y), int(x), float(arr[c, y, x])


# --------------------------------------------------------------------------- runner
def _input_node(model_graph, analysis: Analysis) -> str:
    inputs = [n for n in analysis.order if analysis.graph.nodes[n]["type"] == "input"]
    if len(inputs) != 1:
        found = ", ".join(f"'{n}'" for n in inputs) or "none"
        raise FeatureError(
            f"running an image needs exactly one input node; the graph has {len(inputs)} ({found})"
        )
    return inputs[0]


def _fmt_bytes(n: int) -> str:
    if n < 1024**2:
        return f"{n / 1024:,.1f} KB"
    return f"{n / 1024**2:,.1f} MB" if n < 1024**3 else f"{n / 1024**3:,.2f} GB"


def check_graph(graph: GraphLike, memory_limit: int = DEFAULT_MEMORY_LIMIT) -> Analysis:
    """Analyse ``graph`` and refuse it if a feature run cannot or should not start.

    Nothing is allocated for the run before this check passes: the memory a run needs
    (:func:`memory_need`: weights, every feature map and the largest temporary) is
    computed from the analysis.

    Raises
    ------
    FeatureError
        When the graph is empty, has analysis errors (each listed with its node, also in
        the error's ``errors``), has other than one input node, or a run needs more than
        ``memory_limit`` bytes.
    """
    analysis = analyze(graph)
    if not analysis.order:
        raise FeatureError("the graph is empty; add an input node and some layers")
    errors = analysis.errors
    if errors:
        lines = "\n".join(f"  - {m}" for _, m in errors)
        exc = FeatureError(
            f"the graph has {len(errors)} error(s); fix them before running an image:\n{lines}",
            errors[0][0],
        )
        exc.errors = list(errors)  # type: ignore[attr-defined]
        raise exc
    _input_node(graph, analysis)
    weights, maps, working = memory_need(analysis)
    need = weights + maps + working
    if need > memory_limit:
        raise FeatureError(
            f"running this graph needs about {_fmt_bytes(need)} (weights "
            f"{_fmt_bytes(weights)}, feature maps {_fmt_bytes(maps)}, working memory "
            f"{_fmt_bytes(working)}), over the limit of {_fmt_bytes(memory_limit)}; use a "
            f"smaller input size or fewer/narrower layers",
            field="memory_limit",
        )
    return analysis


class FeatureRunner:
    """A graph checked and built once, ready to run image after image.

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        The network (analysed and refused here if it cannot run).
    seed : int
        Seed of the random weights (the same seed gives the same weights).
    memory_limit : int
        Refuse graphs whose run needs more bytes than this (see :func:`memory_need`).
    tune_memory : bool
        Call :func:`tune_allocator` (keeps freed maps for reuse by the next run).
    checked : Analysis, optional
        The result of :func:`check_graph` on ``graph`` with this ``memory_limit``, when the
        caller has just run it (it is then not repeated).

    Attributes
    ----------
    analysis : Analysis
    module : torch.nn.Module
        Built with ``capture=True`` and in eval mode.
    input_node : str
    """

    def __init__(
        self,
        graph: GraphLike,
        seed: int = 0,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        tune_memory: bool = True,
        checked: Analysis | None = None,
    ) -> None:
        self.graph = graph
        self.seed = seed
        self.analysis = checked if checked is not None else check_graph(graph, memory_limit)
        self.input_node = _input_node(graph, self.analysis)
        c, h, w = self.analysis.nodes[self.input_node].shape
        self.channels, self.size = c, (h, w)
        # Snapshots, so that later edits of the graph cannot disagree with the built module.
        g = self.analysis.graph
        self.order = list(self.analysis.order)
        self.types = {n: g.nodes[n]["type"] for n in self.order}
        self.depth = {n: self.analysis.nodes[n].depth for n in self.order}
        if tune_memory:
            tune_allocator()
        from engine.runtime.build import build_module

        self.module = build_module(graph, seed=seed, capture=True, analysis=self.analysis)
        self.module.eval()

    def forward(self, x: np.ndarray) -> tuple[dict, float]:
        """One capture forward of a float32 ``(C, H, W)`` input: ``({node: tensor}, seconds)``."""
        import torch

        t = torch.from_numpy(x).unsqueeze(0)
        with torch.inference_mode():
            start = time.perf_counter()
            out = self.module(t)
            seconds = time.perf_counter() - start
        return out, seconds

    def run(
        self,
        image: str | os.PathLike | np.ndarray,
        *,
        mode: str = "resize",
        normalize: str = "imagenet",
        node: str | None = None,
        channel: int | None = None,
        near_zero: float = DEFAULT_NEAR_ZERO,
        max_pixels: int = MAX_PIXELS,
    ) -> FeatureResult:
        """Run one image; see :func:`run_features` for the parameters."""
        a = self.analysis
        if node is not None:
            if node not in a.nodes:
                raise FeatureError(f"there is no node '{node}' to localise", node)
            shape = a.nodes[node].shape
            if channel is not None and not 0 <= channel < shape[0]:
                raise FeatureError(
                    f"node '{node}' has {shape[0]} channels; channel {channel} "
                    f"is out of range 0–{shape[0] - 1}",
                    node,
                    "channel",
                )
        picked = node if node is not None else localisation_node(a)
        if node is None and channel is not None and picked is not None:
            n_ch = a.nodes[picked].shape[0]
            if not 0 <= channel < n_ch:
                raise FeatureError(
                    f"node '{picked}' has {n_ch} channels; channel {channel} is "
                    f"out of range 0–{n_ch - 1}",
                    picked,
                    "channel",
                )
        original = load_image(image, max_pixels)
        x, pre = preprocess(
            original if not isinstance(image, np.ndarray) else image,
            self.channels,
            self.size,
            mode=mode,
            normalize=normalize,
            max_pixels=max_pixels,
        )
        out, seconds = self.forward(x)
        maps: dict[str, np.ndarray] = {}
        stats: dict[str, NodeStats] = {}
        for n in self.order:
            t = out[n][0]
            maps[n] = t.numpy()
            stats[n] = node_stats(maps[n], near_zero)
        box = None
        if picked is not None:
            if channel is None:  # the statistics already hold the strongest activation
                st = stats[picked]
                c, y, xx = (st.argmax[0], 0, 0) if len(st.argmax) == 1 else st.argmax
                v = st.max
            else:
                c, y, xx, v = _strongest(maps[picked], channel)
            box = rf_box(a, picked, y, xx, pre, channel=c, value=v)
        return FeatureResult(
            order=list(self.order),
            types=dict(self.types),
            depth=dict(self.depth),
            maps=maps,
            stats=stats,
            image=original,
            input=x,
            preprocess=pre,
            box=box,
            seconds=seconds,
        )


def run_features(
    graph_or_module: GraphLike | FeatureRunner,
    image: str | os.PathLike | np.ndarray,
    *,
    mode: str = "resize",
    normalize: str = "imagenet",
    node: str | None = None,
    channel: int | None = None,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    near_zero: float = DEFAULT_NEAR_ZERO,
    seed: int = 0,
    max_pixels: int = MAX_PIXELS,
) -> FeatureResult:
    """Run one image through a graph, keeping every node's output.

    Parameters
    ----------
    graph_or_module : GraphModel, networkx.MultiDiGraph or FeatureRunner
        The network, or a runner already built from one (then ``memory_limit`` and
        ``seed`` are the runner's).
    image : str, os.PathLike or numpy.ndarray
        See :func:`engine.runtime.images.load_image`.
    mode, normalize : str
        See :func:`engine.runtime.images.preprocess`.
    node, channel : str or None, int or None
        What to localise: the strongest activation of ``node`` (default: the last node with
        a spatial map), within ``channel`` if given (default: over all channels).
    memory_limit : int
        Refuse graphs whose run needs more bytes than this (:func:`memory_need`), checked
        before the image is read or anything is built.
    near_zero : float
        Threshold of :attr:`NodeStats.near_zero`.
    seed : int
        Seed of the random weights.
    max_pixels : int
        Refuse larger images (see :func:`engine.runtime.images.load_image`).

    Returns
    -------
    FeatureResult
        Maps (numpy views of the outputs), statistics, the preprocessed input and its
        geometry, the localisation box and the forward time.

    Raises
    ------
    FeatureError
        Invalid graph (each analysis error listed), not exactly one input node, activation
        memory over the limit, unknown node or channel out of range.
    ImageError
        The image cannot be loaded or does not suit the input.
    """
    checked = None
    if not isinstance(graph_or_module, FeatureRunner):
        checked = check_graph(graph_or_module, memory_limit)  # before anything is allocated
    if not isinstance(image, np.ndarray):
        image = load_image(image, max_pixels)  # refuse a bad image before building anything
    runner = (
        graph_or_module
        if isinstance(graph_or_module, FeatureRunner)
        else FeatureRunner(graph_or_module, seed=seed, memory_limit=memory_limit, checked=checked)
    )
    return runner.run(
        image,
        mode=mode,
        normalize=normalize,
        node=node,
        channel=channel,
        near_zero=near_zero,
        max_pixels=max_pixels,
    )
