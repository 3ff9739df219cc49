"""Imported models become nested blocks following their module hierarchy."""

from __future__ import annotations

import torch
from torch import nn

from engine.blocks import block_of, records
from engine.codegen.emit_blocks import export_blocks
from engine.interop.convert import import_module


class _Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)

    def forward(self, x):
        return self.relu(self.conv2(self.relu(self.bn1(self.conv1(x)))) + x)


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = nn.Sequential(_Block(8), _Block(8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layer1(self.stem(x))), 1))


def _imported():
    torch.manual_seed(0)
    net = _Net().eval()
    return net, import_module(net, (3, 16, 16))


def test_import_nests_blocks_like_modules():
    """layer1 holds layer1.0 and layer1.1 (collapsed); conv1 sits in layer1.0."""
    _, imp = _imported()
    m = imp.model
    recs = records(m)
    assert {"layer1", "layer1.0", "layer1.1"} <= set(recs)
    assert recs["layer1.0"]["collapsed"] is True
    conv1 = next(n for n, src in imp.sources.items() if src == "layer1.0.conv1")
    assert block_of(m, conv1) == "layer1.0"


def test_imported_blocks_export_with_the_original_keys():
    """The readable export of the import loads the original state_dict strictly; same output."""
    net, imp = _imported()
    code = export_blocks(imp.model)
    ns: dict = {"__name__": "exported"}
    exec(compile(code, "<exported>", "exec"), ns)  # noqa: S102 - our own export
    cls = [v for k, v in ns.items() if isinstance(v, type) and k[0].isupper()][-1]
    mod = cls().eval()
    assert set(mod.state_dict()) == set(net.state_dict())
    mod.load_state_dict(net.state_dict(), strict=True)
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert (mod(x) - net(x)).abs().max().item() <= 1e-6
    assert "self.layer1 = nn.Sequential(" in code
    assert set(imp.state) == set(net.state_dict())


def _default_export(imp, net: nn.Module) -> tuple[str, nn.Module]:
    """The default export of an import, with the original module's weights (strict)."""
    from engine.codegen.emit import make_plan

    code = export_blocks(imp.model)
    ns: dict = {"__name__": "exported"}
    exec(compile(code, "<exported>", "exec"), ns)  # noqa: S102 - our own export
    mod = ns[make_plan(imp.model).class_name]().eval()
    mod.load_state_dict(net.state_dict(), strict=True)
    return code, mod


def test_instances_of_one_class_share_it_with_their_numbers_as_arguments():
    """Two _Block instances of other widths export as one class taking the channels."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 1)
            self.a = _Block(8)
            self.widen = nn.Conv2d(8, 16, 1)
            self.b = _Block(16)

        def forward(self, x):
            return self.b(self.widen(self.a(self.stem(x))))

    torch.manual_seed(0)
    net = Net().eval()
    imp = import_module(net, (3, 8, 8))
    code, mod = _default_export(imp, net)
    assert code.count("class Block(nn.Module):") == 1
    assert "self.a = Block(8)" in code and "self.b = Block(16)" in code
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        assert (mod(x) - net(x)).abs().max().item() <= 1e-6


class _Dense(nn.Module):
    """A DenseNet-style layer: it concatenates all the features it is given."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(c)
        self.conv = nn.Conv2d(c, 4, 3, padding=1, bias=False)

    def forward(self, *features):
        return self.conv(torch.relu(self.norm(torch.cat(features, 1))))


def test_blocks_with_several_inputs_get_all_of_them():
    """Dense layers fed by 2 and 3 tensors: one class with forward(*inputs); same output."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 1)
            self.layer1 = _Dense(8)
            self.layer2 = _Dense(12)
            self.layer3 = _Dense(16)

        def forward(self, x):
            x = self.stem(x)
            a = self.layer1(x)
            b = self.layer2(x, a)
            c = self.layer3(x, a, b)
            return torch.cat([x, a, b, c], 1)

    torch.manual_seed(0)
    net = Net().eval()
    imp = import_module(net, (3, 8, 8))
    code, mod = _default_export(imp, net)
    assert "def forward(self, *inputs):" in code
    assert "= self.layer3(x, out, layer2)" in code
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        assert (mod(x) - net(x)).abs().max().item() <= 1e-6


def test_numbered_children_keep_their_index_in_the_export():
    """An nn.Sequential inside a block exports as nn.Sequential: keys end in .0, .1."""

    class Down(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3, stride=2, padding=1)
            self.downsample = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2), nn.BatchNorm2d(8))

        def forward(self, x):
            return self.conv(x) + self.downsample(x)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 1)
            self.down = Down()

        def forward(self, x):
            return self.down(self.stem(x))

    torch.manual_seed(0)
    net = Net().eval()
    imp = import_module(net, (3, 8, 8))
    assert "down.downsample.0.weight" in imp.state
    code, mod = _default_export(imp, net)
    assert "self.downsample = nn.Sequential(" in code
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        assert (mod(x) - net(x)).abs().max().item() <= 1e-6


def test_recorded_module_class_survives_save_and_load(tmp_path):
    """Each imported block records its module's class; the file keeps it; bad ones refused."""
    import json

    import pytest

    from engine.core import fileformat
    from engine.core.errors import FormatError

    _, imp = _imported()
    assert records(imp.model)["layer1.0"]["class"] == "_Block"
    assert records(imp.model)["layer1"]["class"] == "Sequential"
    path = tmp_path / "d.json"
    fileformat.save(imp.model, path)
    assert records(fileformat.load(path))["layer1.0"]["class"] == "_Block"
    doc = json.loads(path.read_text())
    doc["blocks"][0]["class"] = "import os"
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="'class' must be a class name"):
        fileformat.load(path)
