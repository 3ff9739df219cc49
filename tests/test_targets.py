"""Module targets: the one key of every layer's weights (engine.codegen.targets)."""

from __future__ import annotations

from engine.codegen.targets import legacy_flat_keys, module_targets, scope_targets
from engine.core.graph import GraphModel
from engine.templates import resnet18, resnet50, vgg16


def _torchvision_resnet_modules(blocks: tuple[int, ...], bottleneck: bool) -> set[str]:
    """torchvision's ResNet module paths with weights, written down from its structure."""
    paths = {"conv1", "bn1", "fc"}
    convs = 3 if bottleneck else 2
    for i, count in enumerate(blocks):
        for j in range(count):
            p = f"layer{i + 1}.{j}"
            paths |= {f"{p}.{k}{c}" for c in range(1, convs + 1) for k in ("conv", "bn")}
            if j == 0 and (i > 0 or bottleneck):
                paths |= {f"{p}.downsample.0", f"{p}.downsample.1"}
    return paths


def _weighted(g: GraphModel) -> set[str]:
    types = {"conv", "conv1x1", "batchnorm", "linear"}
    return {t for n, t in module_targets(g).items() if g.node_type(n) in types}


def test_resnet18_template_targets_are_torchvisions_paths():
    """Every weighted module of the ResNet-18 template has torchvision's module path."""
    assert _weighted(resnet18()) == _torchvision_resnet_modules((2, 2, 2, 2), False)


def test_resnet50_template_targets_are_torchvisions_paths():
    """ResNet-50: Bottleneck members and numbered downsample children as in torchvision."""
    assert _weighted(resnet50()) == _torchvision_resnet_modules((3, 4, 6, 3), True)


def test_numbered_child_keeps_its_index():
    """A node numbered inside a scope ends in its index, not in its flat id."""
    t = module_targets(resnet50())
    assert t["layer2_0_downsample_0"] == "layer2.0.downsample.0"
    assert t["layer2_0_downsample_1"] == "layer2.0.downsample.1"


def test_vgg16_targets_cover_every_module_node_once():
    """Targets are unique and only module nodes (not flatten, add, input) have one."""
    g = vgg16()
    t = module_targets(g)
    assert len(set(t.values())) == len(t)
    assert all(g.node_type(n) not in ("input", "flatten", "add", "concat") for n in t)


def _scoped(nodes: list[tuple[str, str, str | None]]) -> GraphModel:
    g = GraphModel("t")
    g.add_node("input", {"channels": 3, "height": 8, "width": 8}, "x")
    prev = "x"
    for nid, ntype, scope in nodes:
        params = {"out_channels": 4} if ntype == "conv1x1" else {}
        g.add_node(ntype, params, nid, scope=scope)
        g.connect(prev, nid)
        prev = nid
    return g


def test_odd_scope_parts_and_ids_become_identifiers():
    """A scope part or id that is no identifier is sanitised; a number stays a number."""
    g = _scoped([("conv-a", "conv1x1", "stage one.0"), ("stage_one_0_relu", "relu", "stage one.0")])
    t = module_targets(g)
    assert t == {"conv-a": "stage_one.0.conv_a", "stage_one_0_relu": "stage_one.0.relu"}


def test_clashing_names_in_one_parent_are_numbered():
    """A node whose name is a block's in the same parent gets ``_1``; the block keeps it."""
    g = _scoped([("blk", "conv1x1", None), ("blk_c", "conv1x1", "blk"), ("c", "relu", "blk")])
    t = module_targets(g)
    assert t == {"blk": "blk_1", "blk_c": "blk.c", "c": "blk.c_1"}
    assert scope_targets(g) == {"blk": "blk"}


def test_legacy_flat_keys_map_old_flat_names_to_targets():
    """Weights of earlier releases (flat attribute names) map onto the targets."""
    keys = legacy_flat_keys(resnet18())
    assert keys["layer1_0_conv1"] == "layer1.0.conv1"
    assert keys["layer2_0_downsample_0"] == "layer2.0.downsample.0"
    assert keys["fc"] == "fc"
