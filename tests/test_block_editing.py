"""Editing blocks: group, ungroup, collapse, expand, place, types; each undone and redone."""

from __future__ import annotations

import pytest

from designer.block_commands import (
    group_command,
    make_unique_command,
    place_block_command,
    retype_instances_command,
    save_type_command,
    set_collapsed_command,
    ungroup_command,
)
from designer.document import Document
from engine.analysis.analyzer import analyze
from engine.blocks import BlockError, block_of, block_totals, members, records
from engine.core import fileformat as ff
from engine.core.graph import GraphModel
from engine.templates import resnet18


def _chain() -> GraphModel:
    """input → c1 → r1 → c2 → r2 → fc-ish chain on 8×16×16."""
    m = GraphModel("chain")
    m.add_node("input", {"channels": 8, "height": 16, "width": 16}, "input", (0, 0))
    prev = "input"
    for i, (t, p) in enumerate(
        [("conv", {"out_channels": 16, "kernel_size": 3, "padding": 1}), ("relu", {}),
         ("conv", {"out_channels": 16, "kernel_size": 3, "padding": 1}), ("relu", {})]
    ):  # fmt: skip
        nid = f"n{i}"
        m.add_node(t, p, nid, (260.0 * (i + 1), 0))
        m.connect(prev, nid)
        prev = nid
    return m


def _roundtrip(doc: Document, cmd) -> tuple[str, str]:
    """Push ``cmd``; return the saved text after it and check undo/redo give both back."""
    before = ff.dumps(doc.model)
    doc.undo_stack.push(cmd)
    after = ff.dumps(doc.model)
    doc.undo_stack.undo()
    assert ff.dumps(doc.model) == before
    doc.undo_stack.redo()
    assert ff.dumps(doc.model) == after
    assert ff.dumps(ff.loads(after)) == after  # the edited design saves and loads exactly
    return before, after


def test_group_makes_an_expanded_block_and_undoes(qtbot):
    """Grouping n0..n3 puts them in block 'block'; undo and redo are exact."""
    doc = Document(_chain())
    _roundtrip(doc, group_command(doc, ["n0", "n1", "n2", "n3"]))
    assert records(doc.model)["block"]["collapsed"] is False
    assert [block_of(doc.model, n) for n in ("n0", "n3", "input")] == ["block", "block", ""]


def test_group_refuses_two_outputs(qtbot):
    """A selection whose two nodes are used outside is refused, naming them."""
    doc = Document(_chain())
    doc.model.add_node("relu", {}, "side")
    doc.model.connect("n1", "side")
    with pytest.raises(BlockError, match="one output, but 'n1', 'n3'"):
        group_command(doc, ["n0", "n1", "n2", "n3"])


def test_group_refuses_cutting_through_a_block(qtbot):
    """Selecting part of a residual block with a node outside it is refused, naming the block."""
    doc = Document(resnet18())
    with pytest.raises(BlockError, match="cuts through block '0'"):
        group_command(doc, ["layer1_0_relu_1", "layer1_1_conv1"])


def test_group_of_two_residual_blocks_nests_them(qtbot):
    """Grouping layer1.0 and layer1.1 nests both under a new block inside layer1."""
    doc = Document(resnet18())
    nodes = members(doc.model, "layer1.0") + members(doc.model, "layer1.1")
    _roundtrip(doc, group_command(doc, nodes, "pair"))
    recs = records(doc.model)
    assert "layer1.pair.0" in recs and "layer1.pair.1" in recs and "layer1.0" not in recs
    assert recs["layer1.pair.0"]["type"] == "basic_block"


def test_ungroup_moves_members_up_and_undoes(qtbot):
    """Ungrouping layer2 leaves its blocks at the top level; undo puts layer2 back."""
    doc = Document(resnet18())
    _roundtrip(doc, ungroup_command(doc, "layer2"))
    recs = records(doc.model)
    assert "layer2" not in recs and "0" in recs and "0.downsample" in recs
    assert block_of(doc.model, "layer2_0_conv1") == "0"


def test_collapse_and_expand_undo_and_redo(qtbot):
    """Expanding layer1.0 then collapsing it again: each step undone and redone exactly."""
    doc = Document(resnet18())
    _roundtrip(doc, set_collapsed_command(doc, "layer1.0", False))
    assert records(doc.model)["layer1.0"]["collapsed"] is False
    _roundtrip(doc, set_collapsed_command(doc, "layer1.0", True))
    assert records(doc.model)["layer1.0"]["collapsed"] is True


def _reading_order(pos: dict) -> list[str]:
    """Units row by row (rows: y-clusters more than 200 apart), left to right."""
    ys = sorted({y for _, y in pos.values()})
    row, rows = 0, {}
    for a, b in zip([ys[0], *ys], ys):
        row += b - a > 200
        rows[b] = row
    return sorted(pos, key=lambda u: (rows[pos[u][1]], pos[u][0]))


def test_expanding_keeps_the_order_of_the_rest(qtbot):
    """After expanding a block, the other units keep their reading order (rows, then x)."""
    from engine.blocks.layout import block_layout

    doc = Document(resnet18())
    nodes, blocks = block_layout(doc.model)
    before = _reading_order(nodes | blocks)
    doc.undo_stack.push(set_collapsed_command(doc, "layer2.0", False))
    nodes2, blocks2 = block_layout(doc.model)
    after = [u for u in _reading_order(nodes2 | blocks2) if u in before]
    assert after == [u for u in before if u != "layer2.0"]


def test_place_bottleneck_from_the_library_with_parameters(qtbot):
    """Placing a bottleneck (width 4) after n3 adds 12 collapsed nodes fed by n3; undo removes them."""
    doc = Document(_chain())
    cmd = place_block_command(doc, "bottleneck", {"width": 4}, "n3", 16, (1400.0, 0.0))
    _roundtrip(doc, cmd)
    assert records(doc.model)["bottleneck"]["collapsed"] is True
    a = analyze(doc.model.graph)
    assert a.nodes["bottleneck_relu_2"].shape == (16, 16, 16)
    assert "bottleneck_downsample_0" not in doc.model


def test_place_refuses_a_bad_parameter(qtbot):
    """An unknown parameter is refused naming it."""
    doc = Document(_chain())
    with pytest.raises(BlockError, match="unknown parameter"):
        place_block_command(doc, "bottleneck", {"widht": 4}, "n3", 16, (0.0, 0.0))


def _saved_type(doc: Document) -> None:
    doc.undo_stack.push(group_command(doc, ["n0", "n1", "n2", "n3"], "twice"))
    cmd = save_type_command(doc, "twice", "twice", "Two convs",
                            {"c": [("n0", "out_channels"), ("n2", "out_channels")]})  # fmt: skip
    _roundtrip(doc, cmd)


def test_save_block_as_type_with_a_named_parameter(qtbot):
    """A block saved as a type holds its parameter; the block becomes an instance."""
    doc = Document(_chain())
    _saved_type(doc)
    rec = records(doc.model)["twice"]
    assert rec["type"] == "twice" and rec["params"] == {"c": 16}
    t = doc.model.graph.graph["block_types"]["twice"]
    assert t["nodes"][0]["params"]["out_channels"] == {"expr": "c"}


def _two_instances(doc: Document) -> None:
    _saved_type(doc)
    doc.undo_stack.push(place_block_command(doc, "twice", {"c": 16}, "n3", 16, (0.0, 300.0)))
    doc.undo_stack.push(place_block_command(doc, "twice", {"c": 16}, "n3", 16, (0.0, 600.0)))


def test_type_edit_reaches_every_instance_but_not_a_unique_one(qtbot):
    """Editing the type (3×3 → 5×5) rebuilds its instances; a unique instance keeps 3×3."""
    doc = Document(_chain())
    _two_instances(doc)
    doc.undo_stack.push(make_unique_command(doc, "twice2"))
    new = dict(doc.model.graph.graph["block_types"]["twice"])
    new["nodes"] = [dict(n, params={**n["params"], "kernel_size": 5, "padding": 2})
                    if n["type"] == "conv" else n for n in new["nodes"]]  # fmt: skip
    _roundtrip(doc, retype_instances_command(doc, "twice", new))
    assert doc.model.params("twice1_n0")["kernel_size"] == 5
    assert doc.model.params("twice_n0")["kernel_size"] == 5
    assert doc.model.params("twice2_n0")["kernel_size"] == 3
    assert analyze(doc.model.graph).ok


def test_block_totals_follow_an_edit_inside(qtbot):
    """Block totals are the sum of its members after an edit of one member."""
    doc = Document(_chain())
    doc.undo_stack.push(group_command(doc, ["n0", "n1", "n2", "n3"]))
    doc.model.set_param("n2", "out_channels", 32)
    t = block_totals(doc.model, doc.analysis, "block")
    assert t.params == (8 * 9 * 16 + 16) + (16 * 9 * 32 + 32)
    assert t.out_shapes == [(32, 16, 16)]


def test_export_after_grouping_inside_a_stage_builds_and_matches(qtbot):
    """Grouping layer1.1 wraps it in block 'solo' inside layer1; the export compiles and matches."""
    import torch

    from engine.codegen.emit_blocks import export_blocks
    from engine.runtime.build import build_module

    doc = Document(resnet18())
    nodes = members(doc.model, "layer1.1")  # its card selected
    doc.undo_stack.push(group_command(doc, nodes, "solo", cards=["layer1.1"]))
    code = export_blocks(doc.model)
    assert "layer1.solo.1" in records(doc.model) and "class Solo(nn.Module):" in code
    assert "self.solo = Solo()" in code and 'self.add_module("0", BasicBlock(64' in code
    ns: dict = {"__name__": "exported"}
    exec(compile(code, "<exported>", "exec"), ns)  # noqa: S102 - our own export
    model = ns["ResNet18"]().eval()
    live = build_module(doc.model, seed=1)
    model.load_state_dict(live.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        assert (model(x) - live(x)).abs().max().item() <= 1e-6


def test_update_type_from_an_edited_instance_reaches_the_others(qtbot):
    """Editing one instance's conv to 5×5 and updating its type rebuilds the other instance."""
    from designer.block_commands import type_from_instance

    doc = Document(_chain())
    _two_instances(doc)
    doc.model.set_params("twice1_n2", {"kernel_size": 5, "padding": 2})
    key, new = type_from_instance(doc.model, "twice1")
    assert key == "twice"
    assert next(n for n in new["nodes"] if n["id"] == "n2")["params"]["out_channels"] == {
        "expr": "c"
    }
    _roundtrip(doc, retype_instances_command(doc, key, new))
    assert doc.model.params("twice2_n2")["kernel_size"] == 5
    assert doc.model.params("twice1_n2")["kernel_size"] == 5
    assert analyze(doc.model.graph).ok


def test_saved_type_and_its_placed_instances_export_and_match(qtbot):
    """A block saved as a type and placed twice: one class for all three; strict load, same output."""
    import torch

    from engine.codegen.emit_blocks import export_blocks
    from engine.runtime.build import build_module

    doc = Document(_chain())
    _two_instances(doc)
    sinks = [n for n in doc.model.nodes if not doc.model.graph.out_degree(n)]
    assert len(sinks) == 2  # the two placed blocks (both fed by the saved one): summed
    doc.model.add_node("add", {}, "total")
    for port, n in enumerate(sinks):
        doc.model.connect(n, "total", port)
    code = export_blocks(doc.model)
    cls = doc.model.graph.graph["block_types"]["twice"]["class"]
    assert code.count(f"class {cls}(nn.Module):") == 1
    assert code.count(f"= {cls}(16, c=16)") == 2  # the placed instances
    assert f"self.twice = {cls}(8, c=16)" in code  # the original (its nodes keep ids n0…n3)
    ns: dict = {"__name__": "exported"}
    exec(compile(code, "<exported>", "exec"), ns)  # noqa: S102 - our own export
    model = ns["Chain"]().eval()
    live = build_module(doc.model, seed=2)
    model.load_state_dict(live.state_dict(), strict=True)
    x = torch.randn(1, 8, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        assert (model(x) - live(x)).abs().max().item() <= 1e-6
