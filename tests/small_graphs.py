"""Small, deterministic graphs shared by the torch-build, code-export and weights tests."""

from __future__ import annotations

from engine import GraphModel, analyze
from engine.templates import build

# Templates shrunk so that a forward pass is cheap; still valid at these sizes.
SMALL_SIDE = {"googlenet": 64, "resnet18": 32, "resnet50": 32, "vgg16": 32}


def small_template(key: str) -> GraphModel:
    """Template ``key`` with its input shrunk (networks to 32–64 px, blocks to 8 px)."""
    g = build(key)
    side = SMALL_SIDE.get(key, 8)
    g.set_params(input_of(g), {"height": side, "width": side})
    assert analyze(g).ok, key
    return g


def input_of(g: GraphModel) -> str:
    """The id of the (first) input node of ``g``."""
    return next(n for n in g.nodes if g.node_type(n) == "input")


def conv_chain() -> GraphModel:
    """in (3×8×8) → conv 3×3 (4) → batchnorm → global avgpool → flatten → linear (5)."""
    g = GraphModel("chain")
    g.add_node("input", {"channels": 3, "height": 8, "width": 8}, "in")
    g.add_node("conv", {"out_channels": 4, "kernel_size": 3}, "c")
    g.add_node("batchnorm", {}, "bn")
    g.add_node("global_avgpool", {}, "gap")
    g.add_node("flatten", {}, "flat")
    g.add_node("linear", {"out_features": 5}, "fc")
    for a, b in (("in", "c"), ("c", "bn"), ("bn", "gap"), ("gap", "flat"), ("flat", "fc")):
        g.connect(a, b)
    return g
