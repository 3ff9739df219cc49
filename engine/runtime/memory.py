"""How much memory a feature run needs, computed from the analysis before anything runs.

:func:`memory_need` is what :func:`engine.runtime.features.check_graph` compares with the
memory limit, so that a graph whose weights, maps or temporaries do not fit is refused
before torch allocates anything (a 2.1-G-parameter linear layer, a convolution with 2**20
channels). Plain arithmetic over the analysis: no torch, no numpy.
"""

from __future__ import annotations

import math

from engine.analysis.analyzer import Analysis

#: Bytes per value of the largest map used while its statistics and grid are computed
#: (comparison masks, a float64 copy in :func:`node_stats`, the colour indices of a grid).
_WORK_PER_VALUE = 16


def memory_need(analysis: Analysis) -> tuple[int, int, int]:
    """Bytes a feature run needs: ``(weights, feature maps, working memory)``.

    Parameters
    ----------
    analysis : Analysis
        An analysis without errors.

    Returns
    -------
    weights : int
        float32 parameters plus BatchNorm's running mean and variance.
    maps : int
        Every node's output, all kept (the analysis' activation memory).
    working : int
        The largest temporary: a convolution's unfolded input (``MACs / out_channels``
        values, what torch's im2col path allocates) or the statistics and grid of the
        largest map, plus the preprocessed input.

    Notes
    -----
    Computed from the analysis alone, so a run is refused before torch allocates
    anything. The Python runtime and torch themselves (about 300 MB) are not counted.
    """
    g = analysis.graph
    weights = 4 * analysis.totals.params
    working = 0
    for n in analysis.order:
        r = analysis.nodes[n]
        if r.shape is None:
            continue
        values = math.prod(r.shape)
        t = g.nodes[n]["type"]
        if t == "batchnorm":
            weights += 4 * 2 * r.shape[0]
        elif t in ("conv", "conv1x1") and r.macs:
            working = max(working, 4 * (r.macs // r.shape[0]))
        elif t == "conv_transpose" and r.macs:
            # its column buffer: (out/groups)·kh·kw values per input pixel, i.e. MACs / C_in
            cin = analysis.nodes[analysis.inputs[n][0]].shape[0]
            working = max(working, 4 * (r.macs // cin))
        if t == "input":
            working = max(working, 2 * 4 * values)
        working = max(working, _WORK_PER_VALUE * values)
    return weights, analysis.totals.activation_bytes, working
