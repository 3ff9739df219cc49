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
