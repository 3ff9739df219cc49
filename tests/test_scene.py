"""The scene adapter: items follow the Document (add, remove, params, analysis, reset)."""

from __future__ import annotations

from canvas_helpers import chain_model
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from designer.commands import AddNodeCommand, ConnectCommand, RemoveNodesCommand, SetParamCommand
from designer.document import Document
from designer.edge_item import LABEL_MID, LABEL_NONE, EdgeItem
from designer.node_item import NodeItem
from designer.scene import GraphScene
from designer.theme import Theme
from engine import templates
from engine.core.graph import GraphModel
from engine.nodes import fmt_shape


def _inception() -> tuple[Document, GraphScene]:
    doc = Document(templates.inception3a_reduced())
    return doc, GraphScene(doc)


def test_scene_has_one_item_per_node_and_edge(qtbot):
    """Inception 3a: 13 node items and 15 edge items, keyed like the model."""
    doc, scene = _inception()
    assert list(scene.nodes) == doc.model.nodes
    assert sorted(scene.edges) == sorted(doc.model.edges())
    assert len(scene.nodes) == 13 and len(scene.edges) == 15


def test_node_shows_id_type_params_shape_and_weights(qtbot):
    """branch2_3x3 shows its id, 'Conv k×k 3×3 · 128 · s1 p1', 128×28×28 and 110,592 w."""
    _, scene = _inception()
    assert scene.node_item("branch2_3x3").shown_text.splitlines() == [
        "branch2_3x3",
        "Conv k×k 3×3 · 128 · s1 p1",
        "128×28×28 110,592 w",
    ]


def test_node_item_position_is_model_position(qtbot):
    """Items sit at the model's positions (their top-left corners)."""
    doc, scene = _inception()
    for n in doc.model.nodes:
        p = scene.node_item(n).pos()
        assert (p.x(), p.y()) == doc.model.pos(n)


def test_template_nodes_do_not_overlap(qtbot):
    """No two node bodies of Inception 3a overlap at the template's layout."""
    _, scene = _inception()
    rects = [i.mapRectToScene(i.rect()) for i in scene.nodes.values()]
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert not a.intersects(b)


def test_param_edit_refreshes_only_changed_items(qtbot, monkeypatch):
    """Changing branch2_3x3's channels refreshes it, its ReLU and the concat, nothing else."""
    doc, scene = _inception()
    refreshed = []
    original = NodeItem.set_content
    monkeypatch.setattr(
        NodeItem,
        "set_content",
        lambda self, p, r: (refreshed.append(self.node_id), original(self, p, r)),
    )
    doc.undo_stack.push(SetParamCommand(doc, "branch2_3x3", "out_channels", 64))
    assert sorted(refreshed) == ["branch2_3x3", "branch2_relu", "concat"]
    assert scene.node_item("branch2_3x3").shown_text.splitlines()[1:] == [
        "Conv k×k 3×3 · 64 · s1 p1",
        "64×28×28 55,296 w",
    ]
    assert scene.node_item("concat").shown_text.splitlines()[2] == "352×28×28"
    doc.undo_stack.undo()
    assert scene.node_item("concat").shown_text.splitlines()[2] == "416×28×28"


def test_param_edit_that_keeps_the_result_still_updates_the_summary(qtbot):
    """BatchNorm eps does not change the analysis but the node's summary shows it."""
    m = chain_model()
    m.add_node("batchnorm", {}, "bn", (780, 0))
    m.connect("relu", "bn")
    doc = Document(m)
    scene = GraphScene(doc)
    doc.undo_stack.push(SetParamCommand(doc, "bn", "eps", 0.001))
    assert scene.node_item("bn").shown_text.splitlines()[1] == "BatchNorm eps=0.001"


def test_edge_label_is_source_shape_once_per_fan_out(qtbot):
    """A lone edge carries its shape mid-way; a fan-out shows it once, on its flattest edge."""
    _, scene = _inception()
    lone = scene.edge_item("branch2_3x3", "branch2_relu", 0)
    assert (lone.label, lone.label_mode) == ("128×28×28", LABEL_MID)
    fan = [e for e in scene.edges.values() if e.src_item.node_id == "input"]
    assert len(fan) == 4
    assert {e.label for e in fan} == {"192×28×28"}
    assert sorted(e.label_mode for e in fan) == [LABEL_NONE] * 3 + [LABEL_MID]
    shown = next(e for e in fan if e.label_mode == LABEL_MID)
    assert abs(shown.p1.y() - shown.p0.y()) == min(abs(e.p1.y() - e.p0.y()) for e in fan)


def _resnet_scene(blocks: int) -> tuple[Document, GraphScene]:
    doc = Document(templates.deep_resnet(blocks))
    return doc, GraphScene(doc)


def test_input_size_edit_lays_out_no_edge_label_that_keeps_its_size(qtbot, monkeypatch):
    """32×32 → 40×40 input on a 501-node ResNet: every label reads ×40×40, none is placed
    again (same digit count, same box), so the edit costs no label geometry."""
    doc, scene = _resnet_scene(100)
    placed = []
    original = EdgeItem._place_label
    monkeypatch.setattr(EdgeItem, "_place_label", lambda e: (placed.append(e), original(e)))
    doc.undo_stack.push(SetParamCommand(doc, "input", "height", 40))
    doc.undo_stack.push(SetParamCommand(doc, "input", "width", 40))
    assert {e.label for e in scene.edges.values()} == {"16×40×40"}
    assert len(scene.edges) == 600 and placed == []


def test_edge_label_shorter_after_an_edit_gets_a_narrower_box(qtbot):
    """16×32×32 → 16×8×8: the label's box shrinks to the new text (and back on undo)."""
    doc, scene = _resnet_scene(2)
    e = scene.edge_item("block0_conv1", "block0_relu1", 0)
    wide = e._label_rect.width()
    doc.undo_stack.push(SetParamCommand(doc, "input", "height", 8))
    doc.undo_stack.push(SetParamCommand(doc, "input", "width", 8))
    assert e.label == "16×8×8"
    fm = scene.theme.small_metrics
    assert e._label_rect.width() == fm.horizontalAdvance("16×8×8") + 6 < wide
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert e._label_rect.width() == wide


def test_edge_label_changed_in_place_paints_its_new_text(qtbot):
    """After 32 → 40 (same box) the label drawn is 16×40×40, not the old text."""
    doc, scene = _resnet_scene(2)
    e = scene.edge_item("block0_conv1", "block0_relu1", 0)
    image = QImage(200, 200, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, 200, 200), e.sceneBoundingRect())
    doc.undo_stack.push(SetParamCommand(doc, "input", "height", 40))
    doc.undo_stack.push(SetParamCommand(doc, "input", "width", 40))
    scene.render(painter, QRectF(0, 0, 200, 200), e.sceneBoundingRect())
    painter.end()
    assert e._static.text() == e.label == "16×40×40"


def test_error_node_gets_badge_and_waiting_nodes_are_dimmed(qtbot):
    """A too-large kernel puts conv in error (badge, message on hover); relu waits, dimmed."""
    doc = Document(chain_model())
    scene = GraphScene(doc)
    doc.undo_stack.push(SetParamCommand(doc, "conv", "kernel_size", 11))
    conv, relu = scene.node_item("conv"), scene.node_item("relu")
    message = doc.analysis.nodes["conv"].error
    assert conv.in_error and conv.shown_text.splitlines()[0] == "conv (!)"
    assert f"Error: {message}" in conv.toolTip()
    shown = conv.shown_text.splitlines()[2]
    assert shown.endswith("…")  # the long message is elided on the node, whole on hover
    assert message.removeprefix("conv 'conv' ").startswith(shown[:-1])
    assert len(shown) > 60
    assert relu.waiting and relu.opacity() == 0.45
    assert relu.shown_text.splitlines()[2] == "waiting on 'conv'"
    assert scene.node_item("input").opacity() == 1.0
    doc.undo_stack.undo()
    assert not conv.in_error and relu.opacity() == 1.0
    assert conv.shown_text.splitlines()[2] == "4×8×8 108 w"


def test_wires_into_a_node_are_repainted_when_it_goes_into_error_and_back(qtbot, monkeypatch):
    """Kernel 11 puts conv in error: its input wire and the wire into relu (now waiting)
    are repainted dashed; undo repaints them solid; a fine edit repaints neither."""
    doc = Document(chain_model())
    scene = GraphScene(doc)
    repainted = []
    monkeypatch.setattr(EdgeItem, "update", lambda e, *a: repainted.append(e.key))
    doc.undo_stack.push(SetParamCommand(doc, "conv", "kernel_size", 11))
    assert scene.node_item("conv").in_error and scene.node_item("relu").waiting
    assert sorted(set(repainted)) == [("conv", "relu", 0), ("input", "conv", 0)]
    repainted.clear()
    doc.undo_stack.undo()
    assert sorted(set(repainted)) == [("conv", "relu", 0), ("input", "conv", 0)]
    repainted.clear()
    doc.undo_stack.push(SetParamCommand(doc, "conv", "out_channels", 8))
    assert ("input", "conv", 0) not in repainted


def test_multi_input_node_grows_a_slot_per_connection(qtbot):
    """A concat shows connected slots in port order plus one free slot."""
    m = chain_model()
    m.add_node("concat", {}, "cat", (780, 0))
    doc = Document(m)
    scene = GraphScene(doc)
    cat = scene.node_item("cat")
    assert cat.slot_count() == 1
    doc.undo_stack.push(ConnectCommand(doc, "relu", "cat"))
    doc.undo_stack.push(ConnectCommand(doc, "conv", "cat"))
    assert cat.slot_count() == 3
    e0, e1 = scene.edge_item("relu", "cat", 0), scene.edge_item("conv", "cat", 1)
    assert e0.p1.y() < e1.p1.y()
    assert e1.p1 == cat.mapToScene(cat.slot_pos(1))
    assert cat.shown_text.splitlines()[2] == "8×8×8"
    doc.undo_stack.undo()
    assert cat.slot_count() == 2 and scene.edge_item("conv", "cat", 1) is None


def test_remove_and_undo_restore_items_and_edges(qtbot):
    """Deleting a node removes its item and edges; undo brings back both, same text."""
    doc, scene = _inception()
    text = scene.node_item("concat").shown_text
    doc.undo_stack.push(RemoveNodesCommand(doc, ["branch2_reduce", "branch2_3x3"]))
    assert scene.node_item("branch2_3x3") is None
    assert ("branch2_reduce", "branch2_reduce_relu", 0) not in scene.edges
    assert (
        scene.node_item("branch2_reduce_relu").shown_text.splitlines()[2]
        == "has no input; connect a node to it"
    )
    assert scene.node_item("concat").shown_text.splitlines()[2].startswith("waiting on")
    doc.undo_stack.undo()
    assert sorted(scene.edges) == sorted(doc.model.edges())
    assert scene.node_item("concat").shown_text == text


def test_nodes_without_positions_get_layout_positions_without_undo(qtbot):
    """Opening a graph without positions lays it out; no undo entry is made."""
    m = GraphModel()
    m.add_node("input", {}, "a")
    m.add_node("relu", {}, "b")
    m.connect("a", "b")
    doc = Document(m)
    scene = GraphScene(doc)
    assert doc.model.pos("a") == (0.0, 0.0) and doc.model.pos("b") == (260.0, 0.0)
    assert doc.undo_stack.count() == 0
    assert scene.node_item("b").pos() == QPointF(260, 0)


def test_replace_model_rebuilds_items_and_lays_out(qtbot):
    """Document.replace_model (open/new) rebuilds every item from the new model."""
    doc = Document(chain_model())
    scene = GraphScene(doc)
    other = GraphModel()
    other.add_node("input", {"channels": 1, "height": 4, "width": 4}, "x")
    doc.replace_model(other)
    assert list(scene.nodes) == ["x"] and scene.edges == {}
    assert scene.node_item("x").shown_text.splitlines()[2] == "1×4×4"
    assert doc.model.pos("x") == (0.0, 0.0)


def test_replace_model_never_reports_a_selection_of_old_nodes(qtbot):
    """Opening another design with nodes selected reports only an empty selection."""
    doc = Document(chain_model())
    scene = GraphScene(doc)
    scene.select_nodes(["conv", "relu"])
    got = []
    scene.selection_changed_nodes.connect(got.append)
    doc.replace_model(templates.inception3a_reduced())
    assert got == [[]]


def test_node_added_without_position_is_placed_beside_the_others(qtbot):
    """A node added with no position gets a free spot right of the existing nodes."""
    doc = Document(chain_model())
    scene = GraphScene(doc)
    doc.undo_stack.push(AddNodeCommand(doc, "relu", None, None, "r2"))
    r = scene.node_item("r2").sceneBoundingRect()
    assert all(
        not r.intersects(scene.node_item(n).sceneBoundingRect()) for n in ("input", "conv", "relu")
    )


def test_select_nodes_emits_once_with_ids(qtbot):
    """select_nodes selects exactly the given nodes and emits one signal."""
    doc, scene = _inception()
    got = []
    scene.selection_changed_nodes.connect(got.append)
    scene.select_nodes(["concat", "input", "nope"])
    assert got == [["input", "concat"]]
    assert scene.selected_nodes() == ["input", "concat"]


def test_tint_colours_nodes_and_none_restores(qtbot):
    """set_node_tint colours the given nodes and sets the legend; None clears both."""
    doc, scene = _inception()
    red = QColor("#ff0000")
    scene.set_node_tint({"branch1_relu": red}, "sparsity")
    assert scene.node_item("branch1_relu").tint == red
    assert scene.node_item("concat").tint is None
    assert scene.tint_legend == "sparsity"
    scene.set_node_tint(None)
    assert scene.node_item("branch1_relu").tint is None and scene.tint_legend == ""


def test_items_bounding_rect_holds_every_node(qtbot):
    """items_bounding_rect contains every node body and is empty for an empty graph."""
    doc, scene = _inception()
    rect = scene.items_bounding_rect()
    assert all(rect.contains(i.sceneBoundingRect()) for i in scene.nodes.values())
    assert GraphScene(Document()).items_bounding_rect().isNull()


def test_dark_palette_gives_light_text(qtbot):
    """A dark window colour makes a dark canvas with light node text."""
    from PySide6.QtGui import QFont, QPalette

    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Window, QColor("#202020"))
    dark = Theme(pal, QFont())
    pal.setColor(QPalette.ColorRole.Window, QColor("#f0f0f0"))
    light = Theme(pal, QFont())
    assert dark.dark and not light.dark
    assert dark.text.lightness() > 200 and light.text.lightness() < 60
    assert dark.canvas.lightness() < 50 and light.canvas.lightness() > 200


def test_application_palette_change_rethemes_the_canvas(qtbot):
    """Switching the application to a dark palette re-themes scene, nodes and edges."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from designer.view import GraphView

    app = QApplication.instance()
    old = app.palette()
    doc, scene = _inception()
    view = GraphView(scene)
    qtbot.addWidget(view)
    assert not scene.theme.dark
    try:
        pal = QPalette(old)
        pal.setColor(QPalette.ColorRole.Window, QColor("#202020"))
        app.setPalette(pal)
        QApplication.processEvents()
        assert scene.theme.dark
        assert scene.node_item("concat").theme is scene.theme
        assert scene.edge_item("input", "branch1_1x1", 0).theme is scene.theme
    finally:
        app.setPalette(old)
        QApplication.processEvents()
    assert not scene.theme.dark


def test_inception_texts_labels_and_edges_are_clear(qtbot):
    """Inception 3a: no elided text, no edge label on a node, no edge behind another node."""
    _, scene = _inception()
    bodies = {n: i.mapRectToScene(i.rect()) for n, i in scene.nodes.items()}
    assert not [n for n, i in scene.nodes.items() if "…" in i.shown_text]
    for (u, v, _), e in scene.edges.items():
        label = e._label_rect
        assert label.isNull() or not any(label.intersects(b) for b in bodies.values())
        others = [b.adjusted(2, 2, -2, -2) for n, b in bodies.items() if n not in (u, v)]
        points = [e.path().pointAtPercent(i / 50) for i in range(1, 50)]
        assert not any(b.contains(p) for b in others for p in points), (u, v)


def test_long_ids_keep_start_and_end(qtbot):
    """A long id is elided in the middle on the node and shown whole in the tooltip."""
    m = GraphModel()
    long_id = "inception4e_branch2_reduce_relu_extra_long"
    m.add_node("input", {}, long_id, (0, 0))
    scene = GraphScene(Document(m))
    title = scene.node_item(long_id).shown_text.splitlines()[0]
    assert title.startswith("incep") and title.endswith("long") and "…" in title
    assert scene.node_item(long_id).toolTip().startswith(long_id)


def _assert_mirrors(doc: Document, scene: GraphScene) -> None:
    model, results = doc.model, doc.analysis.nodes
    assert list(scene.nodes) == model.nodes or set(scene.nodes) == set(model.nodes)
    assert set(scene.edges) == set(model.edges())
    for n, item in scene.nodes.items():
        assert item.params == model.params(n)
        r = results[n]  # recomputed results equal to the old ones are not re-sent
        assert item.result.same_output(r) and (item.result.weights, item.result.macs) == (
            r.weights,
            r.macs,
        )
        assert item.ports == [k for k, _ in model.ports(n)]
        pos = model.pos(n)
        assert pos is None or (item.pos().x(), item.pos().y()) == pos
    for (u, v, k), e in scene.edges.items():
        assert e.p0 == scene.node_item(u).output_anchor()
        assert e.p1 == scene.node_item(v).input_anchor(k)
        r = results[u]
        assert e.label == (fmt_shape(r.shape) if r.shape is not None else "")


def test_random_edits_with_undo_redo_keep_items_mirroring_the_model(qtbot):
    """Random commands, undos and redos: items, ports, edges and results follow the model."""
    import random

    from designer.commands import DisconnectCommand, MoveNodesCommand, PasteCommand, copy_to_text
    from engine.core.errors import EngineError
    from engine.core.fileformat import loads

    rng = random.Random(7)
    doc, scene = _inception()
    m = doc.model
    original = ([(n, m.node_type(n), m.params(n), m.pos(n)) for n in m.nodes], set(m.edges()))
    stack = doc.undo_stack
    types = ["relu", "concat", "add", "conv1x1", "maxpool"]
    params = {"conv1x1": {"out_channels": 8}, "maxpool": {"kernel_size": 2}}
    for _step in range(160):
        nodes = doc.model.nodes
        op = rng.choice(
            [
                "add",
                "remove",
                "connect",
                "disconnect",
                "param",
                "paste",
                "move",
                "undo",
                "undo",
                "redo",
            ]
        )
        try:
            if op == "add":
                t = rng.choice(types)
                stack.push(
                    AddNodeCommand(
                        doc, t, params.get(t), (rng.uniform(0, 1500), rng.uniform(0, 700))
                    )
                )
            elif op == "remove" and nodes:
                stack.push(RemoveNodesCommand(doc, rng.sample(nodes, min(2, len(nodes)))))
            elif op == "connect" and nodes:
                stack.push(ConnectCommand(doc, rng.choice(nodes), rng.choice(nodes)))
            elif op == "disconnect" and doc.model.edges():
                _, v, k = rng.choice(doc.model.edges())
                stack.push(DisconnectCommand(doc, v, k))
            elif op == "param":
                convs = [n for n in nodes if doc.model.node_type(n) in ("conv", "conv1x1")]
                if convs:
                    stack.push(
                        SetParamCommand(
                            doc, rng.choice(convs), "out_channels", rng.choice([4, 16, 64])
                        )
                    )
            elif op == "paste" and nodes:
                part = loads(copy_to_text(doc, rng.sample(nodes, min(3, len(nodes)))))
                stack.push(PasteCommand(doc, part, (30, 30)))
            elif op == "move" and nodes:
                n = rng.choice(nodes)
                old = doc.model.pos(n) or (0.0, 0.0)
                stack.push(MoveNodesCommand(doc, {n: old}, {n: (old[0] + 50, old[1] - 20)}))
            elif op == "undo":
                stack.undo()
            elif op == "redo":
                stack.redo()
        except EngineError:
            pass  # refused before it was pushed: nothing changed
        _assert_mirrors(doc, scene)
    while stack.canUndo():
        stack.undo()
    _assert_mirrors(doc, scene)
    assert len(scene.nodes) == 13 and len(scene.edges) == 15
    # Undoing everything gives the template back (edge insertion order aside).
    assert (
        [(n, m.node_type(n), m.params(n), m.pos(n)) for n in m.nodes],
        set(m.edges()),
    ) == original


def test_port_tooltips_say_what_they_carry(qtbot):
    """Ports explain themselves: output shape, input source and shape, free slot."""
    _, scene = _inception()
    cat = scene.node_item("concat")
    assert cat.port_tip(("in", 1)).startswith("Input 1 from 'branch2_relu': 128×28×28")
    assert cat.port_tip(("in", 4)).startswith("Free input")
    assert (
        scene.node_item("input").port_tip(("out", None)).startswith("Output of 'input': 192×28×28")
    )
    assert (
        scene.node_item("branch2_relu")
        .port_tip(("in", 0))
        .startswith("Input from 'branch2_3x3': 128×28×28")
    )


def test_zoomed_out_label_at_30_percent_is_readable_and_fits_the_node(qtbot):
    """At 30 % a node's label is non-empty, ≥ 9 px and inside the node's on-screen rect."""
    from PySide6.QtCore import QRectF

    doc = Document(templates.googlenet())
    scene = GraphScene(doc)
    item = scene.node_item("inception4a_branch2_1_conv")
    label = item.zoomed_label(0.3)
    assert label.lines == ["3×3 conv"]
    assert label.font.pixelSize() >= 9
    fm = scene.theme.label_font(label.font.pixelSize())[1]
    on_screen = QRectF(0, 0, item.rect().width() * 0.3, item.rect().height() * 0.3)
    for line, rect in zip(label.lines, label.rects):
        assert fm.horizontalAdvance(line) <= on_screen.width() - 6
        assert on_screen.contains(rect)


def test_zoomed_out_label_shortens_to_the_width_and_shows_the_shape_where_room(qtbot):
    """Narrow: the short form ("cat 480"); taller: label over shape; tiny: a plain block."""
    doc = Document(templates.googlenet())
    scene = GraphScene(doc)
    cat = scene.node_item("inception3a_concat")
    conv = scene.node_item("inception4a_branch2_1_conv")
    assert cat.zoomed_label(0.2).lines == ["cat", "256"]
    assert cat.zoomed_label(0.3).lines == ["concat", "256×28²"]
    assert conv.zoomed_label(0.5).lines == ["3×3 conv", "208×14×14"]
    assert conv.zoomed_label(0.15) is None  # 8 px tall: no line fits


def test_zoomed_out_label_shows_error_and_waiting_and_is_painted(qtbot):
    """An error reads "error", a node behind it "waiting"; painting at 40 % uses the label."""
    from designer.view import GraphView

    doc = Document(chain_model())
    scene = GraphScene(doc)
    doc.undo_stack.push(SetParamCommand(doc, "conv", "kernel_size", 11))
    conv, relu, inp = (scene.node_item(n) for n in ("conv", "relu", "input"))
    assert conv.zoomed_label(0.3).lines == ["11×11", "error"]  # taller: its message
    assert relu.zoomed_label(0.5).lines == ["ReLU", "waiting"]
    assert inp.zoomed_label(0.5).lines == ["input", "3×8×8"]
    conv._compact = {}
    view = GraphView(scene)
    qtbot.addWidget(view)
    view.resize(400, 200)
    view.show()
    qtbot.waitExposed(view)
    view.scale(0.4, 0.4)
    view.centerOn(conv)
    view.viewport().grab()
    assert list(conv._compact) == [(294, int(conv.rect().height() * 0.4 * 4))]
