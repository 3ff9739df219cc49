"""The weights module: torch-free headers, key matching, the message of a file that does not fit,
and torchvision's own files (.pth, .pt, .safetensors) loading into the matching templates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from cli import main
from engine.codegen.targets import legacy_flat_keys
from engine.runtime.build import build_module
from engine.runtime.weights import (
    WeightsError,
    check_state_dict,
    load_weights,
    save_state,
    template_shapes,
)
from engine.templates import TEMPLATES
from engine.weights.fit import closest_design, fit_keys, mismatch_lines
from engine.weights.header import HeaderError, read_header

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample.png"
TV_KEYS = json.loads((ROOT / "tests" / "fixtures" / "torchvision_keys.json").read_text())


def tv_shapes(name: str) -> dict[str, tuple[int, ...]]:
    """torchvision's ``{key: shape}`` for ``name`` (from the committed list)."""
    return {k: tuple(s) for k, s in TV_KEYS[name]}


def tv_state(name: str, seed: int = 0, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """A seeded state dict with torchvision's keys and shapes (what torch.save of it gives)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, shape in tv_shapes(name).items():
        if k.endswith("num_batches_tracked"):
            out[k] = torch.tensor(7)
        elif k.endswith("running_var"):
            out[k] = (torch.rand(shape, generator=g) + 0.5).to(dtype)
        else:
            out[k] = (torch.randn(shape, generator=g) * 0.05).to(dtype)
    return out


# --------------------------------------------------------------------------- header
def test_header_lists_dtypes_shapes_and_metadata(tmp_path):
    """read_header gives every tensor's dtype and shape and the metadata, from the header."""
    path = tmp_path / "w.safetensors"
    arrays = {"a.weight": np.zeros((4, 3, 3, 3), np.float32), "b.n": np.zeros((), np.int64)}
    save_file(arrays, str(path), metadata={"format": "convcanvas.weights"})
    h = read_header(path)
    assert {k: (t.dtype, t.shape) for k, t in h.tensors.items()} == {
        "a.weight": ("F32", (4, 3, 3, 3)),
        "b.n": ("I64", ()),
    }
    assert h.metadata == {"format": "convcanvas.weights"}


def test_header_reader_never_imports_torch(tmp_path):
    """engine.weights lists a file in a process where torch is never imported."""
    path = tmp_path / "w.safetensors"
    save_file({"fc.weight": np.ones((2, 5), np.float16)}, str(path))
    code = (
        "import sys; from engine.weights import read_header; "
        f"print(read_header({str(path)!r}).shapes()); print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.split("\n")[:2] == ["{'fc.weight': (2, 5)}", "False"]


def test_header_with_data_outside_the_file_is_refused(tmp_path):
    """A header whose offsets point past the end of the file names the tensor."""
    text = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"\0" * 8)
    with pytest.raises(HeaderError) as info:
        read_header(path)
    assert str(info.value) == (
        "bad.safetensors: not a safetensors file, or it is damaged (tensor 'w'): its data lies "
        "outside the file or has the wrong size"
    )


# --------------------------------------------------------------------------- matching
def test_flat_names_are_migrated_through_the_legacy_table_with_one_note():
    """Old flat keys map to their targets via legacy_flat_keys; one note line says so."""
    own = {"layer1.0.conv1.weight": (8, 8, 3, 3), "fc.bias": (4,)}
    found = {"layer1_0_conv1.weight": (8, 8, 3, 3), "fc.bias": (4,)}
    fit = fit_keys(own, found, {"layer1_0_conv1": "layer1.0.conv1", "fc": "fc"}, "old.pt")
    assert fit.fits and fit.rename == {"layer1_0_conv1.weight": "layer1.0.conv1.weight"}
    assert fit.notes == [
        "old.pt: 1 keys in the flat names of an earlier release (e.g. 'layer1_0_conv1.weight'), "
        "migrated to module targets (e.g. 'layer1.0.conv1.weight')"
    ]


def test_message_lists_ten_keys_of_each_kind_then_and_n_more():
    """25 missing and 12 unexpected: counts, 10 of each with shapes, 'and 15 more' / 'and 2 more'."""
    own = {f"m{i}.weight": (i + 1, 2) for i in range(25)}
    found = {f"u{i}.bias": (3,) for i in range(12)}
    fit = fit_keys(own, found)
    lines = mismatch_lines(fit, own, found, "x.pth")
    assert lines[0] == (
        "x.pth: the weights do not fit this model (25 missing, 12 unexpected); nothing was loaded"
    )
    assert lines[1:3] == ["missing from the file (25):", "  m0.weight  1x2"]
    assert lines[12] == "  and 15 more"
    assert lines[13:15] == ["in the file, not in the model (12):", "  u0.bias  3"]
    assert lines[24:] == ["  and 2 more"]


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "googlenet", "vgg16"])
def test_torchvision_keys_fit_the_template(name):
    """The template has exactly torchvision's keys and shapes (GoogLeNet's aux heads aside)."""
    graph = TEMPLATES[name].builder()
    fit = fit_keys(template_shapes()[name], tv_shapes(name), legacy_flat_keys(graph))
    assert fit.fits and fit.rename == {}
    assert sorted({k.split(".")[0] for k in fit.set_aside}) == (
        ["aux1", "aux2"] if name == "googlenet" else []
    )


@pytest.mark.parametrize(
    "name, title", [("resnet50", "ResNet-50"), ("googlenet", "GoogLeNet"), ("vgg16", "VGG-16")]
)
def test_closest_template_is_named(name, title):
    """A torchvision file that does not fit ResNet-18 names the template it fits."""
    module = build_module(TEMPLATES["resnet18"].builder())
    with torch.device("meta"):
        state = {k: torch.empty(s) for k, s in tv_shapes(name).items()}
    with pytest.raises(WeightsError) as info:
        check_state_dict(module, state, f"{name}.pth")
    assert info.value.lines[1] == (
        f"these are torchvision {title} keys: they fit the template "
        f"'{TEMPLATES[name].title}' (File → Templates, or --template {name})"
    )


def test_no_template_is_named_for_unrelated_keys():
    """A file sharing a few keys with every template names none."""
    assert closest_design({"fc.weight": (10, 512), "x.weight": (3,)}, template_shapes()) is None


# --------------------------------------------------------------------------- the user's paths
@pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors"])
def test_torchvision_resnet18_file_loads_into_the_template(tmp_path, suffix):
    """torchvision-keyed ResNet-18 weights (.pth/.pt/.safetensors) land in the template's layers."""
    state = tv_state("resnet18", seed=3)
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".safetensors":
        save_state(state, path)
    else:
        torch.save(state, path)
    graph = TEMPLATES["resnet18"].builder()
    module = build_module(graph, seed=0)
    assert load_weights(module, path, graph) == []
    own = module.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items())


def test_features_cli_loads_torchvision_resnet18_weights(tmp_path, capsys):
    """features --template resnet18 --weights resnet18.pth: exit 0, trained-weights outputs."""
    torch.save(tv_state("resnet18", seed=4), tmp_path / "resnet18.pth")
    out = tmp_path / "out"
    args = ["features", "--template", "resnet18", "--image", str(SAMPLE), "--out", str(out)]
    code = main([*args, "--weights", str(tmp_path / "resnet18.pth"), "--max-grids", "2"])
    assert code == 0, capsys.readouterr().err
    assert (out / "sparsity_by_depth.png").is_file()


def test_features_cli_prints_a_mismatch_on_real_lines(tmp_path, capsys):
    """ResNet-50's file into ResNet-18: real lines, counts, 10 keys each, 'and N more', the hint."""
    torch.save(tv_state("resnet50", dtype=torch.float16), tmp_path / "resnet50.pth")
    args = [
        "features",
        "--template",
        "resnet18",
        "--image",
        str(SAMPLE),
        "--out",
        str(tmp_path / "o"),
    ]
    code = main([*args, "--weights", str(tmp_path / "resnet50.pth")])
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 1
    assert "\\n" not in err and len(lines) == 26
    assert lines[0] == (
        "features: resnet50.pth: the weights do not fit this model (198 unexpected, "
        "24 of the wrong shape); nothing was loaded"
    )
    assert lines[1].startswith("these are torchvision ResNet-50 keys: they fit the template")
    assert lines[2:4] == [
        "in the file, not in the model (198):",
        "  layer1.0.conv3.weight  256x64x1x1",
    ]
    assert lines[13:16] == [
        "  and 188 more",
        "of the wrong shape (24):",
        "  layer1.0.conv1.weight: 64x64x1x1 in the file, the model needs 64x64x3x3",
    ]
    assert lines[25] == "  and 14 more"


def test_safetensors_whose_header_length_starts_with_0x80_is_read(tmp_path):
    """A safetensors file whose 8-byte header length begins with byte 0x80 is no pickle."""
    import torch

    from engine.runtime.weights import read_state_dict, save_state

    for n in range(1, 400):  # grow the header until its length's low byte is 0x80
        state = {f"k{i:03d}": torch.zeros(1) for i in range(n)}
        path = tmp_path / f"w{n}.safetensors"
        save_state(state, path)
        if path.read_bytes()[:1] == b"\x80":
            break
    else:
        raise AssertionError("no header length with low byte 0x80 found")
    assert set(read_state_dict(path)) == set(state)


def test_run_load_weights_takes_torchvision_resnet18_pth(win, qtbot, tmp_path):
    """Run → Load weights… with torchvision's resnet18.pth on the ResNet-18 template: loaded."""
    torch.save(tv_state("resnet18", seed=6), tmp_path / "resnet18.pth")
    win.load_template("resnet18")
    host = win.train_host
    with qtbot.waitSignal(host.controller.loaded, timeout=180_000):
        assert host.load_weights(str(tmp_path / "resnet18.pth"))
    assert win.doc.weights.text() == "loaded from resnet18.pth"
    assert len(win.doc.weights.state(win.doc.model)) == 122
