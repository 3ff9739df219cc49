"""Designs and weights saved by the release before module targets (flat keys) still load.

The files in tests/fixtures/legacy/ were written by that release (make_legacy.py there):
a small ResNet design, its weights as .safetensors and .pt with flat keys
(``layer2_0_downsample_0.weight``), a design saved with its weights, and the logits
that release computed. Loaded today they are migrated to module targets, with one line
saying so, and give the same logits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.blocks.hierarchy import records
from engine.core import fileformat
from engine.runtime.build import build_module
from engine.runtime.weights import apply_partial, load_weights

HERE = Path(__file__).resolve().parent / "fixtures" / "legacy"
EXPECTED = json.loads((HERE / "small_resnet_outputs.json").read_text())


def example_input() -> torch.Tensor:
    """The input make_legacy.py computed the logits for."""
    n = 2 * 3 * 16 * 16
    return (torch.arange(n, dtype=torch.float32).reshape(2, 3, 16, 16) % 17 - 8) / 8


def migration_note(name: str) -> list[str]:
    """The one line a migrated file gives."""
    return [
        f"{name}: 30 keys in the flat names of an earlier release (e.g. 'layer1_0_bn1.bias'), "
        "migrated to module targets (e.g. 'layer1.0.bn1.bias')"
    ]


def logits(module) -> np.ndarray:
    with torch.no_grad():
        return module(example_input()).numpy()


def test_old_design_file_loads_unchanged():
    """The old design file opens with its nodes, blocks and parameters."""
    design = fileformat.load(HERE / "small_resnet.json")
    assert len(design) == 23
    assert sorted(records(design)) == [
        "layer1",
        "layer1.0",
        "layer2",
        "layer2.0",
        "layer2.0.downsample",
    ]


@pytest.mark.parametrize("name", ["small_resnet_flat.safetensors", "small_resnet_flat.pt"])
def test_old_weights_load_migrated_and_give_the_same_logits(name):
    """Flat-key weights of the old release load with one note; logits equal the old ones (1e-6)."""
    design = fileformat.load(HERE / "small_resnet.json")
    module = build_module(design, seed=0)
    notes = load_weights(module, HERE / name, design)
    assert notes == migration_note(name)
    np.testing.assert_allclose(logits(module), np.array(EXPECTED["logits"]), rtol=0, atol=1e-6)


def test_old_design_saved_with_weights_reopens_with_them(win):
    """A design the old release saved with its weights opens with them: the same logits."""
    assert win.open_file(HERE / "with_weights.json")
    design = win.doc.model
    assert win.doc.weights.kind == "loaded"
    assert win.statusBar().currentMessage() == migration_note("with_weights.safetensors")[0]
    module = build_module(design, seed=123)
    apply_partial(
        module, {k: torch.from_numpy(v) for k, v in win.doc.weights.state(design).items()}
    )
    np.testing.assert_allclose(logits(module), np.array(EXPECTED["logits"]), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["small_resnet_flat.safetensors", "small_resnet_flat.pt"])
def test_old_weights_load_into_the_default_export(name):
    """Old flat weights into the default export's module (targets): one note, same logits."""
    from engine.codegen.emit_blocks import export_blocks

    design = fileformat.load(HERE / "small_resnet.json")
    namespace: dict = {"__name__": "exported"}
    exec(compile(export_blocks(design), "<exported>", "exec"), namespace)  # noqa: S102 - ours
    cls = [v for k, v in namespace.items() if isinstance(v, type) and k[0].isupper()][-1]
    module = cls().eval()
    assert load_weights(module, HERE / name, design) == [
        f"{name}: 30 keys in the flat names of an earlier release (e.g. 'layer1_0_bn1.bias'), "
        "migrated to module targets (e.g. 'layer1.0.bn1.bias')"
    ]
    np.testing.assert_allclose(logits(module), np.array(EXPECTED["logits"]), rtol=0, atol=1e-6)


def test_features_cli_says_in_one_line_that_old_weights_were_migrated(tmp_path, capsys):
    """features FILE --weights OLD.pt: exit 0, and stderr has the migration line once."""
    from cli import main

    sample = HERE.parents[1].parent / "resources" / "sample.png"
    args = ["features", str(HERE / "small_resnet.json"), "--image", str(sample)]
    code = main([*args, "--out", str(tmp_path), "--weights", str(HERE / "small_resnet_flat.pt")])
    err = capsys.readouterr().err.splitlines()
    assert code == 0
    assert err.count(migration_note("small_resnet_flat.pt")[0]) == 1
