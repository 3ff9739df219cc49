"""Fine-tuning from a weights file: ``train --weights INIT`` and the Train panel's "Start from"."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cli import main
from engine.core.fileformat import save
from engine.runtime.build import build_module
from engine.runtime.weights import WeightsError, read_state_dict, save_weights
from engine.templates.tiny import tiny_cnn
from engine.training.init import initial_state

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HEAD_NOTE = (
    "ten.pt: the head 'fc' is 10x64 in the file and 6x64 here (another class count): it "
    "starts from random weights"
)


@pytest.fixture
def ten_classes(tmp_path):
    """Weights of a 10-class Tiny CNN (32×32): every layer fits a 6-class one but the head."""
    path = tmp_path / "ten.pt"
    save_weights(build_module(tiny_cnn(size=32, classes=10), seed=5), path)
    return path


def test_initial_state_keeps_every_layer_but_a_new_head(ten_classes):
    """All tensors but fc's come from the file, exactly; one note names the head."""
    state, notes = initial_state(tiny_cnn(size=32), ten_classes)
    file = read_state_dict(ten_classes)
    assert sorted(state) == sorted(k for k in file if not k.startswith("fc."))
    assert all(torch.equal(state[k], file[k]) for k in state)
    assert notes == [HEAD_NOTE]


def test_initial_state_refuses_a_file_of_another_body(tmp_path):
    """A file whose convolutions differ too is refused, not half-used."""
    path = tmp_path / "other.pt"
    save_weights(build_module(tiny_cnn(channels=1, size=32, classes=10)), path)
    with pytest.raises(WeightsError, match=r"^other.pt: the weights do not fit this model"):
        initial_state(tiny_cnn(size=32), path)


def test_train_cli_fine_tunes_from_the_file(ten_classes, tmp_path, capsys):
    """train --weights INIT: exit 0, the head note, and weights that start from the file's."""
    save(tiny_cnn(size=32), tmp_path / "tiny.json")
    out = tmp_path / "tuned.safetensors"
    args = ["train", str(tmp_path / "tiny.json"), "--data", "shapes", "--steps", "1"]
    code = main([*args, "--lr", "0.00001", "--weights", str(ten_classes), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    assert HEAD_NOTE in err.splitlines()
    tuned, start = read_state_dict(out), read_state_dict(ten_classes)
    random = build_module(tiny_cnn(size=32), seed=0).state_dict()
    key = next(k for k in tuned if k.endswith("weight") and tuned[k].dim() == 4)
    assert float((tuned[key] - start[key]).abs().max()) < 1e-3
    assert float((random[key] - start[key]).abs().max()) > 0.1


def test_train_cli_refuses_an_unfit_init_file_with_exit_1(tmp_path, capsys):
    """A file of another design: exit 1, the mismatch on real lines, no weights written."""
    save(tiny_cnn(size=32), tmp_path / "tiny.json")
    other = tmp_path / "other.pt"
    save_weights(build_module(tiny_cnn(channels=1, size=32)), other)
    out = tmp_path / "tuned.safetensors"
    args = ["train", str(tmp_path / "tiny.json"), "--data", "shapes", "--steps", "1"]
    code = main([*args, "--weights", str(other), "-o", str(out)])
    lines = capsys.readouterr().err.splitlines()
    assert code == 1 and not out.exists()
    assert lines[:3] == [
        "train: other.pt: the weights do not fit this model (1 of the wrong shape); nothing "
        "was loaded",
        "of the wrong shape (1):",
        "  conv1.weight: 16x1x3x3 in the file, the model needs 16x3x3x3",
    ]


def test_train_panel_starts_from_the_chosen_file(win, qtbot, ten_classes):
    """Start from: a weights file… trains from that file (the conv weights stay near it)."""
    win.set_model(tiny_cnn(size=32))
    panel = win.train_host.show_panel()
    panel.extra_config = {"shapes_train": 64, "shapes_held_out": 16, "evals": 2}
    panel.batch.setValue(8)
    panel.budget_kind.setCurrentIndex(1)
    panel.budget.setValue(1)
    panel.lr.setValue(0.00001)
    panel.start_box.setCurrentIndex(1)
    panel.init_edit.setText(str(ten_classes))
    with qtbot.waitSignal(panel.controller.finished, timeout=180_000):
        assert panel.start()
    tuned = win.doc.weights.state(win.doc.model)
    start = read_state_dict(ten_classes)
    key = next(k for k in tuned if k.endswith("weight") and tuned[k].ndim == 4)
    assert float(np.abs(tuned[key] - start[key].numpy()).max()) < 1e-3


def test_train_panel_asks_for_the_file_first(win):
    """Start from a file without one chosen: nothing starts, the panel says what to do."""
    win.set_model(tiny_cnn(size=32))
    panel = win.train_host.show_panel()
    panel.start_box.setCurrentIndex(1)
    assert not panel.start()
    assert panel.status.text() == (
        "Choose the weights file to start from first (or start from random weights)."
    )
