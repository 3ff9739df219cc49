"""Hostile block files: exponential types, deep nesting. Refused or handled in bounded time,
with a clear message and no RecursionError."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cli import main
from engine.blocks.types import MAX_BLOCK_DEPTH


def base_doc() -> dict:
    """input 3×8×8 → conv (4), as a version-2 document."""
    return {
        "format": "convcanvas.graph",
        "version": 2,
        "name": "blocks",
        "nodes": [
            {"id": "in", "type": "input", "params": {"channels": 3, "height": 8, "width": 8}},
            {"id": "c", "type": "conv", "params": {"out_channels": 4, "kernel_size": 3}},
        ],
        "edges": [{"src": "in", "dst": "c"}],
    }


def doubling_types(levels: int) -> list[dict]:
    """Type ``t{i}`` holds two of ``t{i+1}`` in a row; the last holds one ReLU."""
    types = []
    for i in range(levels):
        if i == levels - 1:
            nodes = [{"id": "r", "type": "relu"}]
            edges, out = [["in", "r"]], "r"
        else:
            nodes = [{"id": "a", "block": f"t{i + 1}"}, {"id": "b", "block": f"t{i + 1}"}]
            edges, out = [["in", "a"], ["a", "b"]], "b"
        types.append({"key": f"t{i}", "class": f"T{i}", "nodes": nodes, "edges": edges,
                      "output": out})  # fmt: skip
    return types


def chain_types(levels: int) -> list[dict]:
    """Type ``t{i}`` holds one ``t{i+1}``; the last holds one ReLU."""
    types = []
    for i in range(levels):
        last = i == levels - 1
        node = {"id": "r", "type": "relu"} if last else {"id": "a", "block": f"t{i + 1}"}
        types.append({"key": f"t{i}", "class": f"T{i}", "nodes": [node],
                      "edges": [["in", node["id"]]], "output": node["id"]})  # fmt: skip
    return types


def write(path: Path, doc: dict) -> Path:
    """``doc`` as JSON at ``path``."""
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def timed_summary(path: Path) -> tuple[int, float]:
    """``summary PATH``'s status and seconds."""
    t0 = time.perf_counter()
    code = main(["summary", str(path)])
    return code, time.perf_counter() - t0


def test_doubling_types_refused_by_size_quickly(tmp_path, capsys):
    """22 levels of 'two of the next' (2**21 ReLUs): refused in < 2 s naming the size."""
    doc = base_doc()
    doc["block_types"] = doubling_types(22)
    before = write(tmp_path / "d.json", doc).read_bytes()
    code, seconds = timed_summary(tmp_path / "d.json")
    assert code == 2 and seconds < 2
    err = capsys.readouterr().err
    assert "block type 't1' expands to 1,048,576 nodes, more than the limit of 1,000,000" in err
    assert "Traceback" not in err
    assert (tmp_path / "d.json").read_bytes() == before


def test_forty_doubling_levels_refused_quickly(tmp_path, capsys):
    """The audit's 7.8 KB file (40 levels): refused in < 2 s (it never finished)."""
    doc = base_doc()
    doc["block_types"] = doubling_types(40)
    code, seconds = timed_summary(write(tmp_path / "d.json", doc))
    assert code == 2 and seconds < 2
    assert "block type 't19' expands to 1,048,576 nodes" in capsys.readouterr().err


def test_chain_of_2000_types_is_a_clear_refusal(tmp_path, capsys):
    """2,000 types each holding the next: exit 2 naming the nesting, no RecursionError."""
    doc = base_doc()
    doc["block_types"] = chain_types(2000)
    code, seconds = timed_summary(write(tmp_path / "d.json", doc))
    assert code == 2 and seconds < 5
    err = capsys.readouterr().err
    assert f"nests {MAX_BLOCK_DEPTH + 1} levels of blocks; at most {MAX_BLOCK_DEPTH}" in err
    assert "Recursion" not in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["summary", "export"])
def test_thousand_nested_block_paths_are_refused(tmp_path, capsys, command):
    """1,000 nested block records (a.a.a…): exit 2 naming the depth, no RecursionError."""
    doc = base_doc()
    paths = [".".join(["a"] * (i + 1)) for i in range(1000)]
    doc["blocks"] = [{"path": p, "name": "a"} for p in paths]
    doc["nodes"][1]["scope"] = paths[-1]
    extra = ["-o", str(tmp_path / "m.py")] if command == "export" else []
    assert main([command, str(write(tmp_path / "d.json", doc)), *extra]) == 2
    err = capsys.readouterr().err
    assert f"blocks nest {MAX_BLOCK_DEPTH + 1} levels deep; at most {MAX_BLOCK_DEPTH}" in err
    assert not (tmp_path / "m.py").exists()


def test_thousand_nested_block_paths_are_refused_by_the_editor(win, tmp_path):
    """File → Open on 1,000 nested block records: a message naming the depth; the open
    design, its tab and its undo history stay as they were."""
    doc = base_doc()
    paths = [".".join(["a"] * (i + 1)) for i in range(1000)]
    doc["blocks"] = [{"path": p, "name": "a"} for p in paths]
    doc["nodes"][1]["scope"] = paths[-1]
    shown = []
    win.show_error = lambda _parent, title, text: shown.append((title, text))
    before = (win.tabs_list(), win.doc.model.name, len(win.doc.model), win.doc.undo_stack.count())
    assert not win.open_file(write(tmp_path / "deep.json", doc))
    assert len(shown) == 1 and shown[0][0] == "Cannot open design"
    assert (
        f"blocks nest {MAX_BLOCK_DEPTH + 1} levels deep; at most {MAX_BLOCK_DEPTH}" in shown[0][1]
    )
    assert "deep.json" in shown[0][1]
    after = (win.tabs_list(), win.doc.model.name, len(win.doc.model), win.doc.undo_stack.count())
    assert after == before


def test_thirty_nested_blocks_open_in_the_editor_quickly(win, tmp_path):
    """30 nested blocks (2**30 work before): the editor opens the file in < 10 s."""
    doc = base_doc()
    paths = [".".join(["a"] * (i + 1)) for i in range(30)]
    doc["blocks"] = [{"path": p, "name": "a"} for p in paths]
    doc["nodes"][1]["scope"] = paths[-1]
    t0 = time.perf_counter()
    assert win.open_file(write(tmp_path / "d.json", doc))
    assert time.perf_counter() - t0 < 10
    assert "c" in win.doc.model.nodes


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("planes * -1", "'out_channels' must be at least 1, got -4"),
        ("*".join(["planes"] * 22), "'out_channels' must be at most 1048576, got 17592186044416"),
        ("planes > 1", "'out_channels' must be an integer, got True"),
        ("1 < planes < 3", "'out_channels' must be an integer, got False"),
    ],
)
def test_expressions_out_of_range_are_a_block_error(expr, says):
    """A negative, 22-fold, bool or chained-comparison channel count: BlockError naming it."""
    from engine.blocks.library import BUILTIN_TYPES
    from engine.blocks.types import BlockError, instantiate, type_from_dict

    doc = {"key": "k", "class": "K", "params": {"planes": 4},
           "nodes": [{"id": "c", "type": "conv",
                      "params": {"out_channels": {"expr": expr}, "kernel_size": 3}}],
           "edges": [["in", "c"]], "output": "c"}  # fmt: skip
    types = {**BUILTIN_TYPES, "k": type_from_dict(doc)}
    with pytest.raises(BlockError) as info:
        instantiate(types, "k", {}, 3, "b")
    assert info.value.message == f"block 'b' (k), member 'c': node 'c': {says}"
