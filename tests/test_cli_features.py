"""``python main.py features``: grids, sparsity.csv, localisation, refusals (engine/cli_features.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli import main
from cli.features import CSV_COLUMNS, LUT, safe_name, tile_grid
from engine.core.fileformat import save
from engine.core.graph import GraphModel
from engine.runtime.features import run_features

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "resources" / "sample.png"


def small_graph() -> GraphModel:
    """input 3×24×24 → conv 3×3 (8) → relu → maxpool 2 → flatten → linear 5."""
    m = GraphModel("small")
    m.add_node("input", {"channels": 3, "height": 24, "width": 24}, "input")
    prev = "input"
    for nid, t, p in (
        ("conv", "conv", {"out_channels": 8, "kernel_size": 3, "padding": 1}),
        ("relu", "relu", {}),
        ("pool", "maxpool", {"kernel_size": 2}),
        ("flat", "flatten", {}),
        ("fc", "linear", {"out_features": 5}),
    ):
        m.add_node(t, p, nid)
        m.connect(prev, nid)
        prev = nid
    return m


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The CLI run once on the small graph and the sample image."""
    d = tmp_path_factory.mktemp("feat")
    save(small_graph(), d / "g.json")
    return d


def test_writes_one_png_per_node_csv_and_prints_box(ran, capsys):
    """Exit 0; one PNG per node, sparsity.csv, localisation.png and .json, one overlay per
    method that applies; the box printed."""
    out = ran / "out"
    code = main(["features", str(ran / "g.json"), "--image", str(SAMPLE), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    names = [
        "000_input.png",
        "001_conv.png",
        "002_relu.png",
        "003_pool.png",
        "004_flat.png",
        "005_fc.png",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        names
        + [".convcanvas-output", "localisation.json", "localisation.png", "sparsity.csv"]
        # one overlay per method; no global average pool here, so no class activation map
        + [f"localisation_{m}.png" for m in ("receptive_field", "effective", "grad_cam")]
    )
    r = run_features(small_graph(), SAMPLE)
    b = r.box
    assert b.node == "pool"
    assert (
        f"localisation: node 'pool' channel {b.channel} at (y={b.y}, x={b.x})" in printed
        and f"box x {b.x0}..{b.x1}, y {b.y0}..{b.y1}" in printed
    )


def test_sparsity_csv_columns_and_values(ran):
    """sparsity.csv has node,type,depth,shape,sparsity,mean,max with the run's statistics."""
    out = ran / "csv"
    assert main(["features", str(ran / "g.json"), "--image", str(SAMPLE), "--out", str(out)]) == 0
    with open(out / "sparsity.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert (
        tuple(rows[0])
        == CSV_COLUMNS
        == ("node", "type", "depth", "shape", "sparsity", "mean", "max")
    )
    r = run_features(small_graph(), SAMPLE)
    assert [row[0] for row in rows[1:]] == r.order
    by = {row[0]: row for row in rows[1:]}
    assert by["conv"][1:4] == ["conv", "1", "8x24x24"]
    assert by["fc"][1:4] == ["linear", "5", "5"]
    assert float(by["relu"][4]) == pytest.approx(r.stats["relu"].sparsity, abs=1e-6)
    assert float(by["relu"][6]) == pytest.approx(r.stats["relu"].max, rel=1e-5)


def test_node_png_has_grid_and_scale_bar(ran):
    """A node's PNG holds its 8 channels (3×3 grid) and a scale bar from max (top) to min."""
    out = ran / "png"
    assert (
        main(
            [
                "features",
                str(ran / "g.json"),
                "--image",
                str(SAMPLE),
                "--out",
                str(out),
                "--node",
                "conv",
            ]
        )
        == 0
    )
    img = np.asarray(Image.open(out / "001_conv.png").convert("RGB"))
    grid = tile_grid(run_features(small_graph(), SAMPLE).maps["conv"])
    assert grid.shape == (3 * 24 + 2, 3 * 24 + 2, 3)
    h, w = grid.shape[:2]
    found = [
        (y, x)
        for y in range(img.shape[0] - h)
        for x in range(0, 40)
        if np.array_equal(img[y : y + h, x : x + w], grid)
    ]
    assert len(found) == 1
    y, x = found[0]
    bar = img[y : y + max(h, 120), x + w + 8 + 5]  # a column in the middle of the bar
    assert tuple(bar[0]) == tuple(LUT[255]) and tuple(bar[-1]) == tuple(LUT[0])


def test_node_option_localises_that_node(ran, capsys):
    """--node relu prints the box of relu's strongest activation, as run_features gives it."""
    code = main(
        [
            "features",
            str(ran / "g.json"),
            "--image",
            str(SAMPLE),
            "--out",
            str(ran / "node"),
            "--node",
            "relu",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    b = run_features(small_graph(), SAMPLE, node="relu").box
    assert b.node == "relu"
    assert (
        f"localisation: node 'relu' channel {b.channel} at (y={b.y}, x={b.x})" in printed
        and f"box x {b.x0}..{b.x1}, y {b.y0}..{b.y1}" in printed
    )


def test_tile_grid_layout_and_colours():
    """Four 2×2 channels tile 2×2, enlarged 12×; min gets the first colour, max the last."""
    a = np.zeros((4, 2, 2), np.float32)
    a[3, 1, 1] = 5.0
    a[0, 0, 0] = -1.0
    g = tile_grid(a)
    assert g.shape == (2 * 24 + 1, 2 * 24 + 1, 3)
    assert tuple(g[0, 0]) == tuple(LUT[0])
    assert tuple(g[-1, -1]) == tuple(LUT[255])
    assert tuple(g[24, 0]) == (32, 32, 36)  # the gap between tiles


def test_tile_grid_vector_strip():
    """A 40-feature vector becomes a 2-row strip of 32 cells (the unused cells stay empty)."""
    g = tile_grid(np.arange(40, dtype=np.float32))
    zoom = 384 // 32
    assert g.shape == (2 * zoom, 32 * zoom, 3)
    assert tuple(g[-1, -1]) == (32, 32, 36)
    assert tuple(g[zoom, 7 * zoom]) == tuple(LUT[255])


def test_safe_names():
    """File names keep safe characters and the topological index."""
    assert safe_name(7, "layer1.0/conv 1") == "007_layer1.0_conv_1.png"


def test_text_file_as_image_exits_2(ran, tmp_path, capsys):
    """A text file named .png: exit 2 (unreadable input) and a message naming it."""
    bad = tmp_path / "photo.png"
    bad.write_text("not a picture")
    code = main(
        ["features", str(ran / "g.json"), "--image", str(bad), "--out", str(tmp_path / "o")]
    )
    assert code == 2
    assert "photo.png' is not an image" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_invalid_graph_exits_1(tmp_path, capsys):
    """A graph with errors: exit 1, the errors listed."""
    m = small_graph()
    m.set_params("conv", {"kernel_size": 30})
    save(m, tmp_path / "bad.json")
    code = main(
        [
            "features",
            str(tmp_path / "bad.json"),
            "--image",
            str(SAMPLE),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "features: the graph has 1 error(s)" in err and "conv 'conv' kernel 30" in err


def test_unreadable_graph_file_exits_2(tmp_path, capsys):
    """A graph file that is not JSON: exit 2 with the reader's message."""
    (tmp_path / "g.json").write_text("{nope")
    code = main(
        ["features", str(tmp_path / "g.json"), "--image", str(SAMPLE), "--out", str(tmp_path / "o")]
    )
    assert code == 2 and capsys.readouterr().err.startswith("features: ")


def test_channel_out_of_range_exits_1(ran, tmp_path, capsys):
    """--channel beyond the node's channels: exit 1 naming the range."""
    code = main(
        [
            "features",
            str(ran / "g.json"),
            "--image",
            str(SAMPLE),
            "--out",
            str(tmp_path / "o"),
            "--node",
            "conv",
            "--channel",
            "8",
        ]
    )
    assert code == 1
    assert "node 'conv' has 8 channels; channel 8 is out of range 0–7" in capsys.readouterr().err


def test_memory_limit_exits_1(ran, tmp_path, capsys):
    """Feature maps over --memory-limit: exit 1 with the sizes."""
    code = main(
        [
            "features",
            str(ran / "g.json"),
            "--image",
            str(SAMPLE),
            "--out",
            str(tmp_path / "o"),
            "--memory-limit",
            "0.01",
        ]
    )
    assert code == 1
    assert (
        "features: running this graph needs about 147.2 KB (weights 23.4 KB, feature maps "
        "51.8 KB, working memory 72.0 KB), over the limit of 10.2 KB" in capsys.readouterr().err
    )
