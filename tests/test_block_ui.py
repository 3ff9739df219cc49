"""Blocks on the canvas: cards, frames, fit-to-view zoom, gestures and the palette, with undo."""

from __future__ import annotations

import pytest
from canvas_helpers import Canvas
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from designer.document import Document
from designer.scene import GraphScene
from designer.view import GraphView
from engine.blocks import records
from engine.core import fileformat as ff
from engine.core.graph import GraphModel
from engine.templates import build


def _view(qtbot, key: str, size=(1600, 1000)) -> GraphView:
    doc = Document(build(key))
    view = GraphView(GraphScene(doc))
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    QApplication.processEvents()
    return view


@pytest.mark.parametrize("key", ["resnet50", "googlenet"])
def test_fit_to_view_of_collapsed_network_is_at_least_half_size(qtbot, key):
    """Fit-to-view of collapsed ResNet-50 / GoogLeNet in a 1600×1000 view: zoom ≥ 50 %."""
    view = _view(qtbot, key)
    view.fit_to_view()
    assert view.zoom() >= 0.5
    # Everything shows: every card and visible node lies inside the viewport.
    vp = view.mapToScene(view.viewport().rect()).boundingRect()
    layer = view.graph_scene.block_layer
    for item in list(layer.cards.values()) + [
        i for i in view.graph_scene.nodes.values() if i.isVisible()
    ]:
        assert vp.contains(item.sceneBoundingRect()), item


def test_fit_zoom_measured_for_both_networks(qtbot):
    """The measured zoom: ResNet-50 ≥ 0.9 and GoogLeNet ≥ 0.9 in 1600×1000."""
    zooms = {}
    for key in ("resnet50", "googlenet"):
        view = _view(qtbot, key)
        view.fit_to_view()
        zooms[key] = round(view.zoom(), 2)
    assert zooms["resnet50"] >= 0.9 and zooms["googlenet"] >= 0.9, zooms


def test_collapsed_block_card_shows_shapes_and_totals(qtbot):
    """layer1.0's card shows 64×56×56 → 256×56×56, 75.0 k params and RF 19×19."""
    view = _view(qtbot, "resnet50")
    card = view.graph_scene.block_layer.card("layer1.0")
    assert card.title == "layer1.0" and card.subtitle == "Residual bottleneck"
    assert card.lines[0] == "64×56×56 → 256×56×56"
    assert card.lines[1].startswith("75.0 k params")
    assert card.lines[2] == "RF 19×19 · 12 nodes"
    assert not view.graph_scene.node_item("layer1_0_conv1").isVisible()


def _double_click(view: GraphView, scene_pt: QPointF) -> None:
    vp = view.viewport()
    local = view.mapFromScene(scene_pt)
    for kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease,
                 QEvent.Type.MouseButtonDblClick, QEvent.Type.MouseButtonRelease):  # fmt: skip
        buttons = (
            Qt.MouseButton.NoButton
            if kind == QEvent.Type.MouseButtonRelease
            else (Qt.MouseButton.LeftButton)
        )
        ev = QMouseEvent(kind, QPointF(local), QPointF(vp.mapToGlobal(local)),
                         Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)  # fmt: skip
        QApplication.sendEvent(vp, ev)
    QApplication.processEvents()


def test_double_click_expands_a_card_and_undo_collapses_it(qtbot):
    """Double-clicking layer2.0's card expands it (members show in a frame); undo, redo."""
    view = _view(qtbot, "resnet50")
    scene, doc = view.graph_scene, view.graph_scene.doc
    card = scene.block_layer.card("layer2.0")
    view.centerOn(card)
    QApplication.processEvents()
    _double_click(view, card.sceneBoundingRect().center())
    scene.block_layer.sync_if_pending()
    assert records(doc.model)["layer2.0"]["collapsed"] is False
    assert scene.node_item("layer2_0_conv2").isVisible()
    assert "layer2.0" in scene.block_layer.frames
    doc.undo_stack.undo()
    scene.block_layer.sync()
    assert scene.block_layer.card("layer2.0") is not None
    assert not scene.node_item("layer2_0_conv2").isVisible()
    doc.undo_stack.redo()
    scene.block_layer.sync()
    assert scene.block_layer.card("layer2.0") is None


def test_frame_chevron_collapses_the_block(qtbot):
    """A click on an expanded block's chevron collapses it again."""
    view = _view(qtbot, "resnet18")
    scene, doc = view.graph_scene, view.graph_scene.doc
    scene.block_layer.set_collapsed("layer1.1", False)
    scene.block_layer.sync()
    frame = scene.block_layer.frames["layer1.1"]
    title = frame.title_rect()
    view.centerOn(title.center())
    QApplication.processEvents()
    pt = QPointF(title.left() + 14, title.center().y())
    vp = view.viewport()
    local = view.mapFromScene(pt)
    for kind, buttons in ((QEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton),
                          (QEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton)):  # fmt: skip
        ev = QMouseEvent(kind, QPointF(local), QPointF(vp.mapToGlobal(local)),
                         Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)  # fmt: skip
        QApplication.sendEvent(vp, ev)
    scene.block_layer.sync_if_pending()
    assert records(doc.model)["layer1.1"]["collapsed"] is True
    assert scene.block_layer.card("layer1.1") is not None


def _chain() -> GraphModel:
    m = GraphModel("chain")
    m.add_node("input", {"channels": 8, "height": 16, "width": 16}, "input", (0, 0))
    m.add_node("conv", {"out_channels": 16, "kernel_size": 3, "padding": 1}, "conv", (260, 0))
    m.add_node("relu", {}, "relu", (520, 0))
    m.add_node("conv1x1", {"out_channels": 8}, "proj", (780, 0))
    m.connect("input", "conv")
    m.connect("conv", "relu")
    m.connect("relu", "proj")
    return m


def test_ctrl_g_groups_and_ctrl_shift_g_ungroups(qtbot):
    """Ctrl+G on conv and relu makes an expanded block framed on the canvas; Ctrl+Shift+G undoes."""
    from widgets.block_actions import BlockActions

    c = Canvas(qtbot, _chain())
    BlockActions(c.doc, c.scene, c.view, c.view)
    c.scene.select_nodes(["conv", "relu"])
    c.view.setFocus()
    qtbot.keyClick(c.view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    c.scene.block_layer.sync_if_pending()
    assert records(c.model)["block"]["collapsed"] is False
    assert "block" in c.scene.block_layer.frames
    frame = c.scene.block_layer.frames["block"].sceneBoundingRect()
    assert frame.contains(c.item("conv").sceneBoundingRect())
    c.scene.select_nodes(["conv"])
    qtbot.keyClick(c.view, Qt.Key.Key_G,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)  # fmt: skip
    assert records(c.model) == {}
    c.doc.undo_stack.undo()
    assert "block" in records(c.model)


def test_palette_places_a_bottleneck_with_parameters(win, qtbot):
    """Double-clicking Residual bottleneck with 'relu' selected places it with width 4; undo."""
    win.set_model(_chain())
    tab = win.current_tab
    tab.scene.select_nodes(["relu"])
    asked = []
    tab.block_actions.ask_values = lambda bt, in_ch: (asked.append(in_ch), ({"width": 4}, in_ch))[1]
    item = win.palette_panel.block_item_for("bottleneck")
    tree = win.palette_panel.tree
    win.palette_dock.show()
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    with qtbot.waitSignal(win.palette_panel.block_activated):
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert asked == [16]
    model = tab.doc.model
    assert records(model)["bottleneck"]["params"] == {"width": 4, "stride": 1, "expansion": 4}
    assert model.inputs("bottleneck_conv1") == ["relu"]
    assert tab.doc.analysis.nodes["bottleneck_relu_2"].shape == (16, 16, 16)
    tab.doc.undo_stack.undo()
    assert "bottleneck_conv1" not in model and records(model) == {}


def test_copy_and_paste_of_a_block_makes_a_second_block(win, qtbot):
    """Copying a collapsed card and pasting gives a second block with the same type."""
    win.set_model(build("resnet18"))
    tab = win.current_tab
    layer = tab.scene.block_layer
    layer.sync()
    layer.card("layer1.1").setSelected(True)
    before = len(tab.doc.model)
    tab.canvas_actions.copy_selection()
    new = tab.canvas_actions.paste_clipboard()
    model = tab.doc.model
    assert len(new) == 7 and len(model) == before + 7
    rec = records(model)["layer1_2"]  # a fresh top-level path, its member ids free too
    assert rec["type"] == "basic_block" and rec["params"] == {"planes": 64, "stride": 1}
    assert "layer1_2_conv1" in new and model.graph.nodes["layer1_2_conv1"]["scope"] == "layer1_2"
    assert records(model)["layer1.1"]["type"] == "basic_block"  # the original is untouched
    text = ff.dumps(model)
    tab.doc.undo_stack.undo()
    assert len(model) == before
    tab.doc.undo_stack.redo()
    assert ff.dumps(model) == text


def test_inspector_shows_block_totals_for_a_selected_card(win, qtbot):
    """Selecting layer1.0's card: the inspector names the bottleneck and its totals."""
    win.set_model(build("resnet50"))
    tab = win.current_tab
    tab.scene.block_layer.sync()
    tab.scene.block_layer.card("layer1.0").setSelected(True)
    assert tab.inspector.title.text() == "Residual bottleneck '0'"
    text = tab.inspector.subtitle.text()
    assert "width=64, stride=1, expansion=4" in text
    assert "64×56×56 → 256×56×56" in text
    assert "75,008 parameters (weights 73,728, biases 0, batch-norm 1,280)" in text
    assert "receptive field 19×19 · 12 nodes" in text


def test_pinned_baseline_follows_block_edits(win, qtbot):
    """Pinned before placing a bottleneck (width 4) after 8 channels: the bar shows +368 weights."""
    from designer.block_commands import place_block_command, set_collapsed_command

    win.set_model(_chain())
    tab = win.current_tab
    bar = tab.totals_bar
    bar.pin()
    doc = tab.doc
    cmd = place_block_command(doc, "bottleneck", {"width": 4}, "proj", 8, (1100.0, 0.0))
    doc.undo_stack.push(cmd)
    # conv1 8→4, conv2 4→4 3×3, conv3 4→16, downsample 8→16: 32 + 144 + 64 + 128 weights
    assert "+368 weights" in bar.diff.text()
    doc.undo_stack.push(set_collapsed_command(doc, cmd.path, False))
    assert "+368 weights" in bar.diff.text()  # expanding changes no number
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert "+0 weights" in bar.diff.text() or "0 weights" in bar.diff.text()


@pytest.mark.parametrize("key", ["resnet50", "googlenet"])
def test_main_window_fit_of_collapsed_network_is_at_least_half_size(win, qtbot, key):
    """In a 1600×1000 main window (docks and all) the template fits at 50 % or more."""
    win.resize(1600, 1000)
    qtbot.waitUntil(lambda: win.view.viewport().width() > 1000)  # the docks are arranged
    qtbot.wait(100)
    win.load_template(key)
    win.view.fit_to_view()
    assert win.view.zoom() >= 0.5, win.view.zoom()


def test_layer_table_shows_the_selected_blocks_totals(win, qtbot):
    """Selecting layer1.0's card selects its rows; under the table: the block's totals."""
    win.set_model(build("resnet50"))
    tab = win.current_tab
    tab.scene.block_layer.sync()
    tab.scene.block_layer.card("layer1.0").setSelected(True)
    assert len(tab.layer_table.selected_nodes()) == 12
    assert tab.layer_table.block_line.isVisibleTo(tab.layer_table)
    assert tab.layer_table.block_line.text() == (
        "Block layer1.0 (Residual bottleneck): 75,008 params · 231 M MACs · "
        "64×56×56 → 256×56×56 · RF 19×19 · 12 nodes"
    )
