"""Training: shapes data, image folders, the loop's checks and determinism, weights files, the CLI."""

from __future__ import annotations

import csv
import importlib.util
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from engine.recipes.schedule import lr_at, warmup_steps
from engine.recipes.shapes import CLASSES, shape_batch, shape_image
from engine.runtime.build import build_module
from engine.runtime.images import preprocess
from engine.runtime.weights import WeightsError, load_weights, save_state, save_weights
from engine.templates.tiny import tiny_cnn
from engine.training.data import DataError, folder_data, normalise, shapes_data
from engine.training.loop import TrainConfig, TrainError, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"shapes_train": 96, "shapes_held_out": 24, "evals": 2}


def run_cli(argv, capsys):
    from cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- shapes
def test_shape_classes_are_in_the_issue_order():
    """The six classes come in the order circle, square, triangle, cross, ring, star."""
    assert CLASSES == ("circle", "square", "triangle", "cross", "ring", "star")


def test_shape_image_is_a_pure_function_of_seed_and_index():
    """The same (seed, index) gives the same pixels, label and box; another index does not."""
    a, la, ba = shape_image(3, 17, (64, 64))
    b, lb, bb = shape_image(3, 17, (64, 64))
    c, _, _ = shape_image(3, 18, (64, 64))
    assert np.array_equal(a, b) and la == lb and ba == bb
    assert not np.array_equal(a, c)


def test_shape_box_holds_the_object_and_is_tight():
    """The box's border rows/columns hold shape pixels (x1, y1 exclusive) and lie in the image."""
    for i in range(20):
        img, _label, (x0, y0, x1, y1) = shape_image(0, i, (48, 64))
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 48
        assert img.shape == (48, 64, 3)


def test_every_class_appears_in_a_batch():
    """200 images cover all six classes, each at least 15 times."""
    _, labels, _ = shape_batch(0, 0, 200, (32, 32))
    assert np.bincount(labels, minlength=6).min() >= 15


def test_normalise_equals_the_feature_preprocessing(tmp_path):
    """A shapes image written as PNG and run through preprocess() gives normalise()'s numbers."""
    d = shapes_data((40, 40), 3, seed=1, train=2, held_out=1)
    Image.fromarray(d.train_x[0], "RGB").save(tmp_path / "a.png")
    want, _ = preprocess(str(tmp_path / "a.png"), 3, (40, 40))
    got = normalise(d.train_x[:1], 3)[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_gray_shapes_match_preprocess_for_a_one_channel_input(tmp_path):
    """For a 1-channel input the shapes are Pillow's luma, normalised as the features do."""
    rgb, _, _ = shape_image(0, 0, (32, 32))
    Image.fromarray(rgb, "RGB").save(tmp_path / "a.png")
    d = shapes_data((32, 32), 1, seed=0, train=1, held_out=1)
    want, _ = preprocess(str(tmp_path / "a.png"), 1, (32, 32))
    np.testing.assert_allclose(normalise(d.train_x[:1], 1)[0], want, rtol=0, atol=1e-6)


def test_data_command_writes_pngs_and_labels(tmp_path, capsys):
    """`data shapes` writes N PNGs and labels.csv whose rows match the generator."""
    code, out, _ = run_cli(
        ["data", "shapes", "--out", str(tmp_path), "--count", "5", "--size", "32", "--seed", "2"],
        capsys,
    )
    assert code == 0
    rows = list(csv.reader((tmp_path / "labels.csv").read_text().splitlines()))
    assert rows[0] == ["file", "label", "class", "x0", "y0", "x1", "y1"]
    assert len(rows) == 6
    img, label, box = shape_image(2, 3, (32, 32))
    assert rows[4] == ["00003.png", str(label), CLASSES[label], *map(str, box)]
    with Image.open(tmp_path / "00003.png") as im:
        assert np.array_equal(np.asarray(im), img)


# --------------------------------------------------------------------------- folders
def make_folder(root, classes: dict[str, int], size=(20, 24), colour=True):
    rng = np.random.default_rng(0)
    for name, n in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = (size[0], size[1], 3) if colour else size
            Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(
                root / name / f"{i}.png"
            )
    return root


def test_folder_classes_are_subfolders_with_a_seeded_stratified_split(tmp_path):
    """Two classes of 10 images: 8 + 8 training and 2 + 2 held-out, the same split per seed."""
    make_folder(tmp_path, {"cat": 10, "dog": 10})
    a = folder_data(tmp_path, (16, 16), 3, seed=5)
    b = folder_data(tmp_path, (16, 16), 3, seed=5)
    assert a.classes == ("cat", "dog")
    assert np.bincount(a.train_y).tolist() == [8, 8]
    assert np.bincount(a.held_y).tolist() == [2, 2]
    assert np.array_equal(a.held_x, b.held_x) and a.train_x.shape == (16, 16, 16, 3)


def test_unreadable_images_are_skipped_and_counted(tmp_path):
    """A damaged PNG and a text file named .jpg are left out and counted in the report."""
    make_folder(tmp_path, {"a": 3, "b": 3})
    (tmp_path / "a" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (tmp_path / "b" / "note.jpg").write_text("not an image")
    d = folder_data(tmp_path, (16, 16), 3)
    assert len(d.skipped) == 2
    assert "2 unreadable image(s) skipped" in d.describe()
    assert len(d.train_y) + len(d.held_y) == 6


def test_a_class_without_images_is_refused_by_name(tmp_path):
    """An empty class folder is named in the refusal."""
    make_folder(tmp_path, {"a": 3, "b": 3})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="'empty'.*hold no images"):
        folder_data(tmp_path, (16, 16), 3)


def test_a_single_class_is_refused(tmp_path):
    """One class subfolder is not a classification task."""
    make_folder(tmp_path, {"only": 4})
    with pytest.raises(DataError, match="single class"):
        folder_data(tmp_path, (16, 16), 3)


def test_an_empty_folder_is_refused(tmp_path):
    """A folder without class subfolders says how to lay it out."""
    with pytest.raises(DataError, match="no class subfolders"):
        folder_data(tmp_path, (16, 16), 3)


def test_colour_images_for_a_one_channel_input_are_refused(tmp_path):
    """RGB images and a 1-channel input: refused, naming the input node and the file."""
    make_folder(tmp_path, {"a": 2, "b": 2})
    with pytest.raises(DataError, match="input node 'input' takes 1 channel"):
        folder_data(tmp_path, (16, 16), 1)


def test_gray_images_feed_a_three_channel_input(tmp_path):
    """Grayscale images go into an RGB input repeated, with the numbers preprocess() gives."""
    make_folder(tmp_path, {"a": 1, "b": 1}, colour=False)
    d = folder_data(tmp_path, (16, 16), 3, held_out=0.0)
    x = normalise(d.train_x, 3)
    assert x.shape == (2, 3, 16, 16)
    for k, label in enumerate(d.train_y):
        path = next((tmp_path / d.classes[label]).iterdir())
        with Image.open(path) as im:
            want, _ = preprocess(np.asarray(im), 3, (16, 16))
        np.testing.assert_allclose(x[k], want, rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- the loop
def test_schedule_warms_up_then_decays_to_zero():
    """lr rises linearly over 5 % of the steps to the base, then a cosine reaches 0."""
    total = 200
    w = warmup_steps(total)
    assert w == 10
    assert lr_at(0, total, 1.0) == pytest.approx(0.1)
    assert lr_at(w - 1, total, 1.0) == pytest.approx(1.0)
    assert lr_at(w + (total - w) // 2, total, 1.0) == pytest.approx(0.5, abs=0.01)
    assert lr_at(total, total, 1.0) == pytest.approx(0.0, abs=1e-12)


def test_the_same_seed_gives_the_same_weights():
    """Two 3-step runs with one seed and one thread end with identical tensors; another seed differs."""
    g = tiny_cnn(size=32)
    a = train(g, TrainConfig(steps=3, batch=8, seed=4, **SMALL))
    b = train(g, TrainConfig(steps=3, batch=8, seed=4, **SMALL))
    c = train(g, TrainConfig(steps=3, batch=8, seed=5, **SMALL))
    assert all(np.array_equal(a.state[k], b.state[k]) for k in a.state)
    assert not all(np.array_equal(a.state[k], c.state[k]) for k in a.state)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"seconds": 0.0}, "seconds"), ({"seconds": -1.0}, "seconds"), ({"lr": math.nan}, "lr")],
)
def test_bad_settings_are_refused(kwargs, field):
    """A zero or negative time budget and a NaN learning rate are refused, naming the setting."""
    with pytest.raises(TrainError, match=f"--{field}"):
        train(tiny_cnn(size=32), TrainConfig(**kwargs, **SMALL))


def test_a_graph_without_a_head_is_refused_with_what_to_add():
    """Ending in a ReLU: the message says to add global avg pool → flatten → linear 6."""
    g = tiny_cnn(size=32)
    for n in ("fc", "flatten", "gap"):
        g.remove_node(n)
    with pytest.raises(
        TrainError, match=r"global avg pool → flatten → linear \(out_features=6\) after 'relu4'"
    ):
        train(g, TrainConfig(steps=1, **SMALL))


def test_a_wrong_output_count_is_refused():
    """A head with 10 outputs for 6 classes: set out_features to 6."""
    with pytest.raises(TrainError, match="'fc' has 10 outputs but the data has 6 classes"):
        train(tiny_cnn(size=32, classes=10), TrainConfig(steps=1, **SMALL))


# --------------------------------------------------------------------------- weights files
@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_weights_round_trip_is_exact(tmp_path, suffix):
    """save → load copies every tensor bit for bit, in both formats."""
    src = build_module(tiny_cnn(size=32), seed=1)
    src.bn1.running_var.fill_(0.5)
    save_weights(src, tmp_path / f"w{suffix}")
    dst = build_module(tiny_cnn(size=32), seed=2)
    load_weights(dst, tmp_path / f"w{suffix}")
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def exported_class(tmp_path, graph):
    from engine.codegen.emit import export_code

    path = tmp_path / "exported_model.py"
    path.write_text(export_code(graph))
    spec = importlib.util.spec_from_file_location("exported_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.TinyCNN


def test_exported_code_loads_convcanvas_weights_strictly(tmp_path):
    """Weights trained by ConvCanvas load into the exported class (strict) and give the same outputs."""
    g = tiny_cnn(size=32)
    r = train(g, TrainConfig(steps=2, batch=8, **SMALL))
    save_state(r.state, tmp_path / "w.safetensors")
    from safetensors.torch import load_file

    net = exported_class(tmp_path, g)()
    net.load_state_dict(load_file(str(tmp_path / "w.safetensors")), strict=True)
    net.eval()
    ours = build_module(g)
    load_weights(ours, tmp_path / "w.safetensors")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(net(x), ours(x))


def test_a_state_dict_saved_from_exported_code_loads_into_convcanvas(tmp_path):
    """torch.save(exported.state_dict()) loads into ConvCanvas's module unchanged."""
    g = tiny_cnn(size=32)
    torch.manual_seed(7)
    net = exported_class(tmp_path, g)()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    ours = build_module(g, seed=0)
    load_weights(ours, tmp_path / "w.pt")
    for k, v in net.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v)


def test_a_corrupt_safetensors_file_is_refused_and_nothing_changes(tmp_path):
    """A truncated .safetensors: WeightsError naming the file; the model keeps its tensors."""
    m = build_module(tiny_cnn(size=32))
    save_weights(m, tmp_path / "w.safetensors")
    data = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "w.safetensors").write_bytes(data[: len(data) // 2])
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with pytest.raises(WeightsError, match="w.safetensors"):
        load_weights(m, tmp_path / "w.safetensors")
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_mismatched_weights_are_named_with_shapes(tmp_path):
    """A 10-class head's file into a 6-class model: the message lists fc's two shapes."""
    save_weights(build_module(tiny_cnn(size=32, classes=10)), tmp_path / "w.safetensors")
    with pytest.raises(
        WeightsError, match=r"\n  fc.weight: 10x64 in the file, the model needs 6x64\n"
    ):
        load_weights(build_module(tiny_cnn(size=32)), tmp_path / "w.safetensors")


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def tiny_file(tmp_path):
    from engine.core.fileformat import save

    path = tmp_path / "tiny.json"
    save(tiny_cnn(size=32), path)
    return path


@pytest.mark.parametrize(
    "extra", [["--seconds", "0"], ["--seconds", "-3"], ["--lr", "nan"], ["--steps", "0"]]
)
def test_train_refuses_bad_numbers_with_usage_errors(tiny_file, tmp_path, capsys, extra):
    """--seconds 0 / negative, --lr nan, --steps 0: exit 2, the option named."""
    code, _, err = run_cli(
        [
            "train",
            str(tiny_file),
            "--data",
            "shapes",
            *extra,
            "-o",
            str(tmp_path / "w.safetensors"),
        ],
        capsys,
    )
    assert code == 2
    assert extra[0] in err


def test_train_without_a_head_exits_1(tmp_path, capsys):
    """A graph ending in a ReLU: exit 1 and the message says what to add."""
    from engine.core.fileformat import save

    g = tiny_cnn(size=32)
    for n in ("fc", "flatten", "gap"):
        g.remove_node(n)
    save(g, tmp_path / "g.json")
    code, _, err = run_cli(
        [
            "train",
            str(tmp_path / "g.json"),
            "--data",
            "shapes",
            "--steps",
            "1",
            "-o",
            str(tmp_path / "w.pt"),
        ],
        capsys,
    )
    assert code == 1
    assert "classifier head" in err and "linear (out_features=6)" in err


def test_train_with_a_wrong_class_count_exits_1(tmp_path, capsys):
    """A 10-output head for the 6 shapes classes: exit 1, the message says to set 6."""
    from engine.core.fileformat import save

    save(tiny_cnn(size=32, classes=10), tmp_path / "g.json")
    code, _, err = run_cli(
        [
            "train",
            str(tmp_path / "g.json"),
            "--data",
            "shapes",
            "--steps",
            "1",
            "-o",
            str(tmp_path / "w.pt"),
        ],
        capsys,
    )
    assert code == 1
    assert "'fc' has 10 outputs but the data has 6 classes; set its out_features to 6" in err


def test_train_with_rgb_data_for_a_gray_input_exits_1(tmp_path, capsys):
    """A 1-channel input and colour images: exit 1 naming the input node."""
    from engine.core.fileformat import save

    save(tiny_cnn(channels=1, size=32, classes=2), tmp_path / "g.json")
    make_folder(tmp_path / "data", {"a": 2, "b": 2})
    code, _, err = run_cli(
        [
            "train",
            str(tmp_path / "g.json"),
            "--data",
            str(tmp_path / "data"),
            "--steps",
            "1",
            "-o",
            str(tmp_path / "w.pt"),
        ],
        capsys,
    )
    assert code == 1
    assert "takes 1 channel" in err


def test_train_writes_loadable_weights_and_reports_accuracy(
    tiny_file, tmp_path, capsys, monkeypatch
):
    """A 3-step run writes a safetensors file with the model's keys and prints the accuracy line."""
    import engine.training.data as data_mod

    monkeypatch.setattr(data_mod, "SHAPES_TRAIN", 64)
    monkeypatch.setattr(data_mod, "SHAPES_HELD_OUT", 16)
    out = tmp_path / "w.safetensors"
    code, stdout, _ = run_cli(
        [
            "train",
            str(tiny_file),
            "--data",
            "shapes",
            "--steps",
            "3",
            "--batch",
            "8",
            "-o",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("held-out accuracy: ") and 0 <= float(last.split(": ")[1]) <= 1
    load_weights(build_module(tiny_cnn(size=32)), out)


def test_features_with_a_corrupt_weights_file_exits_2(tiny_file, tmp_path, capsys):
    """features --weights on a damaged file: exit 2 and the file named."""
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json!!!!!!!")
    Image.fromarray(shape_image(0, 0, (32, 32))[0]).save(tmp_path / "i.png")
    code, _, err = run_cli(
        [
            "features",
            str(tiny_file),
            "--image",
            str(tmp_path / "i.png"),
            "--out",
            str(tmp_path / "o"),
            "--weights",
            str(bad),
        ],
        capsys,
    )
    assert code == 2
    assert "bad.safetensors" in err


def test_features_with_mismatched_weights_exits_1(tiny_file, tmp_path, capsys):
    """features --weights with a 10-class file for a 6-class design: exit 1, layer 'fc' named."""
    save_weights(build_module(tiny_cnn(size=32, classes=10)), tmp_path / "w.safetensors")
    Image.fromarray(shape_image(0, 0, (32, 32))[0]).save(tmp_path / "i.png")
    code, _, err = run_cli(
        [
            "features",
            str(tiny_file),
            "--image",
            str(tmp_path / "i.png"),
            "--out",
            str(tmp_path / "o"),
            "--weights",
            str(tmp_path / "w.safetensors"),
        ],
        capsys,
    )
    assert code == 1
    assert err.splitlines()[-2:] == [
        "  fc.weight: 10x64 in the file, the model needs 6x64",
        "  fc.bias: 10 in the file, the model needs 6",
    ]


def test_localisation_json_has_both_boxes_in_image_pixels(tiny_file, tmp_path, capsys):
    """localisation.json holds node, channel, y, x, value and two [x0, y0, x1, y1] boxes inside the image."""
    Image.fromarray(shape_image(0, 1, (32, 32))[0]).resize((64, 48)).save(tmp_path / "i.png")
    code, _, _ = run_cli(
        [
            "features",
            str(tiny_file),
            "--image",
            str(tmp_path / "i.png"),
            "--out",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == 0
    loc = json.loads((tmp_path / "o" / "localisation.json").read_text())
    assert set(loc) == {"node", "channel", "y", "x", "value", "rf_box", "effective_box"} | {
        "class",
        "boxes",
        "skipped",
    }
    assert loc["node"] == "relu4"
    assert list(loc["boxes"]) == ["receptive_field", "effective", "class_activation", "grad_cam"]
    assert loc["boxes"]["receptive_field"] == loc["rf_box"] and loc["skipped"] == {}
    for method in loc["boxes"]:
        assert (tmp_path / "o" / f"localisation_{method}.png").is_file()
    for box in (loc["rf_box"], loc["effective_box"]):
        x0, y0, x1, y1 = box
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 48
    ex0, ey0, ex1, ey1 = loc["effective_box"]
    rx0, ry0, rx1, ry1 = loc["rf_box"]
    assert rx0 <= ex0 and ry0 <= ey0 and ex1 <= rx1 and ey1 <= ry1  # the gradient lives in the RF
