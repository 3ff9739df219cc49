"""File → Export ONNX… and File → Import … with an .onnx file, both run in a process."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper
from onnx_helpers import run_onnx

TIMEOUT = 180_000


def test_file_menu_has_export_onnx_after_export_code(win):
    """File → Export ONNX… sits among the exports, after Export PyTorch code…."""
    acts = win.menuBar().actions()[0].menu().actions()
    assert acts.index(win.export_action) < acts.index(win.onnx_export.action)
    assert win.onnx_export.action.text() == "Export &ONNX…"


def test_export_onnx_writes_the_design_with_its_loaded_weights(qtbot, win, tmp_path):
    """The export runs in a process, carries the weights in use and the file runs."""
    from engine.templates import build

    tab = win.new_tab(build("tiny_cnn"))
    state = tab.doc.weights.state(tab.doc.model)
    assert state == {}  # random weights: nothing stored
    target = tmp_path / "tiny.onnx"
    host = win.onnx_export
    with qtbot.waitSignal(host.exported, timeout=TIMEOUT) as sig:
        assert host.export_to(target)
        assert host.running
    assert sig.args == [str(target)]
    assert "ONNX opset 18" in host.summary and "random weights, seed 0" in host.summary
    x = np.zeros((2, 3, 64, 64), np.float32)
    (out,) = run_onnx(target, [x])
    assert out.shape[0] == 2
    assert not list(tmp_path.glob("convcanvas-onnx-*"))


def test_export_onnx_carries_trained_weights(qtbot, win, tmp_path):
    """Weights set on the document (as after training) are the file's initialisers."""
    from engine.templates import build

    tab = win.new_tab(build("tiny_cnn"))
    from engine.codegen.targets import module_targets

    targets = module_targets(tab.doc.model)
    conv = targets["conv1"]
    state = {f"{conv}.weight": np.full((16, 3, 3, 3), 0.5, np.float32)}
    tab.doc.set_weights(state, "trained", "trained on shapes, 99%")
    target = tmp_path / "trained.onnx"
    with qtbot.waitSignal(win.onnx_export.exported, timeout=TIMEOUT):
        assert win.onnx_export.export_to(target)
    inits = {t.name: t for t in onnx.load(str(target)).graph.initializer}
    assert np.all(numpy_helper.to_array(inits[f"{conv}.weight"]) == 0.5)


def test_import_dialog_opens_an_onnx_file_with_its_weights(qtbot, win, tmp_path):
    """An .onnx source imports in a process; the tab says 'imported from m.onnx'."""
    from onnx import TensorProto, helper

    w = np.arange(4 * 3, dtype=np.float32).reshape(4, 3, 1, 1) / 10
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["y"], name="stem", kernel_shape=[1, 1])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "W")],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    dlg = win.import_host.show_dialog()
    dlg.set_source(str(path))
    dlg.set_input_size(3, 16, 16)
    with qtbot.waitSignal(dlg.imported, timeout=TIMEOUT):
        assert dlg.start()
    tab = win.import_host.opened  # the window opened it (widgets.import_dialog.open_imported)
    assert tab.doc.weights.text() == "imported from m.onnx"
    assert [tab.doc.model.node_type(n) for n in tab.doc.model.nodes] == ["input", "conv1x1"]
    (weight,) = tab.doc.weights.state(tab.doc.model).values()
    np.testing.assert_array_equal(weight, w)
