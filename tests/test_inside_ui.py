"""The "see inside" panel end to end: real worker process, real canvas scene."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMainWindow, QMenu, QTabWidget, QWidget
from worker_jobs import assert_same_stats, small_graph

from designer.commands import SetParamCommand
from designer.document import Document
from designer.scene import GraphScene
from engine.runtime.features import run_features
from engine.templates import build
from widgets.inside_host import QUIET_MS, install_inside
from widgets.inside_panel import InsidePanel
from widgets.rf_view import strongest_box
from widgets.run_controller import RunController

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "resources" / "sample.png")
TIMEOUT = 60_000


def make_panel(qtbot, client, model=None):
    doc = Document(model if model is not None else small_graph())
    scene = GraphScene(doc)
    controller = RunController(doc, client=client)
    panel = InsidePanel(doc, scene=scene, controller=controller)
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    return panel, doc, scene


@pytest.fixture
def panel(qtbot, client):
    p, doc, scene = make_panel(qtbot, client)
    yield p
    p.controller.close(stop_worker=False)


@pytest.fixture
def slow_panel(qtbot, slow_client):
    p, doc, scene = make_panel(qtbot, slow_client)
    yield p
    p.controller.close(stop_worker=False)


def run_and_wait(qtbot, panel):
    """Run and wait until every view shows the result."""
    with qtbot.waitSignal(panel.result_shown, timeout=TIMEOUT) as sig:
        panel.run()
    return sig.args[0]


def wait_mid_run(qtbot, panel):
    """Wait for a progress message from inside the forward pass."""
    seen = []
    panel.controller.run_progressed.connect(lambda p, t: seen.append(t))
    qtbot.waitUntil(lambda: any(t.startswith("layer") for t in seen), timeout=TIMEOUT)


def test_run_shows_engine_numbers_in_every_view(qtbot, panel):
    """After a run: grid, sparsity points and RF box hold the engine's numbers."""
    result = run_and_wait(qtbot, panel)
    ref = run_features(small_graph(), SAMPLE, mode="resize", normalize="imagenet")
    node = ref.box.node
    assert panel.grid.node == node == "r2"
    assert panel.grid.channel_count == ref.maps[node].shape[0] == 16
    assert panel.grid.levels == (float(ref.maps[node].min()), float(ref.maps[node].max()))
    points = panel.sparsity.points()
    assert [(n, d, s) for n, d, s, _ in points] == [
        (n, ref.depth[n], ref.stats[n].sparsity) for n in ref.order
    ]
    assert [m for *_, m in points] == pytest.approx(
        [ref.stats[n].mean for n in ref.order], rel=1e-5, abs=1e-7
    )
    assert len(panel.sparsity.scatter.points()) == len(ref.order) == 9
    assert panel.rf.box == ref.box
    assert panel.rf.box_rect() == (ref.box.x0, ref.box.y0, ref.box.x1, ref.box.y1)
    assert result.extra["latency"] > 0


def test_selecting_node_on_canvas_shows_its_maps(qtbot, panel):
    """Selecting a node on the canvas shows its maps, histogram and strongest-pixel box."""
    result = run_and_wait(qtbot, panel)
    panel.tabs.setCurrentWidget(panel.hist)
    panel.scene.select_nodes(["c1"])
    assert panel.grid.node == "c1" and panel.grid.channel_count == 8
    assert panel.grid.levels == (float(result.maps["c1"].min()), float(result.maps["c1"].max()))
    assert panel.hist.node == "c1" and panel.hist.act_counts.sum() == 8 * 32 * 32
    assert panel.rf.box == strongest_box(result, result.extra["analysis"], "c1")


def test_sparsity_click_selects_canvas_node(qtbot, panel):
    """Clicking a sparsity point selects that node on the canvas and in the grid."""
    run_and_wait(qtbot, panel)
    panel.sparsity.click_node("p1")
    assert panel.scene.selected_nodes() == ["p1"]
    assert panel.grid.node == "p1"


def test_sparsity_tint_reaches_canvas(qtbot, panel):
    """'Canvas colour: sparsity' tints every node and sets the scene's legend."""
    run_and_wait(qtbot, panel)
    panel.tint_box.setCurrentIndex(panel.tint_box.findData("sparsity"))
    assert set(panel.tint) == set(panel.scene.nodes)
    assert "zeros" in panel.scene.tint_legend
    panel.tint_box.setCurrentIndex(panel.tint_box.findData("none"))
    assert panel.scene.tint_legend == ""


def test_sparsity_tint_cleared_when_another_design_opens(qtbot, panel):
    """Opening another design removes the old run's sparsity colours from the canvas."""
    run_and_wait(qtbot, panel)
    panel.tint_box.setCurrentIndex(panel.tint_box.findData("sparsity"))
    assert panel.scene.tint_legend
    panel.document.replace_model(small_graph(width=3))
    assert panel.tint is None and panel.scene.tint_legend == ""


def test_resnet18_small_input_runs(qtbot, client):
    """ResNet-18 at 64×64: 512 channels of the last ReLU, 70 sparsity points, engine's box."""
    model = build("resnet18")
    model.set_params("input", {"height": 64, "width": 64})
    p, doc, scene = make_panel(qtbot, client, model)
    try:
        result = run_and_wait(qtbot, p)
        ref = run_features(model, SAMPLE)
        assert p.grid.node == ref.box.node and p.grid.channel_count == 512
        assert p.grid.shown_channels == 256
        assert len(p.sparsity.scatter.points()) == len(ref.order) == 70
        assert p.rf.box == ref.box
        assert_same_stats(result.stats, ref.stats)
    finally:
        p.controller.close(stop_worker=False)


def test_graph_with_errors_runs_its_valid_part(qtbot, panel):
    """With an error, the nodes before it run; the notice names the node left out and why."""
    panel.document.undo_stack.push(SetParamCommand(panel.document, "c2", "kernel_size", 40))
    result = run_and_wait(qtbot, panel)
    assert "c2" not in result.maps and "r1" in result.maps
    assert [n for n, _ in result.extra["left_out"]] == ["c2", "r2", "gap", "flat", "fc"]
    assert "Left out 'c2'" in panel.notice.text() and "kernel" in panel.notice.text()


def test_graph_with_nothing_valid_is_refused_with_node_named(qtbot, panel):
    """When no node has an output the run is refused at once, naming the node."""
    from engine.core.graph import GraphModel

    model = GraphModel("broken")
    model.add_node("relu", {}, "lonely", (0, 0))
    panel.document.replace_model(model)
    with qtbot.waitSignal(panel.status_message, timeout=1000) as sig:
        assert panel.run() is None
    assert "lonely" in sig.args[0] and "Cannot run" in sig.args[0]
    assert "lonely" in panel.notice.text() and panel.notice.isVisible()


def test_worker_failure_reaches_status_bar(qtbot, panel, tmp_path):
    """An error inside the worker (an unreadable image) lands in the status message."""
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    panel.open_image(bad)
    with qtbot.waitSignal(panel.status_message, timeout=TIMEOUT) as sig:
        panel.run()
    assert sig.args[0].startswith("Run failed:") and "broken.png" in sig.args[0]


def test_open_image_is_used_by_next_run(qtbot, panel, tmp_path):
    """Opening another image makes the next run use it (its size is the result's image)."""
    from PIL import Image

    path = tmp_path / "red.png"
    Image.new("RGB", (40, 20), (255, 0, 0)).save(path)
    panel.open_image(path)
    result = run_and_wait(qtbot, panel)
    assert result.image.shape == (20, 40, 3) and panel.rf.result is result


def test_image_dropped_on_window_becomes_the_image(qtbot, panel, tmp_path):
    """Dropping an image file on a window with the drop target sets the panel's image."""
    from PIL import Image

    path = tmp_path / "drop.png"
    Image.new("RGB", (10, 10), (0, 0, 255)).save(path)
    window = QWidget()
    qtbot.addWidget(window)
    panel.install_drop_target(window)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    assert panel._drop_filter.eventFilter(window, event)
    assert panel.controller.image == str(path)


def test_killing_worker_mid_run_reports_and_next_run_succeeds(qtbot, slow_panel):
    """kill -9 mid-run: a failure message, the editor keeps working, the next run succeeds."""
    panel = slow_panel
    with qtbot.waitSignal(panel.controller.run_failed, timeout=TIMEOUT) as failed:
        panel.run()
        wait_mid_run(qtbot, panel)
        killed = panel.controller.client.pid
        os.kill(killed, 9)
    assert "stopped unexpectedly" in failed.args[0]
    assert "signal 9" in failed.args[0]
    assert not panel.controller.client.alive()
    assert not Path(f"/proc/{killed}").exists()  # really killed and reaped, not hidden
    assert not panel.cancel_button.isEnabled()
    doc = panel.document
    with qtbot.waitSignal(doc.analysis_changed, timeout=1000):
        doc.undo_stack.push(SetParamCommand(doc, "c1", "out_channels", 4))
    assert doc.analysis.nodes["c1"].shape == (4, 32, 32)
    result = run_and_wait(qtbot, panel)
    assert panel.controller.client.pid not in (None, killed)  # a fresh worker ran it
    assert result.maps["c1"].shape == (4, 32, 32)
    assert panel.grid.result is result


def test_newer_run_supersedes_older(qtbot, slow_panel):
    """Two runs in a row: only the second one's result is shown."""
    panel = slow_panel
    finished = []
    panel.controller.run_finished.connect(finished.append)
    first = panel.run()
    wait_mid_run(qtbot, panel)
    panel.image_panel.mode.setCurrentIndex(panel.image_panel.mode.findData("crop"))
    second = panel.run()
    qtbot.waitUntil(lambda: bool(finished), timeout=TIMEOUT)
    qtbot.wait(200)
    assert [r.extra["request"] for r in finished] == [second] and first != second
    assert panel.rf.result.preprocess.mode == "crop"


def test_cancel_button_cancels_run(qtbot, slow_panel):
    """Cancel mid-run emits run_cancelled, says so, and disables Cancel; nothing is shown."""
    panel = slow_panel
    shown = []
    panel.controller.run_finished.connect(shown.append)
    rid = panel.run()
    assert panel.cancel_button.isEnabled()
    wait_mid_run(qtbot, panel)
    with qtbot.waitSignal(panel.controller.run_cancelled, timeout=5000) as sig:
        panel.cancel_button.click()
    assert sig.args == [rid]
    assert panel.status.text() == "Cancelled." and not panel.cancel_button.isEnabled()
    qtbot.wait(100)
    assert shown == []


def test_live_mode_reruns_after_edit(qtbot, panel):
    """With Live on, an edit reruns the network (debounced) with the new graph."""
    with qtbot.waitSignal(panel.controller.run_finished, timeout=TIMEOUT):
        panel.live_box.setChecked(True)
    assert panel.live_action.isChecked()
    doc = panel.document
    with qtbot.waitSignal(panel.controller.run_finished, timeout=TIMEOUT) as sig:
        doc.undo_stack.push(SetParamCommand(doc, "c2", "out_channels", 6))
    assert sig.args[0].maps["c2"].shape == (6, 14, 14)
    panel.live_box.setChecked(False)


def test_window_process_never_loads_torch():
    """Running from the panel leaves torch out of the GUI process (it lives in the worker)."""
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from designer.document import Document\n"
        "from worker_jobs import assert_same_stats, small_graph\n"
        "from widgets.inside_panel import InsidePanel\n"
        "if __name__ == '__main__':\n"
        "    app = QApplication([])\n"
        "    p = InsidePanel(Document(small_graph()))\n"
        "    done = []\n"
        "    p.controller.run_finished.connect(done.append)\n"
        "    p.run()\n"
        "    import time; t = time.time()\n"
        "    while not done and time.time() - t < 60: app.processEvents(); time.sleep(0.01)\n"
        "    print(len(done), 'torch' in sys.modules)\n"
        "    p.close_worker()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(ROOT)
    )
    assert out.stdout.split() == ["1", "False"], out.stderr[-2000:]


class FakeWindow(QMainWindow):
    """What install_inside needs of the main window: doc, scene, toolbar, a dock tab."""

    def __init__(self, doc):
        super().__init__()
        self.doc = doc
        self.scene = GraphScene(doc)
        self.toolbar = self.addToolBar("Main")
        self.tabs = QTabWidget()
        self.setCentralWidget(self.tabs)

    def add_inside_view(self, widget, title):
        return self.tabs.addTab(widget, title)


@pytest.fixture
def hosted(qtbot, client, monkeypatch):
    """A window with the lazily built panel installed (the panel uses the shared worker)."""
    import widgets.inside_panel as ip

    real = ip.RunController
    monkeypatch.setattr(
        ip, "RunController", lambda doc, parent=None: real(doc, parent, client=client)
    )
    window = FakeWindow(Document(small_graph()))
    qtbot.addWidget(window)
    host = install_inside(window, delay_ms=-1)
    yield window, host
    if host.panel is not None:
        host.panel.controller.close(stop_worker=False)


def test_install_adds_actions_without_building_panel(hosted):
    """Toolbar and Run menu get Run, Live, Cancel, Open image; the panel is not built yet."""
    window, host = hosted
    names = [a.text() for a in window.toolbar.actions() if not a.isSeparator()]
    assert names == ["Run", "Live", "Cancel", "Open image…"]
    menus = [m.title() for m in window.menuBar().findChildren(QMenu)]
    assert "&Run" in menus
    assert host.panel is None and window.tabs.count() == 1


def test_feature_views_wait_for_a_pause_in_editing(qtbot, hosted):
    """A build stage due just after an edit makes nothing (no import thread, no view): the
    views come once the design has been left alone, so their build never lands in an edit."""
    window, host = hosted
    doc = window.doc
    doc.undo_stack.push(SetParamCommand(doc, "input", "height", 40))
    host.build_in_stages()
    assert host._importer is None and host._views == {} and host.panel is None
    assert 0 < host.quiet_left() <= QUIET_MS
    qtbot.waitUntil(lambda: host.panel is not None, timeout=TIMEOUT)
    assert host.quiet_left() == 0


def test_staged_build_freezes_what_start_up_made_once_per_process(qtbot, hosted, monkeypatch):
    """Before each view and after the panel the staged build freezes the objects made so
    far (kept out of full GC collections, ~40 ms that landed in an edit); then never again."""
    import widgets.inside_host as ip

    window, host = hosted
    frozen = []
    monkeypatch.setattr(ip, "_STARTUP_FROZEN", False)
    monkeypatch.setattr(ip.gc, "freeze", lambda: frozen.append(len(host._views)))
    host.build_in_stages()
    qtbot.waitUntil(lambda: host.panel is not None, timeout=TIMEOUT)
    assert frozen == [0, 1, 2, 3, 4, 0]  # views made so far (the panel then takes them)
    ip.freeze_startup_objects()
    assert len(frozen) == 6


def test_run_action_builds_panel_and_runs_once(qtbot, hosted):
    """Triggering Run before the panel exists builds it and runs exactly once."""
    window, host = hosted
    started = []
    host.panel_built.connect(lambda p: p.controller.run_started.connect(started.append))
    with qtbot.waitSignal(host.panel_built, timeout=5000):
        host.actions_.run.trigger()
    qtbot.waitUntil(lambda: host.panel.result is not None, timeout=TIMEOUT)
    assert host.panel.grid.channel_count == 16
    assert len(started) == 1  # one trigger, one run (not one per connection)
    host.actions_.run.trigger()
    qtbot.wait(50)
    assert len(started) == 2


def test_image_dropped_on_main_window_builds_panel_and_sets_image(qtbot, hosted, tmp_path):
    """An image file dropped on the window becomes the panel's image."""
    from PIL import Image

    window, host = hosted
    path = tmp_path / "drop.png"
    Image.new("RGB", (10, 10), (0, 255, 0)).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    assert host._drop_filter.eventFilter(window, event)
    assert host.panel is not None and host.panel.controller.image == str(path)


def test_main_window_has_inside_views_and_runs(qtbot, client, monkeypatch):
    """The main window gets Run/Live/Cancel/Open image, builds the panel after showing, runs."""
    import widgets.inside_panel as ip
    from widgets.main_window import MainWindow

    real = ip.RunController
    monkeypatch.setattr(
        ip, "RunController", lambda doc, parent=None: real(doc, parent, client=client)
    )
    win = MainWindow(Document(small_graph()), autosave=False)
    qtbot.addWidget(win)
    win.show()
    names = [a.text() for a in win.toolbar.actions()]
    assert {"Run", "Live", "Cancel", "Open image…"} <= set(names)
    host = win.inside_host
    qtbot.waitUntil(lambda: host.panel is not None, timeout=5000)
    assert win.inside_dock.isVisible()
    try:
        with qtbot.waitSignal(host.panel.result_shown, timeout=TIMEOUT):
            host.actions_.run.trigger()
        assert host.panel.grid.channel_count == 16
        assert "Forward pass" in win.statusBar().currentMessage()
    finally:
        host.panel.controller.close(stop_worker=False)


def test_app_runs_sample_at_start_and_selects_last_spatial_node(
    qtbot, client, monkeypatch, tmp_path
):
    """python main.py: the sample photo runs by itself; its last spatial node is selected."""
    import widgets.inside_panel as ip
    from widgets.app import create_window

    real = ip.RunController
    monkeypatch.setattr(
        ip, "RunController", lambda doc, parent=None: real(doc, parent, client=client)
    )
    monkeypatch.setenv("CONVCANVAS_DATA_DIR", str(tmp_path))
    win = create_window([])
    win.ask_save_changes = lambda *a: "discard"
    qtbot.addWidget(win)
    host = win.inside_host
    with qtbot.waitSignal(host.panel_built, timeout=5000):
        win.show()
    panel = host.panel
    try:
        with qtbot.waitSignal(panel.result_shown, timeout=TIMEOUT) as shown:
            pass
        result = shown.args[0]
        assert panel.controller.live and panel.live_box.isChecked()
        assert panel.controller.image == SAMPLE
        assert result.box is not None and result.box.node == "concat"
        assert win.scene.selected_nodes() == ["concat"]
        assert panel.grid.node == "concat" and panel.grid.channel_count == 416
        assert win.inspector.node == "concat"
    finally:
        panel.controller.close(stop_worker=False)


def _grid_point(grid, channel, y, x):
    """Viewport position of feature pixel ``(y, x)`` of ``channel`` in the grid."""
    from PySide6.QtCore import QPointF as P

    tx, ty = grid.tile_origin(channel)
    scene = grid.image.mapToScene(P(tx + x + 0.5, ty + y + 0.5))
    return grid.plot.mapFromScene(scene)


def test_hovering_a_map_pixel_reads_it_out_and_boxes_its_field(qtbot, panel):
    """Mouse over a grid pixel: the readout shows it and the image boxes its receptive field."""
    from engine.analysis.rf_boxes import rf_box

    result = run_and_wait(qtbot, panel)
    panel.scene.select_nodes(["c1"])
    qtbot.wait(50)
    pos = _grid_point(panel.grid, 2, 3, 5)
    qtbot.mouseMove(panel.grid.plot.viewport(), pos)
    value = float(result.maps["c1"][2, 3, 5])
    qtbot.waitUntil(lambda: panel.rf.hover_box is not None, timeout=2000)
    assert panel.grid.readout.text() == f"channel 2, y 3, x 5 = {value:.4g}"
    assert panel.rf.hover_box == rf_box(
        result.extra["analysis"], "c1", 3, 5, result.preprocess, channel=2, value=value
    )


def test_clicking_a_channel_enlarges_it_and_boxes_its_strongest_pixel(qtbot, panel):
    """A click on a channel's tile shows it alone; the image boxes that channel's maximum."""
    result = run_and_wait(qtbot, panel)
    panel.scene.select_nodes(["c1"])
    qtbot.wait(50)
    qtbot.mouseClick(
        panel.grid.plot.viewport(), Qt.MouseButton.LeftButton, pos=_grid_point(panel.grid, 6, 1, 1)
    )
    qtbot.waitUntil(lambda: panel.grid.enlarged == 6, timeout=2000)
    assert panel.grid.shown_channels == 1
    assert panel.rf.box == strongest_box(result, result.extra["analysis"], "c1", 6)


def test_live_mode_reruns_after_an_edit_but_not_after_a_move(qtbot, panel):
    """Live (on at start-up) schedules a run after a parameter edit, never after a move."""
    from designer.commands import MoveNodesCommand

    c = panel.controller
    c.set_live(True)
    c._live_timer.stop()
    doc = panel.document
    doc.undo_stack.push(MoveNodesCommand(doc, {"c1": (0, 0)}, {"c1": (40, 40)}))
    assert not c._live_timer.isActive()
    doc.undo_stack.push(SetParamCommand(doc, "c1", "out_channels", 6))
    assert c._live_timer.isActive()
    c.set_live(False)


def test_a_notice_after_the_controllers_timer_is_gone_raises_nothing(qtbot, panel):
    """The document talks to a panel whose controller's timer went with its window (at
    exit): the notice is worked out without a RuntimeError ("QTimer already deleted")."""
    import shiboken6

    panel.refused = "Cannot run: testing"
    shiboken6.delete(panel.controller._live_timer)
    assert panel.controller.live_pending is False
    panel.update_notice()
    assert "Cannot run: testing" in panel.notice.text()
