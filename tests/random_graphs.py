"""Random valid graphs with small shapes, for torch-build and code-export tests.

:func:`random_graph` takes a ``choose(lo, hi)`` callable (inclusive bounds) so that the
same generator serves hypothesis (``draw(st.integers(lo, hi))``, which shrinks) and a
plain seeded :class:`random.Random` (``rng.randint``, for batching graphs into one
subprocess). Every node it keeps has an analysis shape; a node the analysis rejects is
removed again.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from hypothesis import strategies as st

from engine.analysis.analyzer import analyze
from engine.core.graph import GraphModel

Choose = Callable[[int, int], int]

OPS = (
    "conv",
    "conv1x1",
    "maxpool",
    "avgpool",
    "global_avgpool",
    "concat",
    "add",
    "relu",
    "batchnorm",
    "flatten",
    "linear",
    "dropout",
)
# OPS and the node types added for timm and ONNX models (activations any input, the rest
# C×H×W); a separate tuple, so the graphs seeded from OPS stay what they were.
MORE_OPS = OPS + (
    "gelu",
    "leaky_relu",
    "elu",
    "mish",
    "tanh",
    "softmax",
    "hardsigmoid",
    "clamp",
    "prelu",
    "scale_shift",
    "channel_slice",
    "conv_transpose",
    "upsample",
    "layernorm2d",
    "grn",
    "channel_shuffle",
    "pad",
)
_ANY_INPUT = ("relu", "dropout", "flatten", "add", "gelu", "leaky_relu", "elu", "mish", "tanh",
              "softmax", "hardsigmoid", "clamp", "prelu", "scale_shift", "channel_slice")  # fmt: skip


def _divisors(a: int, b: int) -> list[int]:
    g = math.gcd(a, b)
    return [d for d in range(1, g + 1) if g % d == 0]


def _params(op: str, shape: tuple, choose: Choose) -> dict:
    if op in ("conv", "conv1x1"):
        out = choose(1, 6)
        groups = 1
        if choose(0, 3) == 0:
            divs = _divisors(shape[0], out)
            groups = divs[choose(0, len(divs) - 1)]
        p = {
            "out_channels": out,
            "groups": groups,
            "bias": bool(choose(0, 1)),
            "stride": choose(1, 2),
        }
        if op == "conv":
            p["kernel_size"] = [choose(1, 4), choose(1, 3)] if choose(0, 3) == 0 else choose(1, 4)
            p["dilation"] = choose(1, 2)
            if p["stride"] == 1 and choose(0, 2) == 0:
                p["padding"] = "same"
            else:
                p["padding"] = choose(0, 2)
        return p
    if op in ("maxpool", "avgpool"):
        k = choose(1, 3)
        return {
            "kernel_size": k,
            "stride": None if choose(0, 1) else choose(1, 2),
            "padding": choose(0, k // 2),
            "ceil_mode": bool(choose(0, 1)),
        }
    if op == "batchnorm":
        return {"eps": [1e-5, 1e-3][choose(0, 1)], "affine": bool(choose(0, 3))}
    if op == "linear":
        return {"out_features": choose(1, 5), "bias": bool(choose(0, 1))}
    if op == "dropout":
        return {"p": [0.0, 0.5][choose(0, 1)]}
    return _more_params(op, shape, choose)


def _more_params(op: str, shape: tuple, choose: Choose) -> dict:
    """Parameters of the :data:`MORE_OPS` types."""
    if op == "gelu":
        return {"approximate": ["none", "tanh"][choose(0, 1)]}
    if op in ("leaky_relu", "elu"):
        return {"negative_slope" if op == "leaky_relu" else "alpha": [0.1, 0.5, 1.5][choose(0, 2)]}
    if op == "hardsigmoid":
        return {} if choose(0, 1) else {"alpha": 0.2, "beta": 0.5}
    if op == "clamp":
        return {"min": -0.5, "max": [0.5, 2.0][choose(0, 1)]} if choose(0, 1) else {"min": 0.0}
    if op == "prelu":
        return {"num_parameters": shape[0] if choose(0, 1) else 1}
    if op == "scale_shift":
        return {"scale": [0.5, -2.0][choose(0, 1)], "shift": [0.0, 1.0][choose(0, 1)]}
    if op == "channel_slice":
        start = choose(0, shape[0] - 1)
        return {"start": start, "stop": choose(start + 1, shape[0])}
    if op == "conv_transpose":
        stride = choose(1, 2)
        return {"out_channels": choose(1, 4), "kernel_size": choose(1, 3), "stride": stride,
                "padding": choose(0, 1), "output_padding": choose(0, stride - 1)}  # fmt: skip
    if op == "upsample":
        mode = ["nearest", "bilinear"][choose(0, 1)]
        if choose(0, 1):
            return {"scale_factor": [0.5, 2.0, 1.5][choose(0, 2)], "mode": mode}
        return {"size": [choose(2, 9), choose(2, 9)], "mode": mode}
    if op == "layernorm2d":
        return {"eps": 1e-6}
    if op == "channel_shuffle":
        divs = [d for d in range(1, shape[0] + 1) if shape[0] % d == 0]
        return {"groups": divs[choose(0, len(divs) - 1)]}
    if op == "pad":
        return {"left": choose(0, 2), "right": choose(0, 2), "top": choose(0, 1),
                "bottom": choose(0, 1), "mode": ["constant", "replicate"][choose(0, 1)]}  # fmt: skip
    return {}


def random_graph(
    choose: Choose, max_ops: int = 8, name: str = "Random net", ops: tuple = OPS
) -> GraphModel:
    """A valid graph: one input (1–4 channels, 4–12 pixels a side) and up to ``max_ops`` layers
    drawn from ``ops``."""
    m = GraphModel(name)
    m.add_node(
        "input",
        {"channels": choose(1, 4), "height": choose(4, 12), "width": choose(4, 12)},
        "input",
    )
    shapes = {"input": analyze(m).nodes["input"].shape}
    for _ in range(choose(1, max_ops)):
        nodes = list(shapes)
        op = ops[choose(0, len(ops) - 1)]
        if op == "linear":
            fit = [n for n in nodes if len(shapes[n]) == 1]
        elif op in _ANY_INPUT:
            fit = nodes
        else:
            fit = [n for n in nodes if len(shapes[n]) == 3]
        fit = fit or nodes
        src = fit[choose(0, len(fit) - 1)]
        srcs = [src]
        if op in ("concat", "add"):
            if op == "add":
                same = [n for n in nodes if shapes[n] == shapes[src]]
            else:
                same = [
                    n
                    for n in nodes
                    if len(shapes[n]) == 3
                    and len(shapes[src]) == 3
                    and shapes[n][1:] == shapes[src][1:]
                ]
            same = same or [src]
            for _ in range(choose(1, 2)):
                srcs.append(same[choose(0, len(same) - 1)])
        nid = m.add_node(op, _params(op, shapes[src], choose))
        for s in srcs:
            m.connect(s, nid)
        r = analyze(m).nodes[nid]
        if r.shape is None:
            m.remove_node(nid)
        else:
            shapes[nid] = r.shape
    return m


def seeded_graph(seed: int, max_ops: int = 8, ops: tuple = OPS) -> GraphModel:
    """:func:`random_graph` driven by ``random.Random(seed)``."""
    return random_graph(random.Random(seed).randint, max_ops, f"Random net {seed}", ops)


@st.composite
def graphs(draw, max_ops: int = 8) -> GraphModel:
    """Hypothesis strategy of valid random graphs."""
    return random_graph(lambda lo, hi: draw(st.integers(lo, hi)), max_ops)
