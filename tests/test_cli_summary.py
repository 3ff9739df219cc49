"""``main.py summary``: table, totals, JSON, exit statuses and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli import main as cli_main
from cli.summary import rf_text
from engine.core.fileformat import save
from engine.templates import build

ROOT = Path(__file__).resolve().parent.parent

ACCEPTANCE = {  # template key → (totals field, value)
    "inception3a_naive": ("weights", 387_072),
    "inception3a_reduced": ("weights", 157_184),
    "inception3a_googlenet": ("weights", 163_328),
    "resnet_basic_64": ("weights", 73_728),
    "resnet_basic_256": ("weights", 1_179_648),
    "resnet_bottleneck": ("weights", 69_632),
    "googlenet": ("params", 6_624_904),
    "resnet18": ("params", 11_689_512),
    "resnet50": ("params", 25_557_032),
    "vgg16": ("params", 138_357_544),
}

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


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every acceptance template saved to a file."""
    folder = tmp_path_factory.mktemp("templates")
    paths = {}
    for key in ACCEPTANCE:
        paths[key] = folder / f"{key}.json"
        save(build(key), paths[key])
    return paths


def run_main(*args: str) -> subprocess.CompletedProcess:
    """Run ``python main.py ...`` in a subprocess."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=60,
    )


def test_acceptance_numbers_through_subprocess(saved):
    """`main.py summary FILE --json` reports every acceptance number exactly (one run per file)."""
    for key, (field, value) in ACCEPTANCE.items():
        proc = run_main("summary", str(saved[key]), "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["totals"][field] == value, key


def test_text_table_subprocess(saved):
    """The text form prints the per-node table and the totals block and exits 0."""
    proc = run_main("summary", str(saved["resnet18"]))
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    conv1 = next(line for line in lines if line.startswith("conv1 "))
    assert "64×112×112" in conv1 and "9,408" in conv1 and "7×7 /2 @-3" in conv1
    assert any(line.split()[:2] == ["params", "11,689,512"] for line in lines)


def test_unreadable_file_subprocess(tmp_path):
    """A missing file exits 2 with a message naming it on stderr."""
    proc = run_main("summary", str(tmp_path / "missing.json"))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "missing.json" in proc.stderr and "cannot read" in proc.stderr


def test_invalid_graph_subprocess(tmp_path):
    """`main.py summary` on a graph with errors exits 1 and lists each error on stderr."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(BAD_GRAPH), encoding="utf-8")
    proc = run_main("summary", str(path), "--json")
    assert proc.returncode == 1
    assert "bad.json: the graph has 1 error(s)" in proc.stderr
    assert "  head: linear 'head' needs features" in proc.stderr
    assert [e["node"] for e in json.loads(proc.stdout)["errors"]] == ["head"]


def test_json_schema(saved, capsys):
    """--json prints exactly the documented keys for nodes, totals and errors."""
    assert cli_main(["summary", str(saved["resnet_bottleneck"]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"nodes", "totals", "errors"}
    assert set(doc["totals"]) == {
        "params",
        "weights",
        "biases",
        "macs",
        "activation_bytes",
        "peak_activation_bytes",
    }
    node = doc["nodes"][1]
    assert set(node) == {
        "id",
        "type",
        "shape",
        "params",
        "weights",
        "biases",
        "macs",
        "activation_bytes",
        "rf",
        "error",
    }
    assert node == {
        "id": "conv1",
        "type": "conv1x1",
        "shape": [64, 56, 56],
        "params": 16384,
        "weights": 16384,
        "biases": 0,
        "macs": 16384 * 56 * 56,
        "activation_bytes": 64 * 56 * 56 * 4,
        "rf": {"size": [1, 1], "jump": [1, 1], "start": [0, 0]},
        "error": None,
    }
    assert doc["errors"] == []


def test_columns_aligned(saved, capsys):
    """Every row has the header's column starts, and numbers are right-aligned to it."""
    assert cli_main(["summary", str(saved["inception3a_reduced"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rule = lines[1], lines[2]
    rows = lines[3 : 3 + 13]
    params_end = header.index("params") + len("params")
    rf_start = header.index("receptive field")
    for row in rows:
        assert row[params_end - 1].isdigit() and row[params_end] == " ", row
        assert row[rf_start - 2 : rf_start] == "  " and row[rf_start] != " ", row
    assert set(rule.replace(" ", "")) == {"-"}
    assert any("5×5 /1 @-2" in r and r.startswith("branch3_5x5") for r in rows)


def test_totals_block(saved, capsys):
    """The totals block lists params, weights, biases, MACs, memory and the output RF."""
    assert cli_main(["summary", str(saved["resnet_basic_64"])]) == 0
    out = capsys.readouterr().out
    totals = out[out.index("Totals") :].splitlines()
    labels = [
        " ".join(w for w in line.split() if not w[0].isdigit() and not w.startswith("("))
        for line in totals[1:]
    ]
    assert [lab.split(" ")[0] for lab in labels] == [
        "params",
        "weights",
        "biases",
        "MACs",
        "activation",
        "peak",
        "output",
    ]
    assert "231,211,008" in totals[4]
    assert "5×5 /1 @-2" in totals[-1] and "'relu2'" in totals[-1]


def test_invalid_graph_exits_1(tmp_path, capsys):
    """A graph with errors exits 1, lists each error on stderr and still prints the table."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(BAD_GRAPH), encoding="utf-8")
    assert cli_main(["summary", str(path)]) == 1
    cap = capsys.readouterr()
    assert "bad.json" in cap.err and "1 error(s)" in cap.err
    assert "head: linear 'head' needs features" in cap.err
    assert "waiting on 'head'" in cap.out


def test_invalid_graph_json_lists_errors(tmp_path, capsys):
    """--json on an invalid graph exits 1 and puts the errors in "errors"."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(BAD_GRAPH), encoding="utf-8")
    assert cli_main(["summary", str(path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [e["node"] for e in doc["errors"]] == ["head"]
    assert doc["nodes"][2]["error"] == "waiting on 'head'"


@pytest.mark.parametrize(
    "content,problem",
    [
        ("{not json", "not a JSON file"),
        ('{"format": "other", "version": 1, "nodes": []}', "not a convcanvas graph"),
        (
            '{"format": "convcanvas.graph", "version": 1, "nodes": [{"id": "a", "type": "warp"}]}',
            "unknown type 'warp'",
        ),
    ],
)
def test_bad_file_exits_2(tmp_path, capsys, content, problem):
    """Files that are not valid graphs exit 2 naming the file and the problem on stderr."""
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    assert cli_main(["summary", str(path)]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    assert "broken.json" in cap.err and problem in cap.err


def test_template_option(capsys):
    """--template summarises a built-in template without a file."""
    assert cli_main(["summary", "--template", "inception3a_naive", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["weights"] == 387_072


def test_unknown_template_exits_2(capsys):
    """An unknown --template exits 2 and lists the known names."""
    assert cli_main(["summary", "--template", "alexnet"]) == 2
    err = capsys.readouterr().err
    assert "unknown template 'alexnet'" in err and "resnet50" in err


def test_no_file_exits_2(capsys):
    """Neither FILE nor --template exits 2 with a hint."""
    assert cli_main(["summary"]) == 2
    assert "give a graph FILE" in capsys.readouterr().err


@pytest.mark.parametrize(
    "rf,text",
    [
        ({"size": [7, 7], "jump": [2, 2], "start": [-3, -3]}, "7×7 /2 @-3"),
        ({"size": [3, 5], "jump": [1, 2], "start": [0, -1]}, "3×5 /1,2 @0,-1"),
        (None, "-"),
    ],
)
def test_rf_text(rf, text):
    """Receptive fields read as size /jump @start."""
    assert rf_text(rf) == text
