"""Localisation methods: the class activation map by hand, Grad-CAM against it, the box rule,
and the ``localise`` command's refusals of bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from engine import GraphModel
from engine.analysis.heat import heat_box, mass_box, score_box, upsample
from engine.runtime.features import FeatureRunner
from engine.runtime.localise import LocaliseError, localise
from engine.templates.tiny import tiny_cnn


def cam_net() -> GraphModel:
    """in 3×8×8 → conv 3×3 (4, pad 1) → ReLU → max pool 2 → GAP → flatten → linear 3."""
    g = GraphModel("cam")
    g.add_node("input", {"channels": 3, "height": 8, "width": 8}, "in")
    g.add_node("conv", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "c")
    g.add_node("relu", {}, "r")
    g.add_node("maxpool", {"kernel_size": 2, "stride": 2}, "p")
    g.add_node("global_avgpool", {}, "gap")
    g.add_node("flatten", {}, "flat")
    g.add_node("linear", {"out_features": 3}, "fc")
    for a, b in (
        ("in", "c"),
        ("c", "r"),
        ("r", "p"),
        ("p", "gap"),
        ("gap", "flat"),
        ("flat", "fc"),
    ):
        g.connect(a, b)
    return g


def _image(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)


def test_class_activation_map_equals_a_hand_computation():
    """CAM of the predicted class: einsum of the linear weights over the pooled conv maps,
    bilinear to 8×8, positive part, scaled to a maximum of 1."""
    runner = FeatureRunner(cam_net(), seed=7)
    result = runner.run(_image())
    done, skipped = localise(runner, result, ("class_activation",))
    assert skipped == {}
    sd = runner.module.state_dict()
    x = torch.from_numpy(result.input).unsqueeze(0)
    a = F.max_pool2d(F.relu(F.conv2d(x, sd["c.weight"], sd["c.bias"], padding=1)), 2)[0]
    logits = sd["fc.weight"] @ a.mean(dim=(1, 2)) + sd["fc.bias"]
    k = int(logits.argmax())
    cam = torch.einsum("k,khw->hw", sd["fc.weight"][k], a)
    up = F.interpolate(cam[None, None], size=(8, 8), mode="bilinear", align_corners=False)[0, 0]
    want = up.clamp(min=0)
    want = (want / want.max()).numpy()
    got = done["class_activation"]
    assert got.cls == k and got.node == "p"
    np.testing.assert_allclose(got.heat, want, rtol=1e-5, atol=1e-6)


def test_grad_cam_equals_the_class_activation_map_on_a_gap_linear_head():
    """At the pooled node, Grad-CAM's map is the CAM's up to a positive scale (same heat, same box),
    for the predicted class and for every chosen class."""
    runner = FeatureRunner(cam_net(), seed=3)
    result = runner.run(_image(2))
    for cls in (None, 0, 1, 2):
        done, _ = localise(runner, result, ("class_activation", "grad_cam"), cls=cls)
        cam, grad = done["class_activation"], done["grad_cam"]
        assert grad.node == cam.node == "p" and grad.cls == cam.cls
        if cam.heat.max() == 0:
            continue
        np.testing.assert_allclose(grad.heat, cam.heat, rtol=1e-4, atol=1e-5)
        assert grad.box == cam.box


def test_an_unknown_class_is_refused_by_name_and_by_index():
    """A class name not in the list and an index past the output: LocaliseError naming it."""
    runner = FeatureRunner(cam_net())
    result = runner.run(_image())
    with pytest.raises(LocaliseError, match="unknown class 'dog'.*known: a, b, c"):
        localise(runner, result, cls="dog", classes=["a", "b", "c"])
    with pytest.raises(LocaliseError, match="class 3 is out of range.*3 classes"):
        localise(runner, result, cls=3)


def test_class_activation_is_skipped_without_a_gap_linear_head():
    """A head of conv → flatten → linear: CAM skipped with the reason, Grad-CAM still runs."""
    g = GraphModel("nohead")
    g.add_node("input", {"channels": 3, "height": 8, "width": 8}, "in")
    g.add_node("conv", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "c")
    g.add_node("flatten", {}, "flat")
    g.add_node("linear", {"out_features": 3}, "fc")
    for a, b in (("in", "c"), ("c", "flat"), ("flat", "fc")):
        g.connect(a, b)
    runner = FeatureRunner(g)
    done, skipped = localise(runner, runner.run(_image()))
    assert list(done) == ["receptive_field", "effective", "grad_cam"]
    assert "not a global average pool" in skipped["class_activation"]


def test_mass_box_is_the_smallest_box_holding_half_the_mass():
    """Two equal blobs: the first in (y0, x0) order; a faint point tips it to the other blob and
    the point (4×8 px); a single point gives a 1-pixel box, an empty map the whole input."""
    m = np.zeros((10, 12))
    m[2:4, 2:4] = 1.0  # 4 units
    m[6:8, 8:10] = 1.0  # 4 units
    m[0, 11] = 0.5
    assert mass_box(m) == (0, 8, 8, 12)  # 4.5 of 8.5 units in 32 px: no smaller box holds 4.25
    m[0, 11] = 0.0
    assert mass_box(m) == (2, 2, 4, 4)
    p = np.zeros((5, 5))
    p[3, 1] = 2.0
    assert mass_box(p) == (3, 1, 4, 2)
    assert mass_box(np.zeros((4, 6))) == (0, 0, 4, 6)


def test_heat_box_centres_the_half_mass_size_on_the_centroid():
    """Two equal 2×2 blobs centred at (3, 3) and (7, 9): a 2×2 box centred on (5, 6), between
    them; one corner pixel gives that pixel, an empty map the whole input."""
    m = np.zeros((10, 12))
    m[2:4, 2:4] = 1.0
    m[6:8, 8:10] = 1.0
    assert heat_box(m) == (4, 5, 6, 7)
    p = np.zeros((5, 5))
    p[0, 0] = 1.0
    assert heat_box(p) == (0, 0, 1, 1)
    assert heat_box(np.zeros((4, 6))) == (0, 0, 4, 6)


def test_upsample_matches_torch_bilinear():
    """upsample equals interpolate(bilinear, align_corners=False) for 7×7 → 224×224 and 3×5 → 8×9."""
    rng = np.random.default_rng(0)
    for (h, w), size in (((7, 7), (224, 224)), ((3, 5), (8, 9))):
        m = rng.standard_normal((h, w)).astype(np.float32)
        want = F.interpolate(torch.from_numpy(m)[None, None], size=size, mode="bilinear")
        np.testing.assert_allclose(upsample(m, size), want[0, 0].numpy(), atol=1e-5)


def test_score_box_counts_hits_by_centre_and_iou():
    """A box 12 px off-centre on a 64×64 image is a hit (≤ 12.8), 13 px is not; IoU and area exact."""
    obj = (20, 20, 40, 40)
    assert score_box((32, 20, 52, 40), obj, (64, 64)) == (
        True,
        8 * 20 / (2 * 400 - 160),
        400 / 4096,
    )
    assert score_box((33, 20, 53, 40), obj, (64, 64))[0] is False


# --------------------------------------------------------------------------- the command
def run_cli(argv, capsys):
    from cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def design(tmp_path):
    from engine.core.fileformat import save

    path = tmp_path / "tiny.json"
    save(tiny_cnn(size=32), path)
    return path


@pytest.fixture
def folder(tmp_path, capsys):
    """Three 32×32 shapes images and their labels.csv, as `data shapes` writes them."""
    out = tmp_path / "data"
    code, _, _ = run_cli(
        ["data", "shapes", "--out", str(out), "--count", "3", "--size", "32"], capsys
    )
    assert code == 0
    return out


def _rewrite(folder, edit) -> None:
    path = folder / "labels.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def test_localise_json_reports_every_method(design, folder, capsys):
    """localise --json on a folder: four methods, counts 3, rates within [0, 1], the boxes per image."""
    code, out, err = run_cli(["localise", str(design), "--data", str(folder), "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert list(report["methods"]) == [
        "receptive_field",
        "effective",
        "class_activation",
        "grad_cam",
    ]
    for row in report["methods"].values():
        assert set(row) == {"hits", "count", "rate", "iou", "area"}
        assert row["count"] == 3 and row["rate"] == row["hits"] / 3
    assert [im["file"] for im in report["images"]] == ["00000.png", "00001.png", "00002.png"]


def test_localise_refuses_labels_without_the_box_columns(design, folder, capsys):
    """A labels.csv without x1, y1: exit 2, the missing columns named."""
    _rewrite(folder, lambda lines: [",".join(line.split(",")[:5]) for line in lines])
    code, _, err = run_cli(["localise", str(design), "--data", str(folder)], capsys)
    assert code == 2
    assert "lacks the column(s) x1, y1" in err


def test_localise_refuses_a_box_outside_its_image(design, folder, capsys):
    """A box reaching x 40 on a 32-px image: exit 2, the line, box and image named."""
    _rewrite(folder, lambda lines: [lines[0], "00000.png,0,circle,10,10,40,20", *lines[2:]])
    code, _, err = run_cli(["localise", str(design), "--data", str(folder)], capsys)
    assert code == 2
    assert "labels.csv line 2: the box x 10–40, y 10–20 is empty or outside the 32×32" in err


def test_localise_refuses_a_missing_image(design, folder, capsys):
    """A row naming a file that is not there: exit 2, the line and file named."""
    (folder / "00001.png").unlink()
    code, _, err = run_cli(["localise", str(design), "--data", str(folder)], capsys)
    assert code == 2
    assert "labels.csv line 3: the image '00001.png' does not exist" in err


def test_localise_refuses_a_class_the_design_does_not_have(design, folder, capsys):
    """Label 9 for a 6-class output: exit 1, the class and the design's range named."""

    def label_9(lines):
        parts = lines[1].split(",")
        parts[1] = "9"
        return [lines[0], ",".join(parts), *lines[2:]]

    _rewrite(folder, label_9)
    code, _, err = run_cli(["localise", str(design), "--data", str(folder)], capsys)
    assert code == 1
    assert "class 9" in err and "6 classes (0–5)" in err


def test_localise_refuses_a_design_without_a_spatial_layer(tmp_path, capsys):
    """input → flatten → linear: exit 1, 'no spatial layer'."""
    from engine.core.fileformat import save

    g = GraphModel("flat")
    g.add_node("input", {"channels": 3, "height": 32, "width": 32}, "in")
    g.add_node("flatten", {}, "flat")
    g.add_node("linear", {"out_features": 6}, "fc")
    g.connect("in", "flat")
    g.connect("flat", "fc")
    save(g, tmp_path / "flat.json")
    code, _, err = run_cli(["localise", str(tmp_path / "flat.json"), "--data", "shapes"], capsys)
    assert code == 1
    assert "no spatial layer" in err


def test_features_refuses_an_unknown_class_name(design, tmp_path, capsys):
    """features --class dog with random weights (no class names): exit 1, 'unknown class'."""
    Image.fromarray(_image().repeat(4, 0).repeat(4, 1)).save(tmp_path / "i.png")
    argv = [
        "features",
        str(design),
        "--image",
        str(tmp_path / "i.png"),
        "--out",
        str(tmp_path / "o"),
    ]
    code, _, err = run_cli([*argv, "--class", "dog"], capsys)
    assert code == 1
    assert "unknown class 'dog'" in err
