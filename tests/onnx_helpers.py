"""Shared helpers of the ONNX tests: comparing designs, running files with onnxruntime."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
from networkx.algorithms import isomorphism

from engine.analysis.analyzer import analyze
from engine.codegen.naming import module_names
from engine.codegen.targets import module_targets
from engine.core.graph import GraphModel
from engine.nodes import compile_params


def combine(graphs: list[GraphModel], name: str = "combined") -> GraphModel:
    """One design holding every graph as a separate component (ids prefixed ``gK_``)."""
    out = GraphModel(name)
    for k, g in enumerate(graphs):
        ids = {n: f"g{k}_{n}" for n in g.nodes}
        for n in g.nodes:
            out.add_node(g.node_type(n), g.params(n), ids[n])
        for n in g.nodes:
            for port, src in g.ports(n):
                out.connect(ids[src], ids[n], port)
    assert analyze(out).ok
    return out


def _label(g: nx.MultiDiGraph, n: str) -> tuple:
    t = g.nodes[n]["type"]
    return (t, compile_params(t, g.nodes[n]["params"]))


def same_design(a: GraphModel, b: GraphModel) -> dict[str, str]:
    """Map ``a``'s nodes to ``b``'s, asserting the same types, parameters and wired ports.

    Parameters are compared as the analysis reads them (``padding="same"`` equals the
    explicit padding it means). Returns the node mapping.
    """
    ga, gb = a.graph, b.graph
    assert ga.number_of_nodes() == gb.number_of_nodes()
    assert ga.number_of_edges() == gb.number_of_edges()
    matcher = isomorphism.MultiDiGraphMatcher(
        ga,
        gb,
        node_match=lambda x, y: (x["type"], x["compiled"]) == (y["type"], y["compiled"]),
        edge_match=lambda x, y: sorted(x) == sorted(y),  # the ports (edge keys)
    )
    assert matcher.is_isomorphic(), "the imported design differs from the exported one"
    mapping = dict(matcher.mapping)
    for n in a.nodes:
        assert a.params(n) == b.params(mapping[n]) or _label(ga, n) == _label(gb, mapping[n])
        assert [mapping[s] for s in a.inputs(n)] == b.inputs(mapping[n])
    return mapping


def _prefixes(g: GraphModel, state: dict) -> dict[str, str]:
    """Each module node's key prefix in ``state``: its target (or, in older live models,
    its flat module name)."""
    names = module_names(g)
    keys = {k.rsplit(".", 1)[0] for k in state}
    return {n: t if t in keys else names[n] for n, t in module_targets(g).items()}


def same_weights(a: GraphModel, state_a: dict, b: GraphModel, state_b: dict, mapping) -> int:
    """Assert the weights of mapped nodes are equal bit for bit; return how many tensors."""
    ta, tb = _prefixes(a, state_a), _prefixes(b, state_b)
    count = 0
    for n, target in ta.items():
        mine = {k[len(target) + 1 :]: v for k, v in state_a.items() if k.startswith(target + ".")}
        other = tb[mapping[n]]
        for suffix, v in mine.items():
            theirs = state_b[f"{other}.{suffix}"]
            assert np.shape(v) == np.shape(theirs), (n, suffix)
            np.testing.assert_array_equal(np.asarray(v), np.asarray(theirs))
            count += 1
    assert count == len(state_b)
    return count


def run_onnx(path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs of onnxruntime on ``path`` (CPU, one thread)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {i.name: x for i, x in zip(sess.get_inputs(), inputs)}
    return sess.run(None, feed)


def assert_close(got: np.ndarray, want: np.ndarray, rel: float = 1e-5) -> None:
    """Equal within ``rel`` relative to the largest magnitude of ``want``."""
    scale = max(float(np.abs(want).max()), 1e-6)
    assert got.shape == want.shape
    assert float(np.abs(got - want).max()) <= rel * scale


# One small case per node type: (params, layers before it, input C×H×W, extra inputs).
NODE_CASES: dict[str, tuple] = {
    "conv": ({"out_channels": 5, "kernel_size": 3, "padding": 1, "stride": 2}, []),
    "conv1x1": ({"out_channels": 5, "groups": 1}, []),
    "maxpool": ({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, []),
    "avgpool": ({"kernel_size": 2, "padding": 1, "count_include_pad": False}, []),
    "global_avgpool": ({}, []),
    "adaptive_avgpool": ({"output_size": 2}, []),
    "concat": ({}, [], 2),
    "add": ({}, [], 2),
    "mul": ({}, [], 2),
    "relu": ({}, []),
    "batchnorm": ({"eps": 1e-3}, []),
    "flatten": ({}, []),
    "linear": ({"out_features": 3}, [("flatten", {})]),
    "relu6": ({}, []),
    "hardswish": ({}, []),
    "hardsigmoid": ({"alpha": 0.2, "beta": 0.5}, []),
    "silu": ({}, []),
    "sigmoid": ({}, []),
    "gelu": ({}, []),
    "leaky_relu": ({"negative_slope": 0.2}, []),
    "elu": ({"alpha": 0.7}, []),
    "mish": ({}, []),
    "tanh": ({}, []),
    "clamp": ({"min": -0.5, "max": 0.5}, []),
    "prelu": ({"num_parameters": 4, "init": 0.1}, []),
    "softmax": ({}, []),
    "conv_transpose": ({"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1}, []),
    "upsample": ({"scale_factor": 2.0}, []),
    "layernorm2d": ({}, []),
    "grn": ({}, []),
    "channel_slice": ({"start": 1, "stop": 3}, []),
    "channel_shuffle": ({"groups": 2}, []),
    "scale_shift": ({"scale": 0.5, "shift": 0.25}, []),
    "pad": ({"left": 1, "right": 2, "top": 0, "bottom": 1}, []),
    "identity": ({}, []),
    "dropout": ({"p": 0.2}, []),
}


def node_case(t: str) -> GraphModel:
    """input 4×8×8 → (layers before) → one node of type ``t`` (two inputs for merges)."""
    params, before, *rest = NODE_CASES[t]
    g = GraphModel(f"case {t}")
    g.add_node("input", {"channels": 4, "height": 8, "width": 8}, "x")
    prev = "x"
    for bt, bp in before:
        prev_new = g.add_node(bt, bp)
        g.connect(prev, prev_new)
        prev = prev_new
    srcs = [prev]
    if rest:
        other = g.add_node("conv1x1", {"out_channels": 4})
        g.connect("x", other)
        srcs.append(other)
    nid = g.add_node(t, params, t)
    for s in srcs:
        g.connect(s, nid)
    assert analyze(g).ok, t
    return g


def fixed_size_onnx(path: Path) -> Path:
    """An ONNX file of a 3×3 conv (4 channels) and a ReLU on a fixed 1×3×32×32 input."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 32, 32])],
        [w],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path
