"""ONNX export (torch.onnx) → onnxruntime parity, and export → import round trips."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx_helpers import (
    NODE_CASES,
    assert_close,
    combine,
    node_case,
    run_onnx,
    same_design,
    same_weights,
)
from random_graphs import seeded_graph
from small_graphs import small_template

from engine.analysis.analyzer import analyze
from engine.interop.onnx_export import export_onnx
from engine.onnx.convert import import_onnx
from engine.runtime.build import build_with_plan
from engine.templates import TEMPLATES


def _inputs(g, batch: int, seed: int = 1) -> list[np.ndarray]:
    a = analyze(g)
    rng = np.random.default_rng(seed)
    ins = [n for n in a.order if g.node_type(n) == "input"]
    return [rng.standard_normal((batch, *a[n].shape)).astype(np.float32) for n in ins]


def _torch_outputs(g, inputs, seed: int = 0) -> list[np.ndarray]:
    module, _plan = build_with_plan(g, seed)
    with torch.no_grad():
        out = module(*[torch.from_numpy(x) for x in inputs])
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def _state(g, seed: int = 0) -> dict:
    module, _plan = build_with_plan(g, seed)
    return {k: v.numpy() for k, v in module.state_dict().items()}


@pytest.fixture(scope="module")
def template_files(tmp_path_factory):
    """Every template (shrunk) exported once: ``{key: (design, path)}``."""
    folder = tmp_path_factory.mktemp("onnx_templates")
    out = {}
    for key in TEMPLATES:
        g = small_template(key)
        path = folder / f"{key}.onnx"
        export_onnx(g, path, seed=3)
        out[key] = (g, path)
    return out


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_template_export_matches_torch(template_files, key):
    """onnxruntime on the exported template equals the torch model within 1e-5 (batch 2)."""
    g, path = template_files[key]
    inputs = _inputs(g, 2)
    for got, want in zip(run_onnx(path, inputs), _torch_outputs(g, inputs, seed=3)):
        assert_close(got, want)


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_template_round_trip(template_files, key):
    """Export → import gives the same design and bit-identical weights."""
    g, path = template_files[key]
    imported = import_onnx(path)
    mapping = same_design(g, imported.model)
    assert same_weights(g, _state(g, seed=3), imported.model, imported.state, mapping) > 0


def test_thirty_random_graphs_round_trip_and_match(tmp_path):
    """30 random graphs (one file, 30 components): same design, same weights, ORT parity."""
    g = combine([seeded_graph(s) for s in range(30)])
    path = tmp_path / "random.onnx"
    export_onnx(g, path, seed=5)
    imported = import_onnx(path)
    mapping = same_design(g, imported.model)
    same_weights(g, _state(g, seed=5), imported.model, imported.state, mapping)
    inputs = _inputs(g, 3)
    got, want = run_onnx(path, inputs), _torch_outputs(g, inputs, seed=5)
    assert len(got) == len(want) > 30
    for a, b in zip(got, want):
        assert_close(a, b)


def test_initialisers_are_the_state_dict_keys(template_files):
    """The initialisers of the exported ResNet-18 are exactly its state-dict keys."""
    g, path = template_files["resnet18"]
    names = {t.name for t in onnx.load(str(path)).graph.initializer}
    keys = {k for k in _state(g) if not k.endswith("num_batches_tracked")}
    assert names == keys


def test_batch_is_dynamic(template_files):
    """The input's first dimension is symbolic and batches of 1 and 5 both run."""
    g, path = template_files["tiny_cnn"]
    dim = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param and not dim.dim_value
    for batch in (1, 5):
        (out,) = run_onnx(path, _inputs(g, batch))
        assert out.shape[0] == batch


def test_batchnorm_is_kept_by_default_and_folded_on_request(tmp_path):
    """BatchNormalization nodes stay unless fold=True; both files match torch."""
    g = small_template("tiny_cnn")
    plain, folded = tmp_path / "plain.onnx", tmp_path / "folded.onnx"
    export_onnx(g, plain)
    export_onnx(g, folded, fold=True)
    ops = lambda p: [n.op_type for n in onnx.load(str(p)).graph.node]
    bns = [n for n in g.nodes if g.node_type(n) == "batchnorm"]
    assert ops(plain).count("BatchNormalization") == len(bns) == 4
    assert "BatchNormalization" not in ops(folded)
    inputs = _inputs(g, 2)
    (want,) = _torch_outputs(g, inputs)
    for path in (plain, folded):
        assert_close(run_onnx(path, inputs)[0], want)


def test_opset_is_recorded(tmp_path):
    """--opset 20 is the file's default-domain opset."""
    path = tmp_path / "m.onnx"
    info = export_onnx(small_template("tiny_cnn"), path, opset=20)
    versions = {o.domain: o.version for o in onnx.load(str(path)).opset_import}
    assert info.opset == 20 and versions[""] == 20


def test_given_weights_are_carried(tmp_path):
    """A state dict passed in is what the file holds (not the seeded weights)."""
    g = small_template("tiny_cnn")
    state = {k: np.full_like(v, 0.25) if v.dtype == np.float32 else v for k, v in _state(g).items()}
    path = tmp_path / "w.onnx"
    export_onnx(g, path, state=state, strict=True)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    assert np.all(inits["conv1.weight"] == 0.25)


# torch.onnx writes an adaptive pool that divides its input evenly as an AveragePool (it
# comes back as avgpool, the same computation).
NOT_ROUND_TRIP = {"adaptive_avgpool"}


@pytest.mark.parametrize("node_type", sorted(NODE_CASES))
def test_every_node_type_exports_matches_torch_and_round_trips(tmp_path, node_type):
    """Each node type: onnxruntime equals torch within 1e-5 (batch 2); the import gives the
    same design and weights."""
    g = node_case(node_type)
    path = tmp_path / f"{node_type}.onnx"
    export_onnx(g, path, seed=1)
    inputs = _inputs(g, 2)
    for got, want in zip(run_onnx(path, inputs), _torch_outputs(g, inputs, seed=1)):
        assert_close(got, want)
    if node_type in NOT_ROUND_TRIP:
        return
    imported = import_onnx(path)
    mapping = same_design(g, imported.model)
    same_weights(g, _state(g, seed=1), imported.model, imported.state, mapping)


def test_node_cases_cover_every_node_type():
    """The parity cases name every node type but the input."""
    from engine.nodes.specs import NODE_TYPES

    assert set(NODE_CASES) == set(NODE_TYPES) - {"input"}


def test_a_trained_grn_round_trips_with_its_weights(tmp_path):
    """A GRN with non-zero weight and bias (ConvNeXt V2's, eps 1e-5) exported, then
    imported: one grn node with that eps and those weights, and the imported design run
    in torch equals onnxruntime on the file within 1e-5."""
    from engine.runtime.weights import apply_partial

    g = node_case("grn")
    g.set_param(next(n for n in g.nodes if g.node_type(n) == "grn"), "eps", 1e-5)
    rng = np.random.default_rng(3)
    state = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in _state(g).items()}
    path = tmp_path / "grn.onnx"
    export_onnx(g, path, state=state, strict=True)
    imported = import_onnx(path)
    (grn,) = [n for n in imported.model.nodes if imported.model.node_type(n) == "grn"]
    assert imported.model.params(grn)["eps"] == 1e-5
    mapping = same_design(g, imported.model)
    assert same_weights(g, state, imported.model, imported.state, mapping) == 2
    inputs = _inputs(g, 2)
    module, _plan = build_with_plan(imported.model, 0)
    apply_partial(module, imported.state)
    with torch.no_grad():
        got = module(torch.from_numpy(inputs[0])).numpy()
    assert_close(got, run_onnx(path, inputs)[0])
