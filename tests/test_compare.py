"""Comparing designs: totals, deltas, breakdowns and ``main.py compare``."""

from __future__ import annotations

import json

import pytest

from cli import main as cli_main
from engine.analysis.analyzer import analyze
from engine.analysis.compare import DELTA_KEYS, block_of, compare, scope_block
from engine.core.fileformat import save
from engine.formatting import fmt_percent
from engine.templates import TEMPLATES, build

BAD_GRAPH = {
    "format": "convcanvas.graph",
    "version": 1,
    "name": "bad",
    "nodes": [
        {"id": "img", "type": "input"},
        {"id": "head", "type": "linear", "params": {"out_features": 10}},
        {"id": "after", "type": "relu"},
    ],
    "edges": [{"src": "img", "dst": "head"}, {"src": "head", "dst": "after"}],
}


def test_inception_reduction_delta():
    """1×1 reductions: −229,888 weights against the naive block, −59.4%."""
    c = compare([build("inception3a_naive"), build("inception3a_reduced")])
    assert c.deltas[1]["weights"] == -229_888
    assert fmt_percent(c.deltas[1]["weights"], c.designs[0].totals["weights"]) == "\u221259.4%"


def test_resnet_bottleneck_numbers():
    """Basic block at 256 channels 1,179,648 weights → bottleneck 69,632 (−1,110,016)."""
    c = compare([build("resnet_basic_256"), build("resnet_bottleneck")])
    assert [d.totals["weights"] for d in c.designs] == [1_179_648, 69_632]
    assert c.deltas[1]["weights"] == -1_110_016


def test_baseline_entry_is_zero():
    """The baseline's own delta is all zeros, whichever design is the baseline."""
    c = compare([build("resnet_basic_64"), build("resnet_basic_256")], baseline=1)
    assert c.deltas[1] == dict.fromkeys(DELTA_KEYS, 0)
    assert c.deltas[0]["params"] == 73_728 - 1_179_648


def test_output_fields():
    """Output shape, receptive field, depth and conv/linear layer count of ResNet-18."""
    d = compare([build("resnet18"), build("resnet50")]).designs
    assert d[0].output_shape == (1000,)
    assert d[0].output_rf[0][0] == 627
    assert (d[0].layers, d[1].layers) == (18, 50)
    assert (d[0].depth, d[1].depth) == (63, 167)


def test_scope_blocks():
    """Module paths map to their top block."""
    assert scope_block("layer2.0.downsample") == "layer2.0"
    assert scope_block("inception3a.branch2.0") == "inception3a"
    assert scope_block("conv1") == "conv1"


def test_block_names():
    """Template ids map to their block; plain ids have none."""
    assert block_of("layer1_0_conv1") == "layer1_0"
    assert block_of("inception3a_branch2_0_conv") == "inception3a"
    assert block_of("branch1_1x1") == "branch1"
    assert [block_of(n) for n in ("conv1", "relu_1", "layer1_0", "conv1_1")] == [None] * 4


def test_breakdown_blocks_sum_to_totals():
    """ResNet-18 against ResNet-50 by block: stem first, head last, sums equal the totals."""
    c = compare([build("resnet18"), build("resnet50")])
    b = c.breakdown
    assert b.kind == "blocks"
    assert b.groups[:3] == ["stem", "layer1.0", "layer1.1"] and b.groups[-1] == "head"
    assert "layer3.5" in b.groups and b.values[0].get("layer3.5") is None
    for i, d in enumerate(c.designs):
        assert sum(b.series(i, "params")) == d.totals["params"]
        assert sum(b.series(i, "macs")) == d.totals["macs"]


def test_breakdown_stages():
    """The Tiny CNN has no blocks: stages are runs of one spatial size."""
    b = compare([build("tiny_cnn"), build("tiny_cnn")]).breakdown
    assert b.kind == "stages"
    assert b.groups == ["64×64", "32×32", "16×16", "8×8", "1×1", "flat"]
    assert b.values[0]["8×8"]["params"] == 36_992


def test_breakdown_of_vgg16_is_by_stage():
    """VGG-16's two blocks (features, classifier) are too few: stages of one spatial size."""
    b = compare([build("vgg16"), build("vgg16")]).breakdown
    assert b.kind == "stages"
    assert b.groups == ["224×224", "112×112", "56×56", "28×28", "14×14", "7×7", "flat"]
    assert b.values[0]["flat"]["params"] == 123_642_856


def test_breakdown_layers_for_single_blocks():
    """A basic block against a bottleneck: one bar per conv, exact weights."""
    b = compare([build("resnet_basic_256"), build("resnet_bottleneck")]).breakdown
    assert b.kind == "layers"
    assert b.groups == ["conv1", "conv2", "conv3"]
    assert b.series(0, "params") == [589_824, 589_824, 0]
    assert b.series(1, "params") == [16_384, 36_864, 16_384]


def test_analysis_is_used_as_is():
    """A live Analysis is read, not re-analysed: the same totals as the graph's."""
    g = build("inception3a_reduced")
    a = analyze(g)
    assert compare([a, g]).deltas[1] == dict.fromkeys(DELTA_KEYS, 0)


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_json_totals_equal_summary(key, capsys):
    """``compare --json`` totals equal ``summary --json`` totals for every template."""
    assert cli_main(["summary", "--template", key, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["totals"]
    assert cli_main(["compare", "--template", key, "--template", "resnet_basic_64", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["designs"][0]["totals"] == summary
    assert out["baseline"] == 0
    assert out["deltas"][0] == dict.fromkeys(DELTA_KEYS, 0)


def test_json_files(tmp_path, capsys):
    """Files are read in order; deltas are design minus baseline."""
    a, b = tmp_path / "naive.json", tmp_path / "reduced.json"
    save(build("inception3a_naive"), a)
    save(build("inception3a_reduced"), b)
    assert cli_main(["compare", str(a), str(b), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [d["file"] for d in out["designs"]] == [str(a), str(b)]
    assert out["designs"][1]["name"] == "Inception 3a (1×1 reductions)"
    assert out["deltas"][1]["weights"] == -229_888
    assert out["deltas"][1]["macs"] == 123_232_256 - 303_464_448


def test_text_table(capsys):
    """The text table shows values and the change, absolute and percent."""
    args = ["compare", "--template", "inception3a_naive", "--template", "inception3a_reduced"]
    assert cli_main(args) == 0
    text = capsys.readouterr().out
    weights = next(line for line in text.splitlines() if line.startswith("weights"))
    assert weights.split() == ["weights", "387,072", "157,184", "\u2212229,888", "(\u221259.4%)"]
    assert "(baseline)" in text.splitlines()[0]


def test_invalid_design_exits_1(tmp_path, capsys):
    """A design with errors: exit 1, stderr names the design and the error."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(BAD_GRAPH), encoding="utf-8")
    assert cli_main(["compare", "--template", "resnet_basic_64", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "design 'bad'" in captured.err and str(bad) in captured.err
    assert "head:" in captured.err


def test_unreadable_file_exits_2(tmp_path, capsys):
    """A file that is not a graph: exit 2 with the file named."""
    junk = tmp_path / "junk.json"
    junk.write_text("{not json", encoding="utf-8")
    assert cli_main(["compare", str(junk), "--template", "resnet_basic_64"]) == 2
    assert "junk.json" in capsys.readouterr().err


def test_one_design_exits_2(capsys):
    """Comparing needs two designs."""
    assert cli_main(["compare", "--template", "resnet_basic_64"]) == 2
    assert "at least two" in capsys.readouterr().err


def test_bad_baseline_exits_2(capsys):
    """A baseline index out of range is bad usage."""
    args = ["compare", "--template", "resnet18", "--template", "vgg16", "--baseline", "2"]
    assert cli_main(args) == 2
    assert "--baseline 2" in capsys.readouterr().err


def test_markdown_table():
    """Markdown: a header, right-aligned numbers, pipes in names escaped."""
    from engine.analysis.compare_text import markdown

    a, b = build("resnet_basic_256"), build("resnet_bottleneck")
    b.set_name("bottleneck | 64")
    lines = markdown(compare([a, b])).splitlines()
    assert lines[0] == (
        "| quantity | ResNet basic block (256 channels) (baseline) | bottleneck \\| 64 | change |"
    )
    assert lines[1] == "|:---|---:|---:|---:|"
    assert lines[3] == "| weights | 1,179,648 | 69,632 | \u22121,110,016 (\u221294.1%) |"


def test_compare_subprocess(tmp_path):
    """``python main.py compare A B --json`` in a real process: exit 0 and the deltas."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    save(build("resnet_basic_64"), a)
    save(build("resnet_basic_256"), b)
    out = subprocess.run(
        [sys.executable, str(root / "main.py"), "compare", str(a), str(b), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["deltas"][1]["weights"] == 1_179_648 - 73_728


def test_control_characters_escaped(tmp_path, capsys):
    """A name with terminal controls prints escaped in the table; JSON keeps it exactly."""
    a = build("resnet_basic_64")
    a.set_name("evil\x1b[2Jname")
    path = tmp_path / "evil.json"
    save(a, path)
    assert cli_main(["compare", str(path), "--template", "resnet_basic_256"]) == 0
    text = capsys.readouterr().out
    assert "\x1b" not in text and "evil\\x1b[2Jname (baseline)" in text
    assert cli_main(["compare", str(path), "--template", "resnet_basic_256", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["designs"][0]["name"] == "evil\x1b[2Jname"


def test_empty_design_exits_1(tmp_path, capsys):
    """An empty design is refused, naming it."""
    from engine.core.graph import GraphModel

    path = tmp_path / "empty.json"
    save(GraphModel("nothing"), path)
    assert cli_main(["compare", str(path), "--template", "resnet_basic_64"]) == 1
    assert "design 'nothing'" in capsys.readouterr().err
