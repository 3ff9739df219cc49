"""The window's training: Run → Train… in the worker, Cancel, the weights label, edits and undo, files."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import QTimer

from designer.commands import SetParamCommand
from engine.runtime.build import build_module
from engine.runtime.weights import save_weights
from engine.templates.tiny import tiny_cnn

SMALL = {"shapes_train": 64, "shapes_held_out": 16, "evals": 2}


@pytest.fixture
def tiny(win):
    """The window on a 32×32 Tiny CNN."""
    win.set_model(tiny_cnn(size=32))
    return win


def trained_state(seed: int = 3) -> dict:
    m = build_module(tiny_cnn(size=32), seed=seed)
    return {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}


def panel_for(win, steps: int | None = None, seconds: int | None = None):
    panel = win.train_host.show_panel()
    panel.extra_config = dict(SMALL)
    panel.batch.setValue(8)
    if steps is not None:
        panel.budget_kind.setCurrentIndex(1)
        panel.budget.setValue(steps)
    else:
        panel.budget_kind.setCurrentIndex(0)
        panel.budget.setValue(seconds)
    return panel


def test_training_moves_the_bar_and_switches_the_views(tiny, qtbot):
    """A 60-step run: the bar moves, the loop stays responsive, the label says 'trained on
    shapes, N%' and the maps come from the trained weights."""
    win = tiny
    inside = win.inside_host.ensure_panel()  # built soon after start-up in the app
    panel = panel_for(win, steps=60)
    panel.batch.setValue(32)  # about a second of training: enough ticks to time the loop
    seen = []
    panel.controller.progressed.connect(lambda pct, _pts: seen.append(pct))
    ticks = []
    timer = QTimer()
    timer.setInterval(5)
    done = []
    panel.controller.finished.connect(lambda _r: done.append(1))
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()) if seen and not done else None)
    timer.start()
    with qtbot.waitSignal(panel.controller.finished, timeout=180_000):
        assert panel.start()
    timer.stop()
    assert seen and max(seen) == 100 and panel.progress.value() == 100
    gaps = np.diff(ticks)
    assert len(gaps) >= 10
    print(
        f"event loop while training: longest gap {gaps.max() * 1000:.1f} ms, 99th percentile "
        f"{np.percentile(gaps, 99) * 1000:.1f} ms over {len(gaps)} ticks of 5 ms"
    )
    # The longest gap is measured in bench/bench_training.py (against an idle loop on the
    # same machine); on a shared CI machine only the 99th percentile is steady enough.
    assert np.percentile(gaps, 99) < 0.05
    text = win.doc.weights.text()
    assert text.startswith("trained on shapes, ") and text.endswith("%")
    with qtbot.waitSignal(inside.result_shown, timeout=120_000) as blocker:
        pass
    result = blocker.args[0]
    assert inside.weights_text == text
    # The image view shows the effective receptive field too: a box inside the RF box.
    ex0, ey0, ex1, ey1 = inside.rf.effective_box
    b = result.box
    assert b.x0 <= ex0 < ex1 <= b.x1 and b.y0 <= ey0 < ey1 <= b.y1
    assert inside.rf.heat.isVisible() and inside.rf.effective_item.isVisible()
    module = build_module(win.doc.model)
    module.load_state_dict(
        {k: torch.from_numpy(v) for k, v in win.doc.weights.state(win.doc.model).items()}
    )
    with torch.no_grad():
        want = module(torch.from_numpy(result.input.copy()).unsqueeze(0))[0].numpy()
    np.testing.assert_allclose(result.maps["fc"], want, rtol=1e-4, atol=1e-5)


def test_cancel_stops_training_within_a_second(tiny, qtbot):
    """Cancel during a 120 s run: 'cancelled' within 1 s, and the weights stay random."""
    win = tiny
    panel = panel_for(win, seconds=120)
    with qtbot.waitSignal(panel.controller.progressed, timeout=180_000):
        panel.start()
    t0 = time.monotonic()
    with qtbot.waitSignal(panel.controller.cancelled, timeout=2_000):
        panel.cancel()
    assert time.monotonic() - t0 < 1.0
    assert win.doc.weights.text() == "random, seed 0"
    assert panel.train_button.isEnabled()


def test_editing_a_layer_drops_its_weights_and_undo_restores_them(tiny):
    """Giving conv2 a bias drops conv2's tensors only (the label says so); undo brings them back."""
    doc = tiny.doc
    state = trained_state()
    doc.set_weights(state, "trained", "trained on shapes, 97.3%")
    assert doc.weights.text() == "trained on shapes, 97.3%"
    doc.undo_stack.push(SetParamCommand(doc, "conv2", "bias", True))
    now = doc.weights.state(doc.model)
    assert "conv2.weight" not in now
    assert set(now) == {k for k in state if not k.startswith("conv2.")}
    assert all(np.array_equal(now[k], state[k]) for k in now)
    assert doc.weights.text() == "trained on shapes, 97.3%; conv2 random after edit"
    doc.undo_stack.undo()
    back = doc.weights.state(doc.model)
    assert set(back) == set(state) and all(np.array_equal(back[k], state[k]) for k in state)
    assert doc.weights.text() == "trained on shapes, 97.3%"


def test_the_weights_label_follows_the_document(tiny, qtbot):
    """The feature views' label says what the document uses: random, then trained."""
    inside = tiny.inside_host.ensure_panel()
    assert inside.weights_text == "random, seed 0"
    tiny.doc.set_weights(trained_state(), "trained", "trained on shapes, 97.3%")
    assert inside.weights_text == "trained on shapes, 97.3%"


def test_a_missing_head_is_added_as_one_undoable_edit(win):
    """Ending in relu4: accepting the offer adds gap → flatten → linear 6; one undo removes them."""
    g = tiny_cnn(size=32)
    for n in ("fc", "flatten", "gap"):
        g.remove_node(n)
    win.set_model(g)
    panel = panel_for(win, steps=1)
    asked = []
    panel.ask = lambda title, text: asked.append(text) or True
    before = set(win.doc.model.nodes)
    assert panel.ensure_head(6)
    added = set(win.doc.model.nodes) - before
    assert len(added) == 3 and "global avg pool → flatten → linear 6" in asked[0]
    types = sorted(win.doc.model.node_type(n) for n in added)
    assert types == ["flatten", "global_avgpool", "linear"]
    win.doc.undo_stack.undo()
    assert set(win.doc.model.nodes) == before


def test_a_design_saved_with_weights_reopens_with_them(tiny, tmp_path):
    """Save writes d.safetensors beside d.json (named with its hash); reopening restores the tensors."""
    from engine.weights.files import sha256_of

    state = trained_state()
    tiny.doc.set_weights(state, "trained", "trained on shapes, 97.3%", {"data": "shapes"})
    assert tiny.save_as(tmp_path / "d.json")
    ref = json.loads((tmp_path / "d.json").read_text())["weights"]
    assert ref == {"file": "d.safetensors", "sha256": sha256_of(tmp_path / "d.safetensors")}
    tiny.new_design()
    assert tiny.doc.weights.kind == "random"
    assert tiny.open_file(tmp_path / "d.json")
    back = tiny.doc.weights.state(tiny.doc.model)
    assert set(back) == set(state) and all(np.array_equal(back[k], state[k]) for k in state)
    assert tiny.doc.weights.text() == "trained on shapes, 97.3%"


def test_a_changed_weights_file_is_not_used(tiny, tmp_path):
    """A weights file edited after saving: random weights, and the status bar says why."""
    tiny.doc.set_weights(trained_state(), "trained", "trained on shapes, 97.3%")
    assert tiny.save_as(tmp_path / "d.json")
    data = bytearray((tmp_path / "d.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "d.safetensors").write_bytes(bytes(data))
    tiny.new_design()
    assert tiny.open_file(tmp_path / "d.json")
    assert tiny.doc.weights.kind == "random"
    assert "changed since the design was saved" in tiny.statusBar().currentMessage()


def test_load_weights_checks_the_file_in_the_worker(tiny, qtbot, tmp_path):
    """A fitting .pt loads ('loaded from w.pt'); a 10-class file fails listing fc's shapes, unchanged."""
    host = tiny.train_host
    shown = []
    tiny.show_error = lambda parent, title, text: shown.append((title, text))
    save_weights(build_module(tiny_cnn(size=32), seed=9), tmp_path / "w.pt")
    save_weights(build_module(tiny_cnn(size=32, classes=10)), tmp_path / "bad.safetensors")
    with qtbot.waitSignal(host.controller.loaded, timeout=120_000):
        assert host.load_weights(str(tmp_path / "w.pt"))
    assert tiny.doc.weights.text() == "loaded from w.pt"
    with qtbot.waitSignal(host.controller.failed, timeout=60_000) as blocker:
        assert host.load_weights(str(tmp_path / "bad.safetensors"))
    assert blocker.args[0].split("\n")[-3:] == [
        "of the wrong shape (2):",
        "  fc.weight: 10x64 in the file, the model needs 6x64",
        "  fc.bias: 10 in the file, the model needs 6",
    ]
    assert shown == [("Cannot load weights", blocker.args[0])]
    assert tiny.statusBar().currentMessage() == blocker.args[0].split("\n")[0]
    assert tiny.doc.weights.text() == "loaded from w.pt"


def test_export_training_script_writes_model_and_train_py(tiny, tmp_path):
    """File → Export Training Script… writes tinycnn.py and a train.py that imports it."""
    paths = tiny.train_host.export_script(str(tmp_path))
    assert [p.name for p in paths] == ["tinycnn.py", "train.py"]
    text = (tmp_path / "train.py").read_text()
    assert "MODEL_FILE = 'tinycnn'" in text and "MODEL_CLASS = 'TinyCNN'" in text
    compile(text, "train.py", "exec")
    assert "Export Training Script…" in [a.text() for a in tiny.train_host.actions_.values()]


def test_a_wrong_output_count_is_set_as_one_undoable_edit(win):
    """A 10-output head for 6 classes: accepting sets fc's out_features to 6; undo puts 10 back."""
    win.set_model(tiny_cnn(size=32, classes=10))
    panel = panel_for(win, steps=1)
    panel.ask = lambda title, text: True
    assert panel.ensure_head(6)
    assert win.doc.model.params("fc")["out_features"] == 6
    win.doc.undo_stack.undo()
    assert win.doc.model.params("fc")["out_features"] == 10


def test_a_folder_with_an_empty_class_fails_with_its_name(win, qtbot, tmp_path):
    """Training on a folder whose class 'empty' has no images: the panel shows the refusal."""
    from PIL import Image

    root = tmp_path / "images"  # (tmp_path also holds the window's data folder)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        Image.new("RGB", (8, 8), (10, 20, 30)).save(root / c / "0.png")
    (root / "empty").mkdir()
    win.set_model(tiny_cnn(size=32, classes=3))
    panel = panel_for(win, steps=2)
    panel.data_box.setCurrentIndex(1)
    panel.folder_edit.setText(str(root))
    panel.ask = lambda title, text: False  # no dialog may block a test
    with qtbot.waitSignal(panel.controller.failed, timeout=120_000) as blocker:
        assert panel.start()
    assert "'empty'" in blocker.args[0] and "hold no images" in blocker.args[0]
    assert "hold no images" in panel.status.text()
    assert panel.train_button.isEnabled()
    assert win.doc.weights.kind == "random"
