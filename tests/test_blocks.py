"""Blocks in the engine: types and their numbers, templates from blocks, totals, format v2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.analysis.analyzer import analyze
from engine.blocks import (
    BUILTIN_TYPES,
    BlockError,
    add_instance,
    all_types,
    block_totals,
    blocks_from_scopes,
    boundary,
    check_blocks,
    child_blocks,
    members,
    records,
)
from engine.core import fileformat as ff
from engine.core.errors import FormatError
from engine.core.graph import GraphModel
from engine.templates import TEMPLATES, googlenet, resnet18, resnet50

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.json"))


def _single(key: str, values: dict, c: int = 192, hw: int = 28) -> GraphModel:
    m = GraphModel(key)
    m.add_node("input", {"channels": c, "height": hw, "width": hw}, "input")
    add_instance(m, key, "block", "input", c, values)
    return m


def test_inception_naive_from_block_has_the_lessons_weights():
    """Inception 3a naive built from its block type: 387,072 weights."""
    m = _single("inception_naive", {"ch1x1": 64, "ch3x3": 128, "ch5x5": 32})
    assert analyze(m.graph).totals.weights == 387_072


def test_inception_reduced_from_block_has_the_lessons_weights():
    """Inception 3a with 1×1 reductions built from its block type: 157,184 weights."""
    m = _single("inception_reduced", {})
    a = analyze(m.graph)
    assert a.totals.weights == 157_184
    assert a.nodes["block_concat"].shape == (416, 28, 28)


def test_bottleneck_from_block_has_the_lessons_weights():
    """The bottleneck on 256 channels built from its type: 69,632 conv weights, no downsample."""
    m = _single("bottleneck", {"width": 64}, c=256, hw=56)
    assert analyze(m.graph).totals.weights == 69_632
    assert "block_downsample_0" not in m


def test_bottleneck_with_stride_gets_a_downsample():
    """Stride 2 adds the downsample sub-block feeding port 1 of the add."""
    m = _single("bottleneck", {"width": 64, "stride": 2}, c=256, hw=56)
    assert m.ports("block_add") == [(0, "block_bn3"), (1, "block_downsample_1")]
    assert records(m)["block.downsample"]["type"] is None
    assert analyze(m.graph).nodes["block_relu_2"].shape == (256, 28, 28)


@pytest.mark.parametrize("key", list(BUILTIN_TYPES))
def test_every_builtin_type_builds_a_valid_block(key):
    """Each library type with its defaults on 64×32×32 analyses without errors."""
    m = _single(key, {}, c=64, hw=32)
    a = analyze(m.graph)
    assert a.ok, a.errors
    check_blocks(m)


def test_inverted_residual_keeps_its_shortcut_only_when_shapes_match():
    """The inverted residual adds its input only at stride 1 with equal channels."""
    kept = _single("inverted_residual", {"out_channels": 64}, c=64, hw=32)
    dropped = _single("inverted_residual", {"out_channels": 64, "stride": 2}, c=64, hw=32)
    assert "block_add" in kept and "block_add" not in dropped
    assert analyze(kept.graph).nodes["block_depthwise"].shape == (384, 32, 32)


def test_resnet50_is_stem_sixteen_bottlenecks_and_head():
    """ResNet-50 from blocks: four stages holding 16 bottlenecks, 25,557,032 parameters."""
    m = resnet50()
    tops = child_blocks(m, "")
    assert tops == ["layer1", "layer2", "layer3", "layer4"]
    inner = [b for s in tops for b in child_blocks(m, s)]
    assert len(inner) == 16
    assert {records(m)[b]["type"] for b in inner} == {"bottleneck"}
    assert analyze(m.graph).totals.params == 25_557_032


def test_googlenet_inception_blocks_carry_the_table():
    """GoogLeNet's inception4e block holds the table's six counts."""
    m = googlenet()
    rec = records(m)["inception4e"]
    assert rec["type"] == "inception"
    assert rec["params"] == {"ch1x1": 256, "ch3x3red": 160, "ch3x3": 320, "ch5x5red": 32,
                             "ch5x5": 128, "pool_proj": 128}  # fmt: skip
    assert analyze(m.graph).totals.params == 6_624_904


def test_block_totals_equal_the_sum_of_members():
    """Every block's totals are the sums over its member nodes."""
    m = resnet18()
    a = analyze(m.graph)
    for path in records(m):
        t = block_totals(m, a, path)
        inside = members(m, path)
        assert t.params == sum(a.nodes[n].params for n in inside)
        assert t.macs == sum(a.nodes[n].macs for n in inside)


def test_block_totals_of_a_bottleneck():
    """layer1.0 of ResNet-50: 75,008 parameters, 64×56×56 in, 256×56×56 out, RF 19."""
    m = resnet50()
    t = block_totals(m, analyze(m.graph), "layer1.0")
    assert (t.params, t.weights, t.other) == (75_008, 73_728, 1_280)
    assert t.macs == 231_211_008
    assert t.in_shapes == [(64, 56, 56)] and t.out_shapes == [(256, 56, 56)]
    assert t.rf[0][0] == 19


def test_boundary_of_a_bottleneck():
    """A bottleneck has one source (feeding conv1 and the downsample) and one output."""
    m = resnet50()
    b = boundary(m, "layer2.0")
    assert b.sources == ["layer1_2_relu_2"]
    assert b.outputs == ["layer2_0_relu_2"]
    assert [(v, k) for _, v, k in b.entries] == [
        ("layer2_0_conv1", 0),
        ("layer2_0_downsample_0", 0),
    ]


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_save_load_of_every_template_is_identical(key):
    """save → load → save of every template gives the same text."""
    m = TEMPLATES[key].builder()
    text = ff.dumps(m)
    again = ff.loads(text)
    assert ff.dumps(again) == text
    assert records(again) == records(m)


def test_a_design_with_blocks_is_version_2():
    """A design with blocks is written as version 2 with its block records."""
    doc = json.loads(ff.dumps(resnet18()))
    assert doc["version"] == 2
    entry = next(b for b in doc["blocks"] if b["path"] == "layer2.0")
    assert entry["type"] == "basic_block" and entry["collapsed"] is True
    assert entry["params"] == {"planes": 128, "stride": 2}
    assert len(entry["pos"]) == 2


def test_a_design_without_blocks_stays_version_1():
    """Without blocks the file is version 1, so older ConvCanvas keeps reading it."""
    doc = json.loads(ff.dumps(TEMPLATES["inception3a_reduced"].builder()))
    assert doc["version"] == 1 and "blocks" not in doc


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_loads(path):
    """Every version-1 file in examples/ loads and analyses as before."""
    m = ff.load(path)
    assert json.loads(path.read_text())["version"] == 1
    assert analyze(m.graph).ok


@pytest.mark.parametrize("key", ["resnet18", "resnet50", "googlenet"])
def test_release_v1_file_of_a_network_loads(key):
    """The current release's file of a network (version 1, no blocks) loads with its numbers."""
    doc = ff.to_dict(TEMPLATES[key].builder())
    doc.pop("blocks")
    doc["version"] = 1
    m = ff.loads(json.dumps(doc))
    assert records(m) == {}
    assert analyze(m.graph).totals.params == analyze(TEMPLATES[key].builder().graph).totals.params


def test_blocks_field_is_refused_in_version_1():
    """A version-1 file cannot carry blocks: the field is unknown there."""
    doc = ff.to_dict(resnet18())
    doc["version"] = 1
    with pytest.raises(FormatError, match="unknown top-level field"):
        ff.loads(json.dumps(doc))


def test_block_without_members_is_refused_naming_it():
    """A block record whose members are missing is refused with its name."""
    doc = ff.to_dict(resnet18())
    doc["blocks"].append({"path": "ghost", "name": "Ghost", "collapsed": True})
    with pytest.raises(FormatError, match=r"block 'Ghost' \(ghost\) has no members"):
        ff.loads(json.dumps(doc))


def test_cycle_of_types_is_refused_naming_them():
    """Two types that contain each other are refused naming the cycle."""
    doc = ff.to_dict(resnet18())
    a = {"key": "a", "class": "A", "nodes": [{"id": "b", "block": "b"}], "edges": [["in", "b"]],
         "output": "b"}  # fmt: skip
    b = {"key": "b", "class": "B", "nodes": [{"id": "a", "block": "a"}], "edges": [["in", "a"]],
         "output": "a"}  # fmt: skip
    doc["block_types"] = [a, b]
    with pytest.raises(FormatError, match="block types contain themselves: a → b → a"):
        ff.loads(json.dumps(doc))


def test_ports_that_do_not_match_are_refused_naming_the_block():
    """A typed block with two outputs is refused naming the block and its ports."""
    m = resnet18()
    m.connect("layer1_0_relu", "layer1_1_add", 5)
    with pytest.raises(BlockError, match=r"block '0' \(layer1.0\): its ports do not match"):
        check_blocks(m)


def test_type_expression_cannot_call_anything():
    """A type whose field is a call is refused naming the member; nothing runs."""
    doc = ff.to_dict(resnet18())
    bad = {"key": "bad", "class": "Bad", "params": {"w": 1},
           "nodes": [{"id": "c", "type": "conv1x1",
                      "params": {"out_channels": {"expr": "__import__('os').getpid()"}}}],
           "edges": [["in", "c"]], "output": "c"}  # fmt: skip
    doc["block_types"] = [bad]
    with pytest.raises(FormatError, match="member 'c'"):
        ff.loads(json.dumps(doc))


def test_user_type_round_trips_and_instantiates():
    """A design's own type is saved, loaded and placed like a built-in one."""
    m = resnet18()
    m.graph.graph["block_types"] = {
        "double": {"key": "double", "class": "Double", "params": {"c": 8},
                   "nodes": [{"id": "a", "type": "conv1x1", "params": {"out_channels": {"expr": "c"}}},
                             {"id": "b", "type": "conv1x1",
                              "params": {"out_channels": {"expr": "c * 2"}}}],
                   "edges": [["in", "a"], ["a", "b"]], "output": "b"}}  # fmt: skip
    again = ff.loads(ff.dumps(m))
    assert "double" in all_types(again)
    out = add_instance(again, "double", "extra", "fc", 1000, {"c": 4})
    assert out == "extra_b"


def test_blocks_from_scopes_nest_like_modules():
    """Scopes layer1.0 give blocks layer1 ⊃ layer1.0; members follow."""
    m = resnet18()
    scopes = {n: m.graph.nodes[n].get("scope") for n in m.nodes}
    m.graph.graph["blocks"] = {}
    for n, s in scopes.items():
        if s:
            m.graph.nodes[n]["scope"] = s
    added = blocks_from_scopes(m)
    assert added[:2] == ["layer1", "layer2"]
    assert "layer1.0" in added and "layer1.0.downsample" not in added
    assert members(m, "layer1.0")[0] == "layer1_0_conv1"


def test_format_doc_block_type_example_is_valid():
    """The block-type example in docs/format.md is accepted and instantiates."""
    from engine.blocks import instantiate, type_from_dict

    text = (Path(__file__).parent.parent / "docs" / "format.md").read_text(encoding="utf-8")
    start = text.index('{"key": "twice"')
    example = json.loads(text[start : text.index("```", start)])
    bt = type_from_dict(example)
    assert instantiate({"twice": bt}, "twice", {}, 3, "x").output == "x_downsample_0"
    assert instantiate({"twice": bt}, "twice", {"c": 4}, 3, "x").output == "x_b"
