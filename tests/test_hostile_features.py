"""Hostile input to ``features`` and the weights loader: refused early, clearly, no traceback.

Memory is checked from the analysis before anything is allocated; images are refused
above Pillow's decompression-bomb limit (``--max-image-pixels`` raises it); the node
PNGs are capped; weights must be real numbers. Inputs are generated here.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import torch

from cli import main
from cli.features import MAX_GRIDS
from engine.core.fileformat import save
from engine.core.graph import GraphModel
from engine.runtime.build import build_module
from engine.runtime.weights import WeightsError, load_weights

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "resources" / "sample.png"


def features(graph: Path | str, out: Path, *extra: str, image: Path | str = SAMPLE) -> int:
    """``main.py features GRAPH --image IMAGE --out OUT EXTRA...``."""
    return main(["features", str(graph), "--image", str(image), "--out", str(out), *extra])


def chain(n: int, path: Path, size: int = 4) -> Path:
    """input 1×size×size then ``n`` ReLUs, saved to ``path``."""
    m = GraphModel("chain")
    prev = m.add_node("input", {"channels": 1, "height": size, "width": size}, "in")
    for i in range(n):
        nxt = m.add_node("relu", {}, f"r{i}")
        m.connect(prev, nxt)
        prev = nxt
    save(m, path)
    return path


def png_header(path: Path, w: int, h: int, color_type: int = 3) -> Path:
    """A PNG whose header declares ``w``×``h`` (palette by default) and whose data is tiny."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    plte = chunk(b"PLTE", bytes(range(12))) if color_type == 3 else b""
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + plte
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    return path


# --------------------------------------------------------------------------- memory
def test_huge_linear_refused_before_building(tmp_path, capsys):
    """A 2.1-G-parameter linear layer: exit 1 within seconds, weights 7.85 GB named."""
    m = GraphModel("wide")
    m.add_node("input", {"channels": 3, "height": 224, "width": 224}, "in")
    m.add_node("flatten", {}, "flat")
    m.add_node("linear", {"out_features": 14_000}, "fc")
    m.connect("in", "flat")
    m.connect("flat", "fc")
    save(m, tmp_path / "wide.json")
    start = time.perf_counter()
    assert features(tmp_path / "wide.json", tmp_path / "o") == 1
    assert time.perf_counter() - start < 20
    err = capsys.readouterr().err
    assert "features: running this graph needs about 7.85 GB (weights 7.85 GB, " in err
    assert "over the limit of 2.00 GB" in err and "Traceback" not in err


def test_conv_with_a_million_channels_refused(tmp_path, capsys):
    """Two 1×1 convs of 2**20 channels (4 TB of weights): exit 1, nothing allocated."""
    m = GraphModel("deep")
    m.add_node("input", {"channels": 3, "height": 4, "width": 4}, "in")
    m.add_node("conv1x1", {"out_channels": 1 << 20}, "a")
    m.add_node("conv1x1", {"out_channels": 1 << 20}, "b")
    m.connect("in", "a")
    m.connect("a", "b")
    save(m, tmp_path / "deep.json")
    assert features(tmp_path / "deep.json", tmp_path / "o") == 1
    err = capsys.readouterr().err
    assert "(weights 4,096.02 GB, feature maps 128.0 MB," in err
    assert not (tmp_path / "o").exists()


def test_memory_check_comes_before_the_image(tmp_path, capsys):
    """A graph over the limit is refused even when the image is missing: nothing is read."""
    assert features(chain(3, tmp_path / "c.json", 64), tmp_path / "o", "--memory-limit", "0.001",
                    image=tmp_path / "missing.png") == 1  # fmt: skip
    assert "over the limit of 1.0 KB" in capsys.readouterr().err


# --------------------------------------------------------------------------- images
def test_palette_bomb_refused_from_its_header(tmp_path, capsys):
    """A 20000×20000 palette PNG: exit 2 naming the size and Pillow's limit."""
    img = png_header(tmp_path / "bomb.png", 20000, 20000)
    assert features(chain(1, tmp_path / "c.json"), tmp_path / "o", image=img) == 2
    err = capsys.readouterr().err
    assert "bomb.png' is 20000×20000 = 400,000,000 pixels, over the limit of 89,478,485" in err


def test_max_image_pixels_raises_the_limit(tmp_path, capsys):
    """With --max-image-pixels above its size the header passes; the tiny data then fails."""
    img = png_header(tmp_path / "bomb.png", 20000, 20000)
    graph = chain(1, tmp_path / "c.json")
    assert features(graph, tmp_path / "o", "--max-image-pixels", "400000000", image=img) == 2
    assert "cannot decode image" in capsys.readouterr().err


def test_dev_zero_as_image_exits_2(tmp_path, capsys):
    """``/dev/zero`` as the image: read at most the stream limit, exit 2."""
    assert features(chain(1, tmp_path / "c.json"), tmp_path / "o", image="/dev/zero") == 2
    assert "image '/dev/zero' is a stream of more than 268,435,456 bytes" in (
        capsys.readouterr().err
    )


def test_palette_image_decodes_without_an_rgba_copy(tmp_path):
    """A 4000×4000 palette PNG decodes with under 6 bytes per pixel of peak memory."""
    from PIL import Image

    path = tmp_path / "pal.png"
    Image.new("P", (4000, 4000), 3).save(path)
    code = (
        "import resource, sys\n"
        "from engine.runtime.images import load_image\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"a = load_image({str(path)!r})\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(a.shape, (after - before) * 1024 / 16e6)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    shape, per_pixel = proc.stdout.rsplit(" ", 1)
    assert shape == "(4000, 4000, 3)"
    assert float(per_pixel) < 6.0  # P (1) + RGB (3); through RGBA it was 8


# --------------------------------------------------------------------------- output volume
def test_grids_capped_and_said(tmp_path, capsys):
    """More nodes than --max-grids: that many PNGs (plus the localised node's), said so."""
    assert MAX_GRIDS == 500
    out = tmp_path / "o"
    assert features(chain(9, tmp_path / "c.json"), out, "--max-grids", "3") == 0
    pngs = sorted(p.name for p in out.glob("0*.png"))
    assert pngs == ["000_in.png", "001_r0.png", "002_r1.png", "009_r8.png"]
    printed = capsys.readouterr().out
    assert "4 of 10 feature maps written to" in printed
    assert "--all-grids writes every one, sparsity.csv lists all" in printed
    assert len((out / "sparsity.csv").read_text().splitlines()) == 11


def test_all_grids_writes_every_png(tmp_path):
    """--all-grids writes one PNG per node."""
    out = tmp_path / "o"
    assert features(chain(9, tmp_path / "c.json"), out, "--all-grids") == 0
    assert len(list(out.glob("0*.png"))) == 10


# --------------------------------------------------------------------------- graphs
def test_empty_graph_exits_1(tmp_path, capsys):
    """An empty graph: exit 1, as summary and export."""
    save(GraphModel("none"), tmp_path / "e.json")
    assert features(tmp_path / "e.json", tmp_path / "o") == 1
    assert capsys.readouterr().err == (
        "features: the graph is empty; add an input node and some layers\n"
    )


def test_graph_errors_listed_escaped(tmp_path, capsys):
    """Graph errors on a node whose id holds ESC and a newline: one escaped line each."""
    m = GraphModel("bad")
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "in")
    m.add_node("conv", {"out_channels": 4, "kernel_size": 30}, "c\x1b[2J\nFAKE")
    m.connect("in", "c\x1b[2J\nFAKE")
    save(m, tmp_path / "bad.json")
    assert features(tmp_path / "bad.json", tmp_path / "o") == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and "\x1b" not in lines[1]
    assert lines[1].startswith("  - conv 'c\\x1b[2J\\nFAKE'")


def test_lone_surrogate_id_in_sparsity_csv(tmp_path):
    """An id with a lone surrogate: exit 0, written as \\ud800 in sparsity.csv."""
    m = GraphModel("s")
    m.add_node("input", {"channels": 1, "height": 4, "width": 4}, "in")
    m.add_node("relu", {}, "r\ud800")
    m.connect("in", "r\ud800")
    save(m, tmp_path / "s.json")
    assert features(tmp_path / "s.json", tmp_path / "o") == 0
    assert "r\\ud800,relu,1," in (tmp_path / "o" / "sparsity.csv").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- weights
@pytest.mark.parametrize(("dtype", "name"), [(torch.complex64, "complex64"), (torch.bool, "bool")])
def test_weights_of_complex_or_bool_dtype_refused(tmp_path, dtype, name):
    """A state dict with a complex or bool tensor is refused naming the key; nothing loads."""
    m = GraphModel("w")
    m.add_node("input", {"channels": 1, "height": 4, "width": 4}, "in")
    m.add_node("conv", {"out_channels": 2, "kernel_size": 3}, "conv")
    m.connect("in", "conv")
    module = build_module(m)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    state["conv.weight"] = state["conv.weight"].to(dtype)
    torch.save(state, tmp_path / "w.pt")
    before = module.conv.weight.detach().clone()
    with pytest.raises(WeightsError) as info:
        load_weights(module, tmp_path / "w.pt")
    assert info.value.message == (
        f"w.pt: 1 tensor(s) hold {name} values; weights must be real numbers (float), "
        f"nothing was loaded:\n  'conv.weight' is {name}"
    )
    assert torch.equal(module.conv.weight, before)
