"""torchvision models exported to ONNX by torch itself, imported by ConvCanvas (no torch in
the import), compared with onnxruntime on the same file.

Runs in the interop environment (torch 2.14.1, torchvision 0.29.1, onnx, onnxruntime):
torch's TorchScript exporter writes the files as a user's own export would (BatchNorm
folded, hardswish/hardsigmoid as ONNX ops, flatten as a Shape→Gather→Reshape subgraph).
"""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torchvision import models

from engine.onnx.convert import import_onnx
from engine.runtime.build import build_module

MODELS = {"resnet18": models.resnet18, "mobilenet_v3_small": models.mobilenet_v3_small}


@pytest.mark.parametrize("name", list(MODELS))
def test_torchvision_onnx_file_imports_and_matches_onnxruntime(tmp_path, name):
    """The imported design with the file's weights gives onnxruntime's logits (1e-5)."""
    torch.manual_seed(0)
    model = MODELS[name](weights=None).eval()
    x = torch.randn(2, 3, 64, 64)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (x,), str(path), dynamo=False, opset_version=17, input_names=["x"],
            dynamic_axes={"x": {0: "N"}},
        )  # fmt: skip
    imported = import_onnx(path, (3, 64, 64))
    net = build_module(imported.model)
    state = {k: torch.from_numpy(np.array(v)) for k, v in imported.state.items()}
    net.load_state_dict(state, strict=True)
    with torch.no_grad():
        got = net(x).numpy()
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.numpy()}
    )[0]
    assert got.shape == want.shape == (2, 1000)
    assert float(np.abs(got - want).max()) <= 1e-5 * float(np.abs(want).max())
