"""A newcomer's second round (issue 20, point 11): chains wrap, opened blocks stay in one
row with readable titles, and a concat's inputs are laid out in port order."""

from __future__ import annotations

from canvas_helpers import Canvas
from PySide6.QtCore import QPoint

from engine.core.graph import GraphModel
from engine.core.layout import layered_layout
from engine.templates import build


def shuffled_inception() -> GraphModel:
    """input → four 2-node branches added a, b, c, d, wired to the concat's ports as d, b, c, a."""
    m = GraphModel("hand-built")
    m.add_node("input", {"channels": 8, "height": 8, "width": 8}, "x", (0, 0))
    for i, b in enumerate("abcd"):
        m.add_node("conv1x1", {"out_channels": 4}, b, (260, 150 * i))
        m.add_node("relu", {}, b + "2", (520, 150 * i))
        m.connect("x", b)
        m.connect(b, b + "2")
    m.add_node("concat", {}, "cat", (780, 0))
    for port, b in enumerate("dbca"):
        m.connect(b + "2", "cat", port)
    return m


def test_layout_stacks_a_concats_inputs_in_port_order():
    """The branch feeding port 0 of a concat is laid out on top, port 3 at the bottom."""
    pos = layered_layout(shuffled_inception())
    ys = [pos[b + "2"][1] for b in "dbca"]
    assert ys == sorted(ys) and len(set(ys)) == 4


def test_auto_layout_puts_a_hand_built_concats_inputs_in_port_order(qtbot):
    """Layout → Auto-layout on a hand-built Inception: the wires into the concat do not
    cross (sources top to bottom in port order); one undo puts every node back."""
    c = Canvas(qtbot, shuffled_inception())
    before = {n: c.model.pos(n) for n in c.model.nodes}
    c.actions.layout_all()
    ys = [c.item(b + "2").input_anchor(0).y() for b in "dbca"]
    ends = [c.item("cat").input_anchor(p).y() for p in range(4)]
    assert ys == sorted(ys) and ends == sorted(ends)
    c.doc.undo_stack.undo()
    assert {n: c.model.pos(n) for n in c.model.nodes} == before


def chain_of_19() -> GraphModel:
    """The Tiny CNN's 19 nodes in one row, as its old layout put them."""
    m = build("tiny_cnn")
    assert len(m) == 19
    m.set_positions(layered_layout(m))
    return m


def test_auto_layout_wraps_a_19_node_chain_so_fit_shows_all_of_it(qtbot):
    """Auto-layout on a 19-node chain in a 1000×600 canvas: rows, and Fit then shows every
    node at a readable zoom (it was one row: 35 % with 7 nodes off-screen)."""
    c = Canvas(qtbot, chain_of_19())
    c.actions.layout_all()
    rows = {round(c.model.pos(n)[1]) for n in c.model.nodes}
    assert len(rows) >= 3
    c.view.fit_to_view()
    seen = c.view.mapToScene(c.view.viewport().rect()).boundingRect()
    assert c.view.zoom() >= 0.5
    for n in c.model.nodes:
        assert seen.contains(c.item(n).sceneBoundingRect()), n


def test_a_chain_template_opens_wrapped_to_the_canvas(win):
    """Templates → Tiny CNN opens in rows fitted to the canvas' shape, not in one row."""
    from engine.blocks.layout import block_layout

    assert win.load_template("tiny_cnn")
    model = win.doc.model
    nodes, _ = block_layout(model, win.scene.block_layer.view_aspect())
    assert {n: model.pos(n) for n in model.nodes} == nodes
    assert len({round(y) for _, y in nodes.values()}) >= 3


def expanded_resnet50(qtbot) -> Canvas:
    """ResNet-50 in a 1000×600 canvas with layer2.0 expanded by its gesture."""
    from designer.block_commands import set_collapsed_command

    c = Canvas(qtbot, build("resnet50"))
    aspect = c.scene.block_layer.view_aspect()
    c.doc.undo_stack.push(set_collapsed_command(c.doc, "layer2.0", False, aspect))
    return c


def test_an_expanded_block_stays_in_one_row(qtbot):
    """Expanding layer2.0 of ResNet-50: its frame is one piece (its 12 nodes are side by
    side, its wires short), not cut across two rows."""
    from engine.blocks import members

    c = expanded_resnet50(qtbot)
    frame = c.scene.block_layer.frames["layer2.0"]
    assert len(frame.rects) == 1
    xs = sorted(c.model.pos(n)[0] for n in members(c.model, "layer2.0"))
    assert len(xs) == 12 and xs[-1] - xs[0] == 9 * 260


def test_an_expanded_blocks_title_reads_when_zoomed_out(qtbot):
    """At 42 % (the whole of ResNet-50 with a block open) a frame's title is drawn at
    least 12 px high on screen (it was the node titles' size: 5 px)."""
    from PySide6.QtGui import QFontInfo

    c = expanded_resnet50(qtbot)
    frame = c.scene.block_layer.frames["layer2.0"]
    assert QFontInfo(frame.title_font(0.42)).pixelSize() * 0.42 >= 11.5
    assert (
        QFontInfo(frame.title_font(1.0)).pixelSize()
        == QFontInfo(c.scene.theme.title_font).pixelSize()
    )


def test_tabs_opened_under_a_resting_mouse_stay_fitted(win, qtbot):
    """The mouse resting on the canvas, Compare opens two tabs: each, when shown, shows
    its whole design centred (Qt re-centred a shown view on the mouse instead)."""
    from designer.view import nodes_rect

    win.resize(1600, 1000)
    win.inside_host.ensure_panel()
    qtbot.wait(50)
    qtbot.mouseMove(win.view.viewport(), win.view.viewport().rect().center() + QPoint(90, 60))
    before = set(win.tabs_list())
    win.open_comparison("inception")
    qtbot.wait(50)
    opened = [t for t in win.tabs_list() if t not in before]
    for tab in opened * 2:  # shown, then shown again
        win.design_tabs.setCurrentWidget(tab)
        qtbot.wait(50)
        rect, seen = nodes_rect(tab.scene), tab.view.visible_area(0)
        assert seen.contains(rect), tab.display_name()
        assert abs(seen.center().x() - rect.center().x()) < 0.1 * seen.width(), tab.display_name()


def test_a_wire_into_the_next_row_runs_along_the_gap(qtbot):
    """A wrapped chain's row-to-row wires leave the row's end, run back level along the
    gap between the rows, and enter the next row's start (not a diagonal across both)."""
    c = Canvas(qtbot, chain_of_19())
    c.actions.layout_all()
    wraps = [e for e in c.scene.edges.values() if e.p1.x() < e.p0.x()]
    assert len(wraps) >= 2
    for edge in wraps:
        src, dst = edge.src_item.sceneBoundingRect(), edge.dst_item.sceneBoundingRect()
        ys = {round(edge.path().pointAtPercent(t / 10).y()) for t in range(3, 8)}
        assert len(ys) == 1 and src.bottom() < ys.pop() < dst.top()


def test_cards_keep_their_whole_shape_when_a_block_is_open(qtbot):
    """ResNet-50 with layer2.0 opened, zoomed out to 30 %: every collapsed card still shows
    its whole output shape, a square map as C×H² ("1024×14²") when C×H×W does not fit."""
    c = expanded_resnet50(qtbot)
    cards = c.scene.block_layer.cards
    assert len(cards) >= 15
    for card in cards.values():
        _px, (_title, shape) = card.compact_texts(0.30)
        assert "…" not in shape, shape
    assert cards["layer3.0"].compact_texts(0.30)[1][1] == "1024×14²"


def test_choosing_a_hidden_node_in_the_layer_table_opens_its_block(win, qtbot):
    """ResNet-50 (blocks collapsed): choosing layer1_0_relu in the Layers table opens
    layer1.0 (one undo step), selects the node on the canvas and shows it in the inspector;
    it selected nothing before. Undo closes the block again."""
    assert win.load_template("resnet50")
    tab = win.current_tab
    assert tab.scene.node_item("layer1_0_relu").isVisible() is False
    steps = win.doc.undo_stack.count()
    tab.layer_table.nodes_selected.emit(["layer1_0_relu"])
    qtbot.wait(20)
    assert tab.scene.selected_nodes() == ["layer1_0_relu"]
    assert tab.scene.node_item("layer1_0_relu").isVisible()
    assert tab.inspector.node == "layer1_0_relu"
    assert win.doc.undo_stack.count() == steps + 1
    win.doc.undo_stack.undo()
    qtbot.wait(20)
    assert "layer1.0" in tab.scene.block_layer.cards


def test_clicking_a_hidden_nodes_sparsity_point_opens_its_block(win, qtbot):
    """ResNet-50: a click on layer1_0_relu's point in "sparsity by depth" opens layer1.0
    and selects the node on the canvas."""
    assert win.load_template("resnet50")
    panel = win.inside_host.ensure_panel()
    panel.sparsity.click_node("layer1_0_relu")
    qtbot.wait(20)
    assert win.scene.selected_nodes() == ["layer1_0_relu"]
    assert win.scene.node_item("layer1_0_relu").isVisible()


def test_an_opened_module_keeps_its_nested_frames_apart(qtbot):
    """GoogLeNet with inception4a and every block inside it opened: no two sibling frames
    overlap (branch1's frame ran into branch2's, their titles squeezed between them)."""
    from designer.block_commands import set_collapsed_command
    from engine.blocks.hierarchy import is_under, records

    c = Canvas(qtbot, build("googlenet"))
    aspect = c.scene.block_layer.view_aspect()
    for path, rec in list(records(c.model).items()):
        if is_under(path, "inception4a") and rec.get("collapsed"):
            c.doc.undo_stack.push(set_collapsed_command(c.doc, path, False, aspect))
    layer = c.scene.block_layer
    layer.sync()
    frames = layer.frames
    assert len(frames) == 10
    paths = sorted(frames)
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            if is_under(a, b) or is_under(b, a):
                continue
            for ra in frames[a].rects:
                assert not any(ra.intersects(rb) for rb in frames[b].rects), (a, b)


def test_the_first_steps_card_leaves_the_input_in_sight(qtbot):
    """A new design in a short canvas (1366×768's 860×300): the first-steps card sits
    where it does not cover the input node (it hid it, at the top centre)."""
    m = GraphModel("Untitled")
    m.add_node("input", {"channels": 3, "height": 224, "width": 224}, "input", (0, 0))
    c = Canvas(qtbot, m)
    c.view.resize(860, 300)
    qtbot.wait(20)
    c.view.fit_to_view()
    card = c.view.first_steps
    card.refresh()
    assert card.isVisible()
    node = c.view.mapFromScene(c.item("input").sceneBoundingRect()).boundingRect()
    node.translate(c.view.viewport().geometry().topLeft())
    assert not card.geometry().intersects(node)
    assert c.view.viewport().geometry().contains(card.geometry())
