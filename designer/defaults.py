"""Starting parameters of a node added from the palette or the quick-add popup."""

from __future__ import annotations

import copy

from engine.nodes import NODE_TYPES

_STARTERS: dict[str, dict] = {
    "conv": {"out_channels": 64, "kernel_size": 3, "padding": 1},
    "conv1x1": {"out_channels": 64},
    "maxpool": {"kernel_size": 2},
    "avgpool": {"kernel_size": 2},
    "adaptive_avgpool": {"output_size": 7},
    "linear": {"out_features": 10},
    "conv_transpose": {"out_channels": 64, "kernel_size": 2, "stride": 2},
    "upsample": {"scale_factor": 2.0},
    "channel_slice": {"start": 0, "stop": 16},
    "channel_shuffle": {"groups": 2},
    "scale_shift": {"scale": 0.5},
    "clamp": {"min": -1.0, "max": 1.0},
    "pad": {"left": 1, "right": 1, "top": 1, "bottom": 1},
}


def starter_params(type_name: str) -> dict:
    """Parameters a new ``type_name`` node starts with (its required ones filled in).

    Raises
    ------
    KeyError
        If ``type_name`` is not a node type.
    """
    if type_name not in NODE_TYPES:
        raise KeyError(f"unknown node type {type_name!r} (known: {', '.join(NODE_TYPES)})")
    return copy.deepcopy(_STARTERS.get(type_name, {}))
