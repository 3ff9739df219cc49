"""ONNX import: foreign patterns built with onnx.helper, folding, ids, refusals, hostile files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx_helpers import assert_close, run_onnx

from engine.onnx.convert import import_onnx
from engine.onnx.errors import OnnxImportError, OnnxReadError, OnnxUnsupported
from engine.runtime.build import build_module

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(0)


def _w(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32) * 0.3


def _c(name: str, value) -> onnx.NodeProto:
    """A Constant node holding ``value``."""
    return helper.make_node(
        "Constant",
        [],
        [name],
        name=f"const_{name}",
        value=numpy_helper.from_array(np.asarray(value)),
    )


def _save(tmp_path, nodes, inits=(), opset=13, shape=("N", 3, 8, 8), out_shape=None, name="m"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)
    g = helper.make_graph(
        nodes, "g", [x], [y], [numpy_helper.from_array(v, k) for k, v in dict(inits).items()]
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _types(imported) -> list[str]:
    m = imported.model
    return [m.node_type(n) for n in m.nodes]


def _matches_ort(path, imported, shape=(2, 3, 8, 8)) -> None:
    """The imported design with its weights computes what onnxruntime computes."""
    x = RNG.standard_normal(shape).astype(np.float32)
    (want,) = run_onnx(path, [x])
    module = build_module(imported.model)
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in imported.state.items()})
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    assert_close(got, want)


def _conv(name, src, dst, w_name, **kw):
    return helper.make_node("Conv", [src, w_name], [dst], name=name, **kw)


def test_hardswish_as_add_clip_mul_div_opset11(tmp_path):
    """Add(3) → Clip(0, 6) with bound inputs → Mul(x) → Div(6) is one hardswish."""
    nodes = [
        _c("three", np.float32(3)),
        _c("zero", np.float32(0)),
        _c("six", np.float32(6)),
        helper.make_node("Add", ["x", "three"], ["a"], name="hs_add"),
        helper.make_node("Clip", ["a", "zero", "six"], ["c"], name="hs_clip"),
        helper.make_node("Mul", ["x", "c"], ["m"], name="hs_mul"),
        helper.make_node("Div", ["m", "six"], ["y"], name="hs_div"),
    ]
    path = _save(tmp_path, nodes, opset=13)
    imported = import_onnx(path)
    assert _types(imported) == ["input", "hardswish"]
    _matches_ort(path, imported)


def test_hardsigmoid_keeps_paddle_alpha(tmp_path):
    """HardSigmoid(alpha 0.2, beta 0.5) keeps its own alpha and beta."""
    nodes = [helper.make_node("HardSigmoid", ["x"], ["y"], name="hsig", alpha=0.2, beta=0.5)]
    path = _save(tmp_path, nodes)
    imported = import_onnx(path)
    (node,) = [n for n in imported.model.nodes if imported.model.node_type(n) == "hardsigmoid"]
    assert imported.model.params(node)["alpha"] == pytest.approx(0.2)
    _matches_ort(path, imported)


def test_relu6_from_clip_attributes_before_opset_11(tmp_path):
    """Opset 10 Clip(min=0, max=6) attributes are a ReLU6."""
    nodes = [helper.make_node("Clip", ["x"], ["y"], name="r6", min=0.0, max=6.0)]
    imported = import_onnx(_save(tmp_path, nodes, opset=10))
    assert _types(imported) == ["input", "relu6"]


def test_relu6_from_clip_inputs_from_opset_11(tmp_path):
    """Opset 11+ Clip with constant inputs 0 and 6 is a ReLU6."""
    nodes = [
        _c("lo", np.float32(0)),
        _c("hi", np.float32(6)),
        helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="r6"),
    ]
    imported = import_onnx(_save(tmp_path, nodes, opset=11))
    assert _types(imported) == ["input", "relu6"]


def _classifier_head(tmp_path, tail, inits, opset=13, name="head"):
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat", axis=1),
        *tail,
    ]
    return _save(tmp_path, nodes, inits, opset=opset, out_shape=None, name=name)


def test_linear_as_matmul_plus_add(tmp_path):
    """MatMul(W [in, out]) + Add(b) is one linear layer with W transposed and its bias."""
    w, b = _w(3, 5), _w(5)
    tail = [
        helper.make_node("MatMul", ["f", "W"], ["mm"], name="fc/MatMul"),
        helper.make_node("Add", ["mm", "B"], ["y"], name="fc/Add"),
    ]
    path = _classifier_head(tmp_path, tail, {"W": w, "B": b})
    imported = import_onnx(path)
    assert _types(imported) == ["input", "global_avgpool", "flatten", "linear"]
    np.testing.assert_array_equal(imported.state["fc.weight"], w.T)
    np.testing.assert_array_equal(imported.state["fc.bias"], b)
    _matches_ort(path, imported)


@pytest.mark.parametrize("trans_b", [0, 1])
def test_linear_as_gemm_with_or_without_trans_b(tmp_path, trans_b):
    """Gemm with transB 0 or 1 (and alpha, beta) is one linear layer."""
    w, b = _w(5, 3), _w(5)
    weight = w if trans_b else np.ascontiguousarray(w.T)
    tail = [
        helper.make_node(
            "Gemm", ["f", "W", "B"], ["y"], name="fc", transB=trans_b, alpha=0.5, beta=2.0
        )
    ]
    path = _classifier_head(tmp_path, tail, {"W": weight, "B": b}, name=f"gemm{trans_b}")
    imported = import_onnx(path)
    assert _types(imported)[-1] == "linear"
    np.testing.assert_allclose(imported.state["fc.weight"], w * 0.5)
    _matches_ort(path, imported)


def test_flatten_as_shape_slice_concat_reshape(tmp_path):
    """Reshape to Concat(Slice(Shape(x), 0, 1), [-1]) is a flatten (folded for the size)."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        _c("st", np.array([0], np.int64)),
        _c("en", np.array([1], np.int64)),
        _c("minus", np.array([-1], np.int64)),
        helper.make_node("Slice", ["s", "st", "en"], ["n"], name="slice"),
        helper.make_node("Concat", ["n", "minus"], ["target"], name="cat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="flat"),
    ]
    path = _save(tmp_path, nodes)
    imported = import_onnx(path)
    assert _types(imported) == ["input", "flatten"]
    _matches_ort(path, imported)


def test_reshape_to_batch_and_minus_one_is_flatten(tmp_path):
    """Reshape to the constant [0, -1] is a flatten."""
    nodes = [
        _c("target", np.array([0, -1], np.int64)),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="flat"),
    ]
    assert _types(import_onnx(_save(tmp_path, nodes))) == ["input", "flatten"]


def test_squeeze_and_excitation_with_constant_node_weights(tmp_path):
    """GAP → Conv → Relu → Conv → HardSigmoid → Mul, conv weights in Constant nodes."""
    w1, b1, w2, b2 = _w(2, 3, 1, 1), _w(2), _w(3, 2, 1, 1), _w(3)
    nodes = [
        _c("w1", w1),
        _c("b1", b1),
        _c("w2", w2),
        _c("b2", b2),
        helper.make_node("GlobalAveragePool", ["x"], ["g"], name="conv2_se_pool"),
        helper.make_node("Conv", ["g", "w1", "b1"], ["c1"], name="conv2_se_1", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["c1"], ["r"], name="conv2_se_relu"),
        helper.make_node("Conv", ["r", "w2", "b2"], ["c2"], name="conv2_se_2", kernel_shape=[1, 1]),
        helper.make_node("HardSigmoid", ["c2"], ["h"], name="conv2_se_hs", alpha=0.2, beta=0.5),
        helper.make_node("Mul", ["x", "h"], ["y"], name="conv2_se_mul"),
    ]
    path = _save(tmp_path, nodes)
    imported = import_onnx(path)
    types = _types(imported)
    assert types == ["input", "global_avgpool", "conv1x1", "relu", "conv1x1", "hardsigmoid", "mul"]
    np.testing.assert_array_equal(imported.state["conv2_se_1.weight"], w1)
    _matches_ort(path, imported)


def test_identity_dropout_and_softmax(tmp_path):
    """Identity passes its input on; Dropout(ratio) and Softmax on the last axis map to their
    node types."""
    w = _w(4, 3)
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Identity", ["f"], ["i"], name="ident"),
        _c("ratio", np.float32(0.3)),
        helper.make_node("Dropout", ["i", "ratio"], ["d"], name="drop"),
        helper.make_node("Gemm", ["d", "W"], ["l"], name="fc", transB=1),
        helper.make_node("Softmax", ["l"], ["y"], name="prob", axis=-1),
    ]
    path = _save(tmp_path, nodes, {"W": w})
    imported = import_onnx(path)
    m = imported.model
    assert _types(imported)[3:] == ["dropout", "linear", "softmax"]
    assert m.params("drop") == {"p": 0.3}
    _matches_ort(path, imported)


def test_ids_and_scopes_come_from_node_names(tmp_path):
    """``/layer1/layer1.0/conv1/Conv`` becomes id layer1_0_conv1 in scope layer1.0."""
    nodes = [_conv("/layer1/layer1.0/conv1/Conv", "x", "y", "W", kernel_shape=[3, 3])]
    m = import_onnx(_save(tmp_path, nodes, {"W": _w(4, 3, 3, 3)})).model
    conv = [n for n in m.nodes if m.node_type(n) == "conv"]
    assert conv == ["layer1_0_conv1"]
    assert m.graph.nodes["layer1_0_conv1"].get("scope") == "layer1.0"


def test_open_spatial_sizes_need_input(tmp_path):
    """A file with H and W open is refused without --input and imported with it."""
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="r")]
    path = _save(tmp_path, nodes, shape=["N", 3, "H", "W"])
    with pytest.raises(OnnxImportError, match="--input"):
        import_onnx(path)
    m = import_onnx(path, (3, 32, 16)).model
    assert m.params("x") == {"channels": 3, "height": 32, "width": 16}


def test_refusal_lists_each_operation_once_with_names(tmp_path):
    """Unsupported ops: one line per distinct operation, naming the first node and the count."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t1"], name="tr1", perm=[0, 1, 3, 2]),
        helper.make_node("Transpose", ["x"], ["t2"], name="tr2", perm=[0, 1, 3, 2]),
        helper.make_node("Add", ["t1", "t2"], ["a"], name="add"),
        helper.make_node("Cos", ["a"], ["y"], name="cos"),
    ]
    with pytest.raises(OnnxUnsupported) as info:
        import_onnx(_save(tmp_path, nodes))
    lines = str(info.value).splitlines()
    assert lines[1:] == [
        "  unsupported: Transpose [0, 1, 3, 2] in node 'tr1' and 1 more place(s)",
        "  unsupported: Cos in node 'cos'",
    ]


def test_refusal_is_at_most_thirty_lines(tmp_path):
    """40 distinct unsupported operations give at most 30 lines."""
    ops = ["Erf", "Tan", "Cos", "Sin", "Exp", "Log", "Atan", "Acos", "Asin", "Cosh", "Sinh"]
    nodes, prev = [], "x"
    for i in range(40):
        op = ops[i % len(ops)]
        out = "y" if i == 39 else f"v{i}"
        nodes.append(helper.make_node(op if i < len(ops) else "Abs", [prev], [out], name=f"n{i}"))
        prev = out
    # Abs is folded only on constants: on a tensor it is unsupported too.
    nodes = [
        helper.make_node(
            "Erf",
            ["x" if i == 0 else f"v{i - 1}"],
            ["y" if i == 39 else f"v{i}"],
            name=f"n{i}",
            domain=f"custom{i}",
        )  # fmt: skip
        for i in range(40)
    ]
    path = _save(tmp_path, nodes)
    model = onnx.load(str(path))
    model.opset_import.extend([helper.make_opsetid(f"custom{i}", 1) for i in range(40)])
    onnx.save(model, str(path))
    with pytest.raises(OnnxUnsupported) as info:
        import_onnx(path)
    text = str(info.value).splitlines()
    assert len(text) <= 30 and text[-1].strip().startswith("… and")


def test_huge_declared_tensor_is_refused_before_reading(tmp_path):
    """An initialiser declaring 2**40 floats is refused (exit 2) without reading it."""
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20])
    t.raw_data = b"\0" * 16
    nodes = [_conv("c", "x", "y", "W", kernel_shape=[1, 1])]
    path = _save(tmp_path, nodes)
    model = onnx.load(str(path))
    model.graph.initializer.append(t)
    onnx.save(model, str(path))
    with pytest.raises(OnnxReadError, match="declares 4,398,046,511,104 bytes"):
        import_onnx(path)


def test_external_data_outside_the_folder_is_refused(tmp_path):
    """An initialiser whose data lies in ../secret.bin is refused, the file never opened."""
    (tmp_path / "secret.bin").write_bytes(b"\0" * 64)
    inner = tmp_path / "model"
    inner.mkdir()
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3, 1, 1])
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="../secret.bin")
    t.external_data.add(key="length", value="48")
    path = _save(inner, [_conv("c", "x", "y", "W", kernel_shape=[1, 1])])
    model = onnx.load(str(path), load_external_data=False)
    model.graph.initializer.append(t)
    onnx.save(model, str(path))
    with pytest.raises(OnnxReadError, match="points outside the model's folder"):
        import_onnx(path)


def test_external_data_inside_the_folder_is_read(tmp_path):
    """An initialiser stored in weights.bin beside the file is read at its offset."""
    w = _w(4, 3, 1, 1)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 8 + w.tobytes())
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3, 1, 1])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "8"), ("length", "48")):
        t.external_data.add(key=k, value=v)
    path = _save(tmp_path, [_conv("c", "x", "y", "W", kernel_shape=[1, 1])])
    model = onnx.load(str(path), load_external_data=False)
    model.graph.initializer.append(t)
    onnx.save(model, str(path))
    np.testing.assert_array_equal(import_onnx(path).state["c.weight"], w)


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_import_writes_design_and_weights_without_torch(tmp_path):
    """`main.py import m.onnx` writes both files and never imports torch."""
    w = _w(4, 3, 3, 3)
    path = _save(tmp_path, [_conv("c", "x", "y", "W", kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                 {"W": w})  # fmt: skip
    code = (
        "import sys; sys.argv=['main.py','import',sys.argv[1],'-o',sys.argv[2],'--weights',"
        "sys.argv[3]]; import runpy\n"
        "try:\n runpy.run_path(sys.argv[0] if False else 'main.py', run_name='__main__')\n"
        "except SystemExit as e: print('exit', e.code)\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(tmp_path / "d.json"), str(tmp_path / "w.safetensors")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert out.stdout.strip().splitlines()[-2:] == ["exit 0", "False"], out.stderr
    from safetensors.numpy import load_file

    np.testing.assert_array_equal(load_file(str(tmp_path / "w.safetensors"))["c.weight"], w)


def test_cli_refusal_exits_1(tmp_path):
    """An unsupported op: exit 1, the op and node named on stderr, nothing written."""
    path = _save(tmp_path, [helper.make_node("Cos", ["x"], ["y"], name="cos1")])
    out = _cli("import", path, "-o", tmp_path / "d.json")
    assert out.returncode == 1
    assert "unsupported: Cos in node 'cos1'" in out.stderr
    assert not (tmp_path / "d.json").exists()


def test_paddle_conv_bias_as_a_separate_add_and_batchnorm_counter(tmp_path):
    """Conv without bias + Add of a [1, C, 1, 1] constant is the conv's bias; BatchNorm's
    num_batches_tracked is a 0-d int64 tensor as torch keeps it."""
    w, bias = _w(4, 3, 3, 3), _w(4)
    ones, zeros = np.ones(4, np.float32), np.zeros(4, np.float32)
    nodes = [
        _c("bias", bias.reshape(1, 4, 1, 1)),
        helper.make_node("Conv", ["x", "W"], ["c"], name="conv1", kernel_shape=[3, 3]),
        helper.make_node("Add", ["c", "bias"], ["a"], name="conv1_add"),
        helper.make_node("BatchNormalization", ["a", "S", "B", "M", "V"], ["y"], name="bn1"),
    ]
    path = _save(tmp_path, nodes, {"W": w, "S": ones, "B": zeros, "M": zeros, "V": ones})
    imported = import_onnx(path)
    assert _types(imported) == ["input", "conv", "batchnorm"]
    np.testing.assert_array_equal(imported.state["conv1.bias"], bias)
    counter = imported.state["bn1.num_batches_tracked"]
    assert counter.shape == () and counter.dtype == np.int64
    _matches_ort(path, imported)


def test_exporter_counters_are_not_scopes(tmp_path):
    """``p2o.Conv.3`` (paddle2onnx's counter) is the id p2o_Conv_3 with no scope."""
    nodes = [_conv("p2o.Conv.3", "x", "y", "W", kernel_shape=[3, 3])]
    m = import_onnx(_save(tmp_path, nodes, {"W": _w(4, 3, 3, 3)})).model
    assert "p2o_Conv_3" in m.nodes and not m.graph.nodes["p2o_Conv_3"].get("scope")
