"""A newcomer's second round (issue 20): the command line, panels per tab, wires, docks,
training budget, tabs for templates, unreachable nodes, and the small details."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from canvas_helpers import Canvas, chain_model
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QGraphicsEllipseItem

from engine.templates import build
from engine.templates.tiny import tiny_cnn

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120_000


def run_main(*args: str) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` with no display and no Qt platform set."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )


# ---------------------------------------------------------------- 1. --help and --version
def test_help_lists_every_command_without_a_display():
    """`main.py --help` with no display prints each command on one line and exits 0."""
    from cli import COMMANDS

    done = run_main("--help")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for name in ("summary", "export", "import", "features", "compare", "data", "train", "localise"):
        assert name in COMMANDS
    assert ".onnx" in done.stdout and "timm:NAME" in done.stdout
    for name, (_module, text) in COMMANDS.items():
        assert any(line.split()[:1] == [name] and text in line for line in lines), name
    assert "--version" in done.stdout and done.stderr == ""


def test_help_and_version_import_no_qt():
    """--help and --version load neither PySide6 nor torch."""
    code = (
        "import sys; from cli.launcher import main; a = main(['--help']); b = main(['--version']);"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch', 'shiboken6')];"
        "print('LOADED', a, b, bad)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert "LOADED 0 0 []" in done.stdout, done.stdout + done.stderr


def test_version_prints_the_package_version():
    """`main.py --version` prints `convcanvas 0.1.0` (the installed version)."""
    from importlib.metadata import version

    done = run_main("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"convcanvas {version('convcanvas')}"


def test_a_mistyped_command_is_named_with_the_right_one():
    """`main.py sumary` says it is unknown, suggests `summary`, exits 2, opens no window."""
    done = run_main("sumary")
    assert done.returncode == 2
    assert "unknown command or file 'sumary' (did you mean 'summary'?)" in done.stderr


def test_the_console_script_runs_the_commands():
    """The installed `convcanvas` script prints the same help and runs `summary`."""
    script = Path(sys.executable).parent / "convcanvas"
    assert script.exists(), "pip install -e . installs the convcanvas script"
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0 and done.stdout.startswith("usage: convcanvas [FILE]")
    done = subprocess.run(
        [str(script), "summary", "--template", "inception3a_reduced"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0 and "157,184" in done.stdout


# ---------------------------------------------------------------- 2. panels follow the tab
def _curve_points(curve) -> int:
    x, _y = curve.getData()
    return 0 if x is None else len(x)


def test_train_panel_curves_belong_to_their_own_tab(win, qtbot):
    """Loss points of one design's run are not shown on a new tab, and come back on return."""
    panel = win.train_host.show_panel()
    first = win.current_tab
    points = [
        {"step": s, "total": 10, "loss": 2.0 - s / 10, "acc": 0.1 * s, "elapsed": s}
        for s in (1, 2, 3)
    ]
    panel.controller.progressed.emit(30, points)
    assert _curve_points(panel.loss_curve) == 3
    win.new_tab(tiny_cnn(size=32))
    assert _curve_points(panel.loss_curve) == 0
    assert panel.progress.value() == 0
    win.design_tabs.setCurrentWidget(first)
    assert _curve_points(panel.loss_curve) == 3 and panel.progress.value() == 30


def test_sparsity_by_depth_shows_the_current_tabs_relus(win, qtbot):
    """Inception's sparsity points stay on its tab; the Tiny CNN's tab shows its 4 ReLUs."""
    win.inside_host.live = False
    inside = win.inside_host.ensure_panel()
    panel = win.train_host.show_panel()
    with qtbot.waitSignal(inside.result_shown, timeout=TIMEOUT):
        inside.run()
    inception = _curve_points(panel.random_curve)
    assert inception > 0
    win.new_tab(tiny_cnn(size=32))
    assert _curve_points(panel.random_curve) == 0
    tiny_inside = win.inside_host.ensure_panel()
    with qtbot.waitSignal(tiny_inside.result_shown, timeout=TIMEOUT):
        tiny_inside.run()
    x, _y = panel.random_curve.getData()
    assert len(x) == 4 and max(x) < 20
    win.design_tabs.setCurrentIndex(0)
    assert _curve_points(panel.random_curve) == inception


# ---------------------------------------------------------------- 14. README and Makefile
def _make_dry_run(target: str, tmp_path) -> str:
    return subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    ).stdout


def test_make_run_installs_the_app_without_test_tools(tmp_path):
    """`make run` on a fresh machine installs `-e .` only; `make test` adds `.[test]`."""
    run = _make_dry_run("run", tmp_path)
    assert "pip install --quiet -e ." in run and "[test]" not in run
    assert "pip install --quiet -e '.[test]'" in _make_dry_run("test", tmp_path)


def test_readme_names_only_templates_the_menu_has():
    """The README's template list has no 'generated deep ResNet' and names every menu entry."""
    from engine.templates import TEMPLATES

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    para = text[text.index("Templates (File → Templates") :].split("\n\n")[0]
    assert "deep ResNet" not in para
    for words in ("GoogLeNet", "ResNet-18", "ResNet-50", "VGG-16", "Tiny CNN"):
        assert words in para
        assert any(words in t.title for t in TEMPLATES.values())


# ---------------------------------------------------------------- 3. a click selects a wire
def _wire_end(c, dst: str = "conv"):
    edge = c.scene.edge_item("input", dst, 0)
    return edge, edge.p1 + QPointF(-8, 0)  # on the wire, just before its input port


def test_a_click_near_a_wires_input_end_selects_it(qtbot):
    """Press and release (3 px of jitter) by the input port: the wire is selected, still connected."""
    c = Canvas(qtbot, chain_model())
    edge, pt = _wire_end(c)
    c.press(pt)
    ring = [i for i in c.scene.items() if isinstance(i, QGraphicsEllipseItem)]
    assert len(ring) == 1  # the threshold is drawn while the button is down
    c.move(pt + QPointF(3, 2))
    c.release(pt + QPointF(3, 2))
    assert c.model.graph.has_edge("input", "conv")
    assert edge.isSelected() and c.doc.undo_stack.count() == 0
    assert not [i for i in c.scene.items() if isinstance(i, QGraphicsEllipseItem)]


def test_a_drag_beyond_the_threshold_detaches_the_wire(qtbot):
    """A drag 60 px away from the input end onto empty canvas disconnects (one undo step)."""
    c = Canvas(qtbot, chain_model())
    _edge, pt = _wire_end(c)
    c.drag(pt, pt + QPointF(0, 60))
    assert not c.model.graph.has_edge("input", "conv")
    c.doc.undo_stack.undo()
    assert c.model.graph.has_edge("input", "conv")


def test_a_click_on_a_connected_input_port_keeps_the_wire(qtbot):
    """A click on the input port itself selects its wire and disconnects nothing."""
    c = Canvas(qtbot, chain_model())
    c.press(c.in_slot("conv"))
    c.release(c.in_slot("conv"))
    assert c.model.graph.has_edge("input", "conv")
    assert c.scene.edge_item("input", "conv", 0).isSelected()


# ---------------------------------------------------------------- 4. docks and the screen
def probe_layout(size: tuple[int, int], tmp_path) -> dict:
    """tests/layout_probe.py's sizes on an offscreen screen of ``size``."""
    w, h = size
    conf = tmp_path / "screen.json"
    conf.write_text(
        json.dumps({"screens": [{"name": "s", "x": 0, "y": 0, "width": w, "height": h}]})
    )
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={conf}")
    env["CONVCANVAS_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "layout_probe.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)])
def test_the_train_dock_fits_the_screen_and_closes_cleanly(size, tmp_path):
    """Train dock on a 1366×768 / 1600×1000 screen: the window stays on screen, the feature
    views keep their size, the plot titles fit, and closing restores the layout."""
    w, h = size
    out = probe_layout(size, tmp_path)
    assert out["screen"] == [w, h]
    for key in ("before", "train", "inside_raised", "closed"):
        fw, fh = out[key]["window"]
        assert fw <= w and fh <= h, (key, out[key])
    (iw, ih), (bw, bh) = out["inside_raised"]["inside"], out["before"]["inside"]
    assert iw == bw and ih >= bh  # the feature views are not crushed
    for width, title in out["plots"]:
        assert title <= width - 10
    assert out["closed"]["window"] == out["before"]["window"]
    (cw, ch), (bw, bh) = out["closed"]["inside"], out["before"]["inside"]
    assert cw == bw and abs(ch - bh) <= 2  # the layout comes back (Qt may round a pixel)


@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)])
def test_the_train_panel_fits_its_dock_without_scrolling(size, tmp_path):
    """Run → Train… on a 1366×768 / 1600×1000 screen: the dock is taller than the panel's
    minimum, so the panel takes the dock's height and its plots show whole (no scroll)."""
    out = probe_layout(size, tmp_path)
    panel_h, viewport_h = out["train_scroll"]
    assert viewport_h >= out["train_min"]
    assert panel_h == viewport_h


# ---------------------------------------------------------------- 7. training in the window
def test_training_defaults_to_a_step_budget(win):
    """Run → Train… starts at 800 steps (the README's accuracy on any machine); seconds stay."""
    from widgets.train_panel import DEFAULT_STEPS

    panel = win.train_host.show_panel()
    assert panel.budget_kind.currentData() == "steps" and panel.budget.value() == DEFAULT_STEPS
    cfg = panel.config("shapes")
    assert cfg["steps"] == 800 and "seconds" not in cfg
    panel.budget_kind.setCurrentIndex(panel.budget_kind.findData("seconds"))
    assert panel.config("shapes")["seconds"] == 120.0


def test_the_status_line_follows_the_training_worker(win):
    """The status bar leaves 'loading torch' for the worker's phase, then step, loss and ETA."""
    panel = win.train_host.show_panel()
    bar = win.statusBar()
    panel._say("Starting the training worker (loading torch)…")
    panel.training_doc, panel.training_state = win.doc, panel.state
    panel.controller.phase_changed.emit("preparing the data")
    assert bar.currentMessage() == "Training worker: preparing the data…"
    point = {"step": 200, "total": 800, "loss": 0.5, "acc": 0.8, "elapsed": 40.0}
    panel.controller.progressed.emit(25, [point])
    assert bar.currentMessage() == (
        "Training: step 200 of 800, loss 0.500; 40 s, about 2 min 00 s left"
    )
    assert panel.status.text() == bar.currentMessage()


# ---------------------------------------------------------------- 8. templates in new tabs
def test_a_template_opens_in_a_new_tab_without_the_baseline(win):
    """Templates → ResNet-18 opens beside Inception 3a; the naive pin stays on Inception's tab."""
    first = win.current_tab
    assert first.totals_bar.baseline is not None  # the start-up lesson's pin
    assert win.load_template("resnet18")
    assert len(win.tabs_list()) == 2 and win.current_tab is not first
    assert win.doc.model.name.startswith("ResNet-18")
    assert win.totals_bar.baseline is None and win.totals_bar.diff_text() == ""
    assert first.totals_bar.baseline is not None and len(first.doc.model) == 13


def test_file_new_then_a_template_reuses_the_blank_tab(win):
    """File → New opens one blank tab; a template then fills that tab, not a third one."""
    assert win.new_design()
    blank = win.current_tab
    assert win.new_design() and win.current_tab is blank  # New on a blank tab: nothing new
    win.totals_bar.pin()  # a baseline pinned on the blank design is not carried over
    assert win.load_template("resnet_bottleneck")
    assert len(win.tabs_list()) == 2 and win.current_tab is blank
    assert win.totals_bar.baseline is None
    assert win.totals_bar.weights.value.text() == "69,632"


# ---------------------------------------------------------------- 13. nodes off the output
def test_a_branch_cut_from_the_output_is_dimmed_badged_and_counted(win):
    """Disconnecting branch 1 from the concat: its 2 nodes dim with a badge, and the totals
    say they make 12,288 params and 9.6 M MACs; undo clears it."""
    from designer.commands import DisconnectCommand
    from designer.detached import DETACHED_TEXT, DetachedBadge

    doc = win.doc
    doc.undo_stack.push(DisconnectCommand(doc, "concat", 0))
    for n in ("branch1_1x1", "branch1_relu"):
        item = win.scene.node_item(n)
        assert item.opacity() == 0.45
        assert [type(c) for c in item.childItems()].count(DetachedBadge) == 1
        assert DETACHED_TEXT == "not connected to the output"
    assert win.scene.node_item("branch2_reduce").opacity() == 1.0
    assert win.totals_bar.detached_text() == (
        "⚠ 2 nodes not connected to the output: 12,288 params, 9.6 M MACs of the totals"
    )
    doc.undo_stack.undo()
    assert win.scene.node_item("branch1_1x1").opacity() == 1.0
    assert not win.scene.node_item("branch1_1x1").childItems()
    assert win.totals_bar.detached_text() == ""


# ---------------------------------------------------------------- 9. nothing moves the canvas
def _canvas_top(win) -> int:
    return win.view.mapTo(win, win.view.rect().topLeft()).y() + win.view.height()


def test_the_totals_bar_keeps_its_height_when_errors_and_a_baseline_come(win, qtbot):
    """An error, a pin and a cut branch appear in the bar: the canvas keeps its height."""
    from designer.commands import DisconnectCommand

    win.resize(1366, 768)
    qtbot.wait(50)
    bar = win.totals_bar
    before = (bar.height(), win.view.height())
    doc = win.doc
    doc.undo_stack.push(DisconnectCommand(doc, "branch2_3x3", 0))  # an error
    qtbot.wait(20)
    assert bar.errors.isVisible() and bar.errors.text().endswith("1 error")
    assert (bar.height(), win.view.height()) == before
    bar.unpin()
    qtbot.wait(20)
    assert (bar.height(), win.view.height()) == before
    win.statusBar().showMessage("a long message\nover two lines")
    qtbot.wait(20)
    assert (bar.height(), win.view.height()) == before


def test_quick_add_from_a_dropped_wire_does_not_pan_the_view(qtbot, win):
    """A wire dropped to the right of the concat adds a wired ReLU; the canvas does not move."""
    from PySide6.QtCore import QPoint

    win.resize(1366, 768)
    qtbot.wait(50)
    view = win.view
    view.fit_to_view()
    qtbot.wait(20)
    anchor = win.scene.node_item("input").sceneBoundingRect().center()
    before = view.mapFromScene(anchor)
    vp = view.viewport().rect()
    at = view.mapToScene(QPoint(vp.right() - 60, vp.center().y()))
    view._on_link_dropped("concat", True, -1, at)
    view.quick_add.hide()
    view.quick_add.chosen.emit("relu")
    qtbot.wait(20)
    new = win.scene.selected_nodes()[0]
    assert list(win.doc.model.graph.predecessors(new)) == ["concat"]
    assert view.mapFromScene(anchor) == before


def test_the_stale_notice_after_an_edit_never_resizes_the_canvas(qtbot, win):
    """The notice that follows an edit ("Stale: …", a refusal) comes and goes without
    changing the Inside panel's minimum height, so the canvas above keeps its height
    (it grew the panel by a line or more: the canvas shrank and the view jumped)."""
    win.resize(1366, 768)
    panel = win.inside_host.ensure_panel()
    win.layout().activate()  # the window laid out around the built panel
    qtbot.wait(50)
    before = (panel.minimumSizeHint().height(), win.view.viewport().height())
    panel.refused = "Cannot run: 'relu' needs an input. " * 4  # long: wraps
    panel.update_notice()
    qtbot.wait(50)
    assert panel.notice.isVisible()
    assert (panel.minimumSizeHint().height(), win.view.viewport().height()) == before
    panel.refused = None
    panel.update_notice()
    qtbot.wait(50)
    assert (panel.minimumSizeHint().height(), win.view.viewport().height()) == before


def test_not_reaching_output_lists_the_dangling_branch_only():
    """A relu hanging off the conv of a chain is the one node not reaching the output."""
    from engine.analysis.analyzer import analyze
    from engine.analysis.reach import contribution, not_reaching_output

    m = chain_model()
    m.add_node("conv", {"out_channels": 2, "kernel_size": 1}, "side", (260, 200))
    m.connect("conv", "side")
    m.add_node("relu", {}, "head", (780, 0))
    m.connect("relu", "head")
    a = analyze(m)
    assert a.totals.output == "head"
    assert not_reaching_output(a) == ["side"]
    c = contribution(a, ["side"])
    assert (c.nodes, c.weights, c.macs) == (1, 8, 8 * 8 * 8)
    m.add_node("conv", {"out_channels": 2, "kernel_size": 1}, "loose", (0, 300))  # no input
    a = analyze(m)
    assert set(not_reaching_output(a)) == {"side", "loose"}
    assert contribution(a, not_reaching_output(a)).nodes == 1  # the error marks 'loose'


# ---------------------------------------------------------------- the stall after an edit
class _RecordingClient:
    """Stands in for the worker client: records what a run would send."""

    def __init__(self) -> None:
        self.sent = []

    def alive(self) -> bool:
        return True

    def submit(self, doc, image, options, **kw) -> int:
        self.sent.append(doc)
        return len(self.sent)

    def fileno(self):
        return None

    def poll(self, budget=0.004):
        return []


def test_a_live_rerun_never_deep_copies_the_design(qtbot, monkeypatch):
    """The re-run 300 ms after an edit snapshots the 501-node graph instead of deep-copying
    it (the copy stalled the window); the snapshot keeps the sent values after later edits."""
    from designer.document import Document
    from engine.core.graph import GraphModel
    from engine.templates import deep_resnet
    from widgets.run_controller import RunController

    doc = Document(deep_resnet(100))
    controller = RunController(doc, client=_RecordingClient())
    monkeypatch.setattr(GraphModel, "copy", lambda self: pytest.fail("deep copy on a run"))
    assert controller.run() == 1
    _t0, snapshot, _rev, _left = controller._sent[1]
    before = snapshot.nodes["block50_conv1"].shape
    doc.model.set_param("block50_conv1", "out_channels", 24)
    assert snapshot.nodes["block50_conv1"].shape == before != (24,) + before[1:]
    controller.close(stop_worker=False)


def test_the_feature_views_are_built_in_pieces_after_start(qtbot, tmp_path, monkeypatch):
    """After start each view is made in its own event-loop turn, then the panel: five
    short steps instead of one ~0.3 s build that stalled an edit made meanwhile."""
    from widgets.app import create_window
    from widgets.inside_host import InsideHost

    made = []
    original = InsideHost.build_in_stages

    def counting(self):
        before = len(self._views)
        original(self)
        made.append(len(self._views) - before if self.panel is None else "panel")

    monkeypatch.setattr(InsideHost, "build_in_stages", counting)
    monkeypatch.setenv("CONVCANVAS_DATA_DIR", str(tmp_path / "data"))
    w = create_window([], autorun=False, live=False)
    w.ask_save_changes = lambda *a: "discard"
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.inside_host.panel is not None, timeout=60_000)
    steps = [m for m in made if m != 0]  # (turns spent waiting for the import thread: 0)
    assert steps == [1, 1, 1, 1, "panel"]
    assert type(w.inside_host.panel.hist).__name__ == "Histograms"


# ---------------------------------------------------------------- 5. a small image fills the view
def test_a_64px_image_fills_the_image_view_on_its_first_run(win, qtbot, tmp_path):
    """After the 451×300 photo, a 64×64 image opened and run fills the view at once (its
    range is the image, not the old photo's heat map and boxes)."""
    from PIL import Image

    small = tmp_path / "shape.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(small)
    panel = win.inside_host.ensure_panel()
    with qtbot.waitSignal(panel.result_shown, timeout=TIMEOUT):
        panel.run()
    panel.controller.set_live(False)
    panel.open_image(small)
    with qtbot.waitSignal(panel.result_shown, timeout=TIMEOUT):
        panel.run()
    (x0, x1), (y0, y1) = panel.rf.view.viewRange()
    assert x0 < 0 < 64 < x1 or y0 < 0 < 64 < y1  # the whole image is in view
    assert min(x1 - x0, y1 - y0) < 64 * 1.2  # and fills it along one side


# ---------------------------------------------------------------- 12. small editing details
def test_tab_with_a_node_selected_adds_the_pick_wired_after_it(qtbot):
    """Select relu, press Tab, pick Max Pool: it is wired after relu, to its right."""
    from PySide6.QtCore import Qt

    c = Canvas(qtbot, chain_model())
    c.scene.select_nodes(["relu"])
    c.view.setFocus()
    qtbot.keyClick(c.view, Qt.Key.Key_Tab)
    popup = c.view.quick_add
    assert popup.isVisible()
    qtbot.keyClicks(popup.edit, "max")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert ("relu", "maxpool", 0) in c.model.edges()
    assert c.item("maxpool").pos().x() > c.item("relu").pos().x()
    assert c.doc.undo_stack.count() == 1


def test_quick_add_after_an_output_does_not_offer_input(qtbot):
    """A wire dropped from an output: the list has no Input, and a type that takes one is first."""
    c = Canvas(qtbot, chain_model())
    c.drag(c.out_port("relu"), QPointF(760, 200))
    shown = c.view.quick_add.shown_types()
    assert "input" not in shown and shown
    assert c.view.quick_add.current_type() == shown[0] != "input"
    c.view.quick_add.hide()


def test_escape_in_an_inspector_field_reverts_the_typing(win, qtbot):
    """Typing 48 into out_channels applies live; Escape brings 64 back (one step, redoable)."""
    from PySide6.QtCore import Qt

    win.scene.select_nodes(["branch1_1x1"])
    spin = win.inspector.editors["out_channels"].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "48")
    assert win.doc.model.params("branch1_1x1")["out_channels"] == 48
    qtbot.keyClick(spin, Qt.Key.Key_Escape)
    assert win.doc.model.params("branch1_1x1")["out_channels"] == 64
    assert spin.value() == 64
    assert win.doc.undo_stack.canRedo()


# ---------------------------------------------------------------- 11. readability
def test_collapsed_resnet50_cards_show_their_whole_output_shape(win, qtbot):
    """ResNet-50 fitted at 1366×768: every collapsed card's '→ C×H×W' line is whole."""
    from designer.block_items import COMPACT_BELOW

    win.resize(1366, 768)
    assert win.load_template("resnet50")
    qtbot.wait(50)
    win.view.fit_to_view()
    lod = win.view.transform().m11()
    assert lod < COMPACT_BELOW  # the cards are drawn compact at this zoom
    cards = [c for c in win.scene.block_layer.cards.values() if c.isVisible()]
    assert len(cards) >= 16
    for card in cards:
        _px, texts = card.compact_texts(lod)
        assert "…" not in texts[1] and texts[1].startswith("→ "), texts
    fm = win.scene.theme.body_metrics
    for card in cards:  # at full size (zoomed in) too: the shapes line fits the card
        line = card.full_lines()[0]
        assert fm.horizontalAdvance(line) <= card.boundingRect().width() - 20, line


def test_by_stage_labels_never_overlap(win, qtbot):
    """ResNet-50 against ResNet-18 by stage in a short chart: the labelled groups fit the
    chart's height one text line apart."""
    from PySide6.QtGui import QFontMetrics

    win.set_model(build("resnet18"))
    win.load_template("resnet50")
    view = win.show_compare(win.tabs_list()[:2])
    plot = view.plots["params"]
    view.resize(900, 420)
    qtbot.wait(100)
    axis = plot.getPlotItem().getAxis("left")
    labels = axis._tickLevels[0]
    height = plot.getPlotItem().getViewBox().height()
    assert 1 < len(labels) and len(labels) * QFontMetrics(plot.font()).height() <= height


def test_every_tab_opened_from_compare_is_fitted(win, qtbot):
    """Templates → Compare → Inception: each of the three tabs, once shown, shows its whole
    block centred (not only the last one opened)."""
    from designer.view import nodes_rect

    win.resize(1600, 1000)  # big enough to show a whole block readable
    win.inside_host.ensure_panel()  # (built 0.5 s after launch; not during the test)
    qtbot.wait(50)
    before = set(win.tabs_list())
    win.open_comparison("inception")
    qtbot.wait(50)
    opened = [t for t in win.tabs_list() if t not in before]
    assert len(opened) == 2
    for tab in opened:
        win.design_tabs.setCurrentWidget(tab)
        qtbot.wait(50)
        rect = nodes_rect(tab.scene)
        seen = tab.view.visible_area(0)
        assert seen.contains(rect), tab.display_name()
        assert abs(seen.center().x() - rect.center().x()) < 0.1 * seen.width(), tab.display_name()
