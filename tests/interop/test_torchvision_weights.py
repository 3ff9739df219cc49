"""torchvision's own weights files load into the matching templates and give its outputs.

A user who has torchvision's ResNet-18 ``.pth`` (``torch.save(model.state_dict())``) loads
it into the ResNet-18 template as it is. Here seeded torchvision models stand in for the
pretrained ones (nothing downloads): their ``state_dict`` is saved with ``torch.save``,
loaded through :func:`engine.runtime.weights.load_weights` (the path of ``features
--weights``, Run → Load weights… and ``train --weights``) and the logits compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torchvision import models

from engine.runtime.build import build_module
from engine.runtime.weights import load_weights
from engine.templates import TEMPLATES

KEYS = Path(__file__).resolve().parents[1] / "fixtures" / "torchvision_keys.json"

# torchvision builder keyword arguments: GoogLeNet as torchvision's pretrained file has it
# (auxiliary classifiers present; transform_input off, see the README).
NETWORKS = {
    "resnet18": {},
    "resnet50": {},
    "googlenet": {"aux_logits": True, "init_weights": True, "transform_input": False},
    "vgg16": {},
}


def _torchvision(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = getattr(models, name)(weights=None, **NETWORKS[name]).eval()
    with torch.no_grad():  # non-trivial running statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def test_committed_key_list_is_torchvisions():
    """tests/fixtures/torchvision_keys.json holds torchvision's keys and shapes, in order."""
    committed = json.loads(KEYS.read_text())
    for name, kwargs in NETWORKS.items():
        model = getattr(models, name)(weights=None, **kwargs)
        got = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        assert committed[name] == got, name


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_torchvision_state_dict_gives_torchvisions_logits(name, tmp_path):
    """torch.save(torchvision model.state_dict()) into the template: same logits (1e-5)."""
    tv = _torchvision(name)
    path = tmp_path / f"{name}.pth"
    torch.save(tv.state_dict(), path)
    ours = build_module(TEMPLATES[name].builder(), seed=1)
    graph = TEMPLATES[name].builder()
    notes = load_weights(ours, path, graph)
    torch.manual_seed(1)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        want, got = tv(x), ours(x)
    assert got.shape == want.shape == (1, 1000)
    scale = float(want.abs().max())
    assert float((got - want).abs().max()) <= 1e-5 * scale
    if name == "googlenet":
        assert notes == [
            "googlenet.pth: 20 tensors of torchvision's auxiliary classifiers (aux1, aux2) "
            "set aside: they are used only in training"
        ]
