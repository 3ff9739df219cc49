"""Plain data returned by a feature run (no torch here, so the UI can import it freely).

``engine.runtime.features.run_features`` fills these; the worker process sends them to the
window; the views in ``widgets/`` only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.analysis.rf_boxes import Box, Preprocess


@dataclass(frozen=True)
class NodeStats:
    """Statistics of one node's output tensor (batch dimension removed).

    ``argmax`` is ``(channel, y, x)`` for a C×H×W map and ``(feature,)`` for a vector.
    """

    sparsity: float  # fraction of exact zeros
    near_zero: float  # fraction with |v| < threshold
    mean: float
    std: float
    max: float
    min: float
    argmax: tuple[int, ...]


@dataclass
class FeatureResult:
    """Everything one forward pass produced.

    Attributes
    ----------
    order : list of str
        The nodes in topological order.
    types : dict of str to str
        Node id → node type.
    depth : dict of str to int
        Node id → depth (longest path from the input, as the analysis computes it).
    maps : dict of str to numpy.ndarray
        Node id → float32 output without the batch dimension: (C, H, W) or (F,).
    stats : dict of str to NodeStats
    image : numpy.ndarray
        The loaded original image, uint8 (h, w, 3) or (h, w).
    input : numpy.ndarray
        The preprocessed float32 (C, H, W) tensor fed to the network.
    preprocess : Preprocess
    box : Box or None
        Localisation: the strongest activation of the last spatial node (or the
        requested node/channel) and its receptive field on the original image.
    seconds : float
        Time of the forward pass.
    """

    order: list[str]
    types: dict[str, str]
    depth: dict[str, int]
    maps: dict[str, np.ndarray]
    stats: dict[str, NodeStats]
    image: np.ndarray
    input: np.ndarray
    preprocess: Preprocess
    box: Box | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


@dataclass
class Localised:
    """One localisation method's answer (:mod:`engine.runtime.localise`).

    Attributes
    ----------
    method : str
        ``receptive_field``, ``effective``, ``class_activation`` or ``grad_cam``.
    box : (x0, y0, x1, y1)
        Original-image pixels, x1 and y1 exclusive.
    input_box : (y0, x0, y1, x1)
        The same box in network-input pixels, before mapping to the image.
    heat : numpy.ndarray
        float32 ``(H, W)`` over the network input, scaled to ``[0, 1]``.
    node : str
        The node whose map the method used.
    cls : int or None
        The class (class activation, Grad-CAM), else ``None``.
    """

    method: str
    box: tuple[int, int, int, int]
    input_box: tuple[int, int, int, int]
    heat: np.ndarray
    node: str
    cls: int | None = None
