"""Issue 12, points 1, 2, 5, 7: the feature views as a newcomer meets them (real worker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from worker_jobs import small_graph

from designer.commands import AddNodeCommand, ConnectCommand, RemoveNodesCommand, SetParamCommand
from designer.defaults import starter_params
from designer.document import Document
from designer.scene import GraphScene
from engine.core.graph import GraphModel
from engine.runtime.features import run_features
from widgets.inside_panel import InsidePanel
from widgets.run_controller import RunController
from widgets.sparsity_plot import SparsityPlot

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "resources" / "sample.png")
TIMEOUT = 120_000


@pytest.fixture
def panel(qtbot, client):
    """An inside panel on the small graph, with a canvas scene and the shared worker."""
    doc = Document(small_graph())
    scene = GraphScene(doc)
    controller = RunController(doc, client=client)
    p = InsidePanel(doc, scene=scene, controller=controller)
    qtbot.addWidget(p)
    p.resize(1200, 700)
    p.show()
    p._keep = scene  # the scene lives as long as the panel
    yield p
    controller.close(stop_worker=False)


def run_and_wait(qtbot, panel, trigger=None):
    """Run (or ``trigger()``) and wait until every view shows the result."""
    with qtbot.waitSignal(panel.result_shown, timeout=TIMEOUT) as sig:
        (trigger or panel.run)()
    return sig.args[0]


def add_relu_after(panel, src: str) -> str:
    """Add a ReLU wired after ``src`` (two undo steps, as the canvas does)."""
    doc = panel.document
    add = AddNodeCommand(doc, "relu", starter_params("relu"), (0.0, 0.0))
    doc.undo_stack.push(add)
    doc.undo_stack.push(ConnectCommand(doc, src, add.node_id))
    return add.node_id


def test_run_action_shows_the_selected_new_node(qtbot, panel):
    """A node added after a run, selected, then Run (F5): the grid shows that node's maps."""
    run_and_wait(qtbot, panel)
    new = add_relu_after(panel, "p1")
    panel.scene.select_nodes([new])
    assert panel.grid.node is None and "F5" in panel.grid.title.text()
    run_and_wait(qtbot, panel, panel.run_action.trigger)
    assert panel.grid.node == new
    assert panel.grid.channel_count == 8
    assert "not in" not in panel.grid.title.text() and new in panel.grid.title.text()


def test_live_run_shows_the_selected_new_node(qtbot, panel):
    """With Live on, the rerun after wiring a node shows the selected node, not the old one."""
    run_and_wait(qtbot, panel)
    panel.scene.select_nodes(["r1"])
    with qtbot.waitSignal(panel.result_shown, timeout=TIMEOUT):
        panel.controller.set_live(True)
        new = add_relu_after(panel, "c2")
        panel.scene.select_nodes([new])
    qtbot.waitUntil(lambda: panel.result is not None and new in panel.result.maps, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: panel.grid.node == new, timeout=TIMEOUT)
    assert panel.grid.channel_count == 16


def test_message_about_a_deleted_node_goes_with_it(qtbot, panel):
    """A 'not in the last run' note naming a node disappears when that node is deleted."""
    run_and_wait(qtbot, panel)
    new = add_relu_after(panel, "p1")
    panel.scene.select_nodes([new])
    assert new in panel.grid.title.text()
    panel.document.undo_stack.push(RemoveNodesCommand(panel.document, [new]))
    assert new not in panel.grid.title.text() and new not in panel.grid.readout.text()
    assert panel.grid.missing is None


def test_node_with_an_error_says_why_it_has_no_maps(qtbot, panel):
    """Selecting a node in error: the grid names the error instead of showing other maps."""
    run_and_wait(qtbot, panel)
    panel.document.undo_stack.push(SetParamCommand(panel.document, "c2", "kernel_size", 40))
    panel.scene.select_nodes(["c2"])
    assert panel.grid.node is None
    assert "'c2' has no output" in panel.grid.title.text()


def test_edit_after_run_marks_maps_stale_naming_the_edit(qtbot, panel):
    """An edit after a run dims the maps and names the edit; the next run clears it."""
    run_and_wait(qtbot, panel)
    assert not panel.stale and panel.notice.isHidden()
    panel.document.undo_stack.push(SetParamCommand(panel.document, "c1", "out_channels", 4))
    assert panel.stale and panel.grid.stale
    assert panel.grid.plot.getPlotItem().opacity() < 0.5
    assert "Stale" in panel.notice.text() and "Set out_channels of 'c1'" in panel.notice.text()
    assert panel.notice.isVisible()
    run_and_wait(qtbot, panel)
    assert not panel.stale and not panel.grid.stale and panel.notice.isHidden()


def test_unwired_node_does_not_block_the_live_run(qtbot, panel):
    """A pasted, unwired conv: the live run still runs the rest and names the conv."""
    run_and_wait(qtbot, panel)
    doc = panel.document
    with qtbot.waitSignal(panel.result_shown, timeout=TIMEOUT) as sig:
        panel.controller.set_live(True)
        doc.undo_stack.push(
            AddNodeCommand(doc, "conv", starter_params("conv"), (0.0, 300.0), "c1_copy")
        )
    result = sig.args[0]
    qtbot.waitUntil(lambda: panel.result is not None and "c1_copy" not in panel.result.maps)
    result = panel.result
    assert "fc" in result.maps and len(result.order) == 9
    assert [n for n, _ in result.extra["left_out"]] == ["c1_copy"]
    assert "Ran the valid part (9 of 10 nodes)" in panel.notice.text()
    assert "'c1_copy' has no input" in panel.notice.text()
    assert not panel.stale


def test_weights_in_use_are_named_next_to_the_maps(qtbot, panel):
    """The grid says 'random, seed 0' by default and whatever set_weights_text says."""
    assert panel.grid.weights_label.isVisible()
    assert "random, seed 0" in panel.grid.weights_label.text()
    panel.set_weights_text("trained on shapes, 97.3%")
    assert "trained on shapes, 97.3%" in panel.grid.weights_label.text()
    assert panel.weights_text == "trained on shapes, 97.3%"


def test_sparsity_without_relu_says_no_relu_outputs(qtbot):
    """No ReLU in the graph: no ReLU line or mean curve, and the caption says so."""
    m = GraphModel("no relu")
    m.add_node("input", {"channels": 3, "height": 32, "width": 32}, "input")
    m.add_node("conv", {"out_channels": 4, "kernel_size": 3}, "c1")
    m.add_node("maxpool", {"kernel_size": 2}, "p1")
    m.connect("input", "c1")
    m.connect("c1", "p1")
    plot = SparsityPlot()
    qtbot.addWidget(plot)
    plot.set_result(run_features(m, SAMPLE))
    assert len(plot.points()) == 3
    assert plot.line.xData is None or len(plot.line.xData) == 0
    assert plot.mean_curve.xData is None or len(plot.mean_curve.xData) == 0
    assert "no ReLU outputs" in plot.info.text() and "0% zeros" not in plot.info.text()


def test_new_design_forgets_the_node_of_the_old_one(qtbot, panel):
    """After another design is loaded and run, the grid names no node of the old design."""
    run_and_wait(qtbot, panel)
    panel.scene.select_nodes(["c2"])
    model = GraphModel("other")
    model.add_node("input", {"channels": 3, "height": 32, "width": 32}, "input")
    panel.document.replace_model(model)
    run_and_wait(qtbot, panel)
    assert "c2" not in panel.grid.title.text() and panel.grid.node == "input"
