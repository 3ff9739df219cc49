"""Feature capture, statistics and receptive-field localisation (engine/features.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.analysis.analyzer import analyze
from engine.analysis.rf_boxes import Preprocess, input_to_original, rf_box
from engine.core.graph import GraphModel
from engine.runtime.features import (
    FeatureError,
    FeatureRunner,
    localisation_node,
    node_stats,
    run_features,
    tune_allocator,
)
from engine.runtime.images import ImageError, preprocess

ROOT = Path(__file__).resolve().parent.parent


def chain(*layers, c: int = 3, h: int = 32, w: int = 32) -> GraphModel:
    """input → layers in a chain; each layer is ``(id, type, params)``."""
    m = GraphModel("t")
    prev = m.add_node("input", {"channels": c, "height": h, "width": w}, "input")
    for nid, t, p in layers:
        m.add_node(t, p, nid)
        m.connect(prev, nid)
        prev = nid
    return m


def photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth-ish random RGB image (uint8)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3)).astype(np.float64)
    big = small.repeat(4, axis=0).repeat(4, axis=1)[:h, :w]
    return np.clip(big + rng.normal(0, 20, big.shape), 0, 255).astype(np.uint8)


CONV_RELU = chain(
    ("conv", "conv", {"out_channels": 64, "kernel_size": 3, "padding": 1, "bias": False}),
    ("relu", "relu", {}),
)


# --------------------------------------------------------------------------- statistics
def test_stats_exact_on_hand_made_map():
    """Sparsity, near-zero, mean, std, max, min and argmax of a known 2×2×3 map."""
    a = np.array([[[0, 0, 1], [-2, 0.0005, 3]], [[0, 4, -0.0005], [1, 1, 0]]], np.float32)
    s = node_stats(a, near_zero=1e-3)
    assert s.sparsity == 4 / 12
    assert s.near_zero == 6 / 12
    assert s.mean == pytest.approx(a.astype(np.float64).mean(), abs=1e-7)
    assert s.std == pytest.approx(a.astype(np.float64).std(), rel=1e-6)
    assert (s.max, s.min) == (4.0, -2.0)
    assert s.argmax == (1, 0, 1)


def test_stats_of_vector_and_first_argmax():
    """A vector's argmax is ``(feature,)``, the first of equal maxima."""
    s = node_stats(torch.tensor([1.0, 5.0, 5.0, 0.0]))
    assert s.argmax == (1,) and s.sparsity == 0.25 and s.mean == 2.75


def test_std_exact_when_mean_dominates():
    """A mean of 1000 with a spread of 0.01 keeps std and mean exact (no cancellation)."""
    a = (1000 + 0.01 * np.random.default_rng(0).standard_normal(8192)).astype(np.float32)
    s = node_stats(a.reshape(2, 64, 64))
    ref = a.astype(np.float64)
    assert s.std == pytest.approx(ref.std(), rel=1e-9)
    assert s.mean == pytest.approx(ref.mean(), rel=1e-12)


def test_relu_sparsity_near_half():
    """After conv (zero bias, random weights) → ReLU, about half the values are exact zeros."""
    r = run_features(CONV_RELU, photo(32, 32), seed=0)
    assert abs(r.stats["relu"].sparsity - 0.5) < 0.05
    assert r.stats["conv"].sparsity == 0.0


def test_relu_sparsity_counts_non_positive_conv_outputs():
    """The ReLU's sparsity is exactly the fraction of conv outputs ≤ 0 (maps are distinct)."""
    r = run_features(CONV_RELU, photo(32, 32), seed=1)
    conv, relu = r.maps["conv"], r.maps["relu"]
    assert conv.min() < 0 <= relu.min()
    np.testing.assert_array_equal(relu, np.maximum(conv, 0))
    assert r.stats["relu"].sparsity == np.count_nonzero(conv <= 0) / conv.size


# --------------------------------------------------------------------------- capture
def test_every_node_captured_with_analysis_shapes():
    """ResNet-18 at 64×64: every node has a float32 map of the analysed shape, batch removed."""
    from engine.templates import resnet18

    m = resnet18()
    m.set_params("input", {"height": 64, "width": 64})
    r = run_features(m, photo(), mode="crop")
    a = analyze(m)
    assert r.order == a.order and set(r.maps) == set(a.order) == set(r.stats)
    for n in a.order:
        assert r.maps[n].shape == a.nodes[n].shape and r.maps[n].dtype == np.float32
        assert r.depth[n] == a.nodes[n].depth and r.types[n] == m.node_type(n)
    assert r.box is not None and r.box.node == "layer4_1_relu_1"
    np.testing.assert_array_equal(r.maps["input"], r.input)


def test_maps_are_views_not_copies():
    """The maps share the output tensors' memory (no copies are held)."""
    r = run_features(CONV_RELU, photo(32, 32))
    for n in r.order:
        assert not r.maps[n].flags.owndata


def test_runner_reruns_deterministically():
    """One runner runs image after image; the same image gives the same maps."""
    runner = FeatureRunner(CONV_RELU, seed=3)
    r1 = runner.run(photo(seed=1))
    r2 = runner.run(photo(seed=2))
    r3 = runner.run(photo(seed=1))
    assert not np.array_equal(r1.maps["relu"], r2.maps["relu"])
    np.testing.assert_array_equal(r1.maps["relu"], r3.maps["relu"])
    assert r1.maps["relu"] is not r3.maps["relu"]  # the first result is not overwritten


def test_runner_analyses_the_graph_once(monkeypatch):
    """FeatureRunner hands its checked analysis to the build instead of analysing again."""
    from engine.analysis import analyzer as analysis_mod

    built = []
    real_init = analysis_mod.Analysis.__init__

    def counting_init(self, graph):
        built.append(graph)
        real_init(self, graph)

    monkeypatch.setattr(analysis_mod.Analysis, "__init__", counting_init)
    runner = FeatureRunner(CONV_RELU)
    assert len(built) == 1
    assert list(runner.module.state_dict()) == ["conv.weight"]


def test_runs_in_eval_and_inference_mode():
    """Dropout passes through, BatchNorm uses running stats, outputs are inference tensors."""
    g = chain(
        ("conv", "conv", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("drop", "dropout", {"p": 0.5}),
        ("bn", "batchnorm", {}),
        h=16,
        w=16,
    )
    runner = FeatureRunner(g)
    r = runner.run(photo(16, 16))
    np.testing.assert_array_equal(r.maps["drop"], r.maps["conv"])
    np.testing.assert_allclose(r.maps["bn"], r.maps["conv"] / np.sqrt(1 + 1e-5), rtol=1e-6)
    out, _ = runner.forward(r.input)
    assert all(t.is_inference() for n, t in out.items() if n != "input")  # input: as given


def test_seed_changes_weights():
    """Different seeds give different random weights, hence different maps."""
    a = run_features(CONV_RELU, photo(32, 32), seed=0).maps["conv"]
    b = run_features(CONV_RELU, photo(32, 32), seed=1).maps["conv"]
    assert not np.array_equal(a, b)


def test_tune_allocator_on_linux():
    """mallopt is found and both thresholds are set (Linux/glibc)."""
    assert tune_allocator() is True


# --------------------------------------------------------------------------- localisation
RF_GRAPH = chain(
    ("c1", "conv", {"out_channels": 4, "kernel_size": 5, "stride": 2, "padding": 2}),
    ("r1", "relu", {}),
    ("c2", "conv", {"out_channels": 4, "kernel_size": 3, "dilation": 2, "padding": 1}),
    ("p", "avgpool", {"kernel_size": 2}),
    ("c3", "conv1x1", {"out_channels": 3}),
    h=40,
    w=36,
)


def _positive_runner() -> FeatureRunner:
    runner = FeatureRunner(RF_GRAPH, seed=0)
    with torch.no_grad():
        for p in runner.module.parameters():
            p.abs_().add_(1e-3)
    return runner


def _gradient_box(runner, x: np.ndarray, node: str, c: int, y: int, xx: int, pre: Preprocess):
    """Backprop from one activation; the extent of non-zero input gradient, in original pixels."""
    t = torch.from_numpy(x.copy()).unsqueeze(0).requires_grad_(True)
    with torch.enable_grad():
        runner.module(t)[node][0, c, y, xx].backward()
    g = t.grad[0].abs().sum(0).numpy()
    ys, xs = np.nonzero(g)
    return input_to_original(pre, ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)


@pytest.mark.parametrize("mode", ["resize", "crop"])
def test_box_of_strongest_equals_gradient_extent(mode):
    """The localisation box equals the extent of the input gradient of the strongest activation."""
    runner = _positive_runner()
    image = photo(90, 130) // 2 + 60  # strictly positive inputs
    r = runner.run(image, mode=mode, normalize="unit")
    b = r.box
    assert b.node == "c3" and b.value == r.stats["c3"].max
    assert (b.channel, b.y, b.x) == r.stats["c3"].argmax
    want = _gradient_box(runner, r.input, "c3", b.channel, b.y, b.x, r.preprocess)
    assert (b.x0, b.y0, b.x1, b.y1) == want


@pytest.mark.parametrize("mode", ["resize", "crop"])
@pytest.mark.parametrize("node,y,x", [("c3", 0, 0), ("c3", 4, 3), ("c2", 9, 8), ("c1", 5, 0)])
def test_rf_box_equals_gradient_extent_anywhere(mode, node, y, x):
    """rf_box of any feature pixel (edges clipped) equals its input-gradient extent."""
    runner = _positive_runner()
    r = runner.run(photo(90, 130) // 2 + 60, mode=mode, normalize="unit")
    b = rf_box(runner.analysis, node, y, x, r.preprocess, channel=1)
    assert (b.x0, b.y0, b.x1, b.y1) == _gradient_box(runner, r.input, node, 1, y, x, r.preprocess)


def _inception_like() -> GraphModel:
    """input → (1×1 conv → relu) and (5×5 conv → relu) → concat → relu."""
    m = chain(h=20, w=20)
    for nid, t, p, src in (
        ("b1", "conv1x1", {"out_channels": 4}, "input"),
        ("b1r", "relu", {}, "b1"),
        ("b2", "conv", {"out_channels": 4, "kernel_size": 5, "padding": 2}, "input"),
        ("b2r", "relu", {}, "b2"),
        ("cat", "concat", {}, None),
        ("out", "relu", {}, "cat"),
    ):
        m.add_node(t, p, nid)
        if src:
            m.connect(src, nid)
    m.connect("b1r", "cat")
    m.connect("b2r", "cat")
    return m


@pytest.mark.parametrize("channel,size", [(1, 1), (5, 5)])
def test_concat_channel_has_its_branch_field(channel, size):
    """A concat channel's box is its own branch's field (1×1 or 5×5), as the gradient says."""
    runner = FeatureRunner(_inception_like(), seed=0)
    with torch.no_grad():
        for p in runner.module.parameters():
            p.abs_().add_(1e-3)
    r = runner.run(photo(20, 20) // 2 + 60, normalize="unit")
    b = rf_box(runner.analysis, "out", 10, 10, r.preprocess, channel=channel)
    assert (b.x1 - b.x0, b.y1 - b.y0) == (size, size)
    assert (b.x0, b.y0, b.x1, b.y1) == _gradient_box(
        runner, r.input, "out", channel, 10, 10, r.preprocess
    )


def test_rf_box_through_resize_and_crop():
    """A 3×3 field at pixel (0, 0) maps to 9×6 px (resize 20×30) and 6×6 px from x=10 (crop)."""
    g = chain(("c", "conv", {"out_channels": 1, "kernel_size": 3}), c=1, h=10, w=10)
    a = analyze(g)
    _, pre = preprocess(np.zeros((20, 30), np.uint8), 1, 10, mode="resize")
    b = rf_box(a, "c", 0, 0, pre)
    assert (b.x0, b.y0, b.x1, b.y1) == (0, 0, 9, 6)
    _, pre = preprocess(np.zeros((20, 40), np.uint8), 1, 10, mode="crop")
    b = rf_box(a, "c", 7, 7, pre, channel=0, value=2.5)
    assert (b.x0, b.y0, b.x1, b.y1, b.value) == (24, 14, 30, 20, 2.5)


def test_chosen_node_and_channel():
    """With node and channel given, the box is that channel's strongest pixel."""
    runner = _positive_runner()
    r = runner.run(photo(40, 36), node="c2", channel=2)
    plane = r.maps["c2"][2]
    y, x = np.unravel_index(np.argmax(plane), plane.shape)
    assert (r.box.node, r.box.channel, r.box.y, r.box.x) == ("c2", 2, y, x)
    assert r.box.value == plane.max()


def test_vector_node_box_is_whole_image():
    """Localising a vector node (flatten/linear) gives the whole image."""
    g = chain(
        ("c", "conv", {"out_channels": 2, "kernel_size": 3}),
        ("f", "flatten", {}),
        ("fc", "linear", {"out_features": 5}),
        h=8,
        w=8,
    )
    r = run_features(g, photo(20, 30), node="fc")
    assert (r.box.x0, r.box.y0, r.box.x1, r.box.y1) == (0, 0, 30, 20)
    assert r.box.channel == r.stats["fc"].argmax[0]


def test_localisation_node_skips_one_by_one_maps():
    """The default localisation node is the last map larger than 1×1 (not global pooling)."""
    g = chain(
        ("c", "conv", {"out_channels": 2, "kernel_size": 3}),
        ("gap", "global_avgpool", {}),
        ("f", "flatten", {}),
        h=8,
        w=8,
    )
    assert localisation_node(analyze(g)) == "c"


# --------------------------------------------------------------------------- refusals
def test_invalid_graph_refused_with_errors_listed(monkeypatch):
    """A graph with analysis errors is refused before building, each error listed with its node."""
    import engine.runtime.build

    def boom(*a, **k):
        raise AssertionError("built anyway")

    monkeypatch.setattr(engine.runtime.build, "build_module", boom)
    g = chain(("c", "conv", {"out_channels": 2, "kernel_size": 9}), h=4, w=4)
    g.add_node("relu", {}, "lonely")
    with pytest.raises(FeatureError, match=r"2 error\(s\)") as info:
        run_features(g, photo())
    text = str(info.value)
    assert "conv 'c' kernel 9 is larger than its padded input 4" in text
    assert "relu 'lonely' has no input" in text


def test_memory_limit_refused_before_building(monkeypatch):
    """Maps over the memory limit are refused before the model is built."""
    import engine.runtime.build

    def boom(*a, **k):
        raise AssertionError("built anyway")

    monkeypatch.setattr(engine.runtime.build, "build_module", boom)
    with pytest.raises(
        FeatureError,
        match=r"needs about 1\.5 MB \(weights 6\.8 KB, feature maps 524\.0 KB, working memory "
        r"1\.0 MB\), over the limit of 100\.0 KB",
    ):
        run_features(CONV_RELU, photo(), memory_limit=100 * 1024)


def test_two_inputs_refused():
    """A graph with two input nodes is refused, naming them."""
    g = chain(h=8, w=8)
    g.add_node("input", {"channels": 3, "height": 8, "width": 8}, "input2")
    g.add_node("add", {}, "sum")
    g.connect("input", "sum")
    g.connect("input2", "sum")
    with pytest.raises(
        FeatureError,
        match=r"exactly one input node; the graph has 2 "
        r"\('input', 'input2'\)",
    ):
        run_features(g, photo())


def test_empty_graph_refused():
    """An empty graph is refused."""
    with pytest.raises(FeatureError, match="the graph is empty"):
        run_features(GraphModel(), photo())


def test_teaching_block_runs_on_photo():
    """Inception 3a (192 input channels) runs on the sample photo: RGB repeated 64 times."""
    from engine.templates import inception3a_reduced

    r = run_features(inception3a_reduced(), ROOT / "resources" / "sample.png")
    assert r.input.shape == (192, 28, 28)
    np.testing.assert_array_equal(r.input[3:6], r.input[0:3])
    assert r.box is not None and r.maps[r.box.node].shape[1:] == (28, 28)


def test_bad_channel_and_node_refused():
    """An unknown node or an out-of-range channel is refused."""
    runner = FeatureRunner(CONV_RELU)
    with pytest.raises(FeatureError, match="no node 'nope'"):
        runner.run(photo(), node="nope")
    with pytest.raises(FeatureError, match="64 channels; channel 64 is out of range 0–63"):
        runner.run(photo(), node="relu", channel=64)


def test_bad_image_refused_before_building(tmp_path, monkeypatch):
    """A text file named .png is refused before the model is built."""
    import engine.runtime.build

    def boom(*a, **k):
        raise AssertionError("built anyway")

    monkeypatch.setattr(engine.runtime.build, "build_module", boom)
    (tmp_path / "x.png").write_text("text")
    with pytest.raises(ImageError, match=r"x\.png' is not an image"):
        run_features(CONV_RELU, tmp_path / "x.png")


def test_image_over_pixel_limit_refused_before_decoding_or_building(tmp_path, monkeypatch):
    """A PNG header declaring 30000×30000 pixels is refused before decoding and building."""
    import struct
    import zlib

    import engine.runtime.build

    def boom(*a, **k):
        raise AssertionError("built anyway")

    monkeypatch.setattr(engine.runtime.build, "build_module", boom)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    path = tmp_path / "huge.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(
        ImageError,
        match=r"huge\.png' is 30000×30000 = 900,000,000 pixels, "
        r"over the limit",
    ):
        run_features(CONV_RELU, path)
