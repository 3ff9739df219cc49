"""The panels on their own: palette, inspector, totals bar, layer table, number formats."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from designer.commands import ConnectCommand, SetParamCommand
from designer.document import Document
from engine.formatting import fmt_bytes, fmt_compact, fmt_int, fmt_percent, fmt_rf, fmt_signed
from engine.templates import build
from widgets.inspector import Inspector
from widgets.layer_table import COLUMNS, LayerTable
from widgets.palette import NODE_MIME, Palette
from widgets.totals_bar import TotalsBar


@pytest.fixture
def doc(qtbot):
    d = Document()
    d.replace_model(build("inception3a_reduced"))
    yield d
    d.undo_stack.cleanChanged.disconnect()


@pytest.fixture
def inspector(qtbot, doc):
    w = Inspector(doc)
    qtbot.addWidget(w)
    w.resize(380, 600)
    w.show()
    return w


# --------------------------------------------------------------------------- formatting
def test_number_formats():
    """Counts, compact counts, bytes, signed diffs and percentages read as specified."""
    assert fmt_int(157184) == "157,184"
    assert fmt_compact(1_234_567) == "1.2 M"
    assert fmt_compact(950) == "950"
    assert fmt_bytes(401408) == "392 KiB"
    assert fmt_bytes(3 * 1024 * 1024 + 100_000) == "3.1 MiB"
    assert fmt_bytes(512) == "512 B"
    assert fmt_signed(-229888) == "−229,888"
    assert fmt_percent(-229888, 387072) == "−59.4%"
    assert fmt_rf(((7, 2, -3), (7, 2, -3))) == "size 7×7 · jump 2 · start −3"


# --------------------------------------------------------------------------- palette
def test_palette_groups_node_types_by_category(qtbot):
    """The palette lists every node type under its category, then the block library."""
    p = Palette()
    qtbot.addWidget(p)
    groups = {}
    for i in range(p.tree.topLevelItemCount()):
        g = p.tree.topLevelItem(i)
        groups[g.text(0)] = [g.child(j).text(0) for j in range(g.childCount())]
    assert groups == {
        "Input": ["Input"],
        "Convolution": ["Conv k×k", "1×1 Conv", "Transposed Conv"],
        "Pooling": ["Max Pool", "Avg Pool", "Global Avg Pool", "Adaptive Avg Pool", "Upsample"],
        "Merge": ["Concat", "Add", "Multiply"],
        "Activation": [
            "ReLU",
            "ReLU6",
            "Hardswish",
            "Hardsigmoid",
            "SiLU",
            "Sigmoid",
            "GELU",
            "LeakyReLU",
            "ELU",
            "Mish",
            "Tanh",
            "PReLU",
            "Clamp",
            "Softmax",
        ],  # fmt: skip
        "Other": [
            "BatchNorm",
            "Flatten",
            "Linear",
            "LayerNorm2d",
            "GRN (ConvNeXt)",
            "Channel Slice",
            "Channel Shuffle",
            "Scale & Shift",
            "Pad",
            "Identity",
            "Dropout",
        ],  # fmt: skip
        "Blocks": [
            "Inception (naive)",
            "Inception (1×1 reductions)",
            "Inception (GoogLeNet)",
            "Residual basic block",
            "Residual bottleneck",
            "Inverted residual (MobileNet v2)",
            "Depthwise-separable conv",
            "Squeeze-and-excitation",
            "DenseNet layer",
        ],
    }


def test_palette_filter_keeps_matching_types(qtbot):
    """Typing in the filter box hides every type that does not match."""
    p = Palette()
    qtbot.addWidget(p)
    qtbot.keyClicks(p.filter_edit, "pool")
    assert p.visible_types() == [
        "maxpool",
        "avgpool",
        "global_avgpool",
        "adaptive_avgpool",
        "upsample",  # resampling, in the Pooling group
    ]
    assert p._groups["Merge"].isHidden()


def test_palette_drag_carries_node_type_mime(qtbot):
    """A dragged palette item carries its type name under the canvas's mime type."""
    p = Palette()
    qtbot.addWidget(p)
    mime = p.tree.mimeData([p.item_for("conv1x1")])
    assert bytes(mime.data(NODE_MIME)).decode("utf-8") == "conv1x1"


def test_palette_double_click_emits_type(qtbot):
    """Double-clicking a palette item asks for that node type."""
    p = Palette()
    qtbot.addWidget(p)
    p.show()
    item = p.item_for("maxpool")
    rect = p.tree.visualItemRect(item)
    with qtbot.waitSignal(p.type_activated) as sig:
        # A real double-click: press/release, then the double-click event.
        qtbot.mouseClick(p.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(p.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == ["maxpool"]


# --------------------------------------------------------------------------- inspector
def test_inspector_shows_weight_formula_and_costs(inspector):
    """The 3×3 branch shows its weight formula, bias, MACs, activation and receptive field."""
    inspector.set_node("branch2_3x3")
    assert inspector.readout("shape") == "128×28×28"
    assert inspector.readout("weights") == "3·3·96·128 = 110,592"
    assert inspector.readout("bias") == "0 (bias off)"
    assert inspector.readout("macs") == "110,592·28·28 = 86,704,128 (86.7\u00a0M)"  # one word
    assert inspector.readout("activation") == "128×28×28 · 4 B = 392 KiB"
    assert inspector.readout("rf") == "size 3×3 · jump 1 · start −1"


def test_inspector_typing_coalesces_into_one_undo_step(qtbot, inspector, doc):
    """Typing 256 into out_channels applies live and is one undo step; undo restores 128."""
    inspector.set_node("branch2_3x3")
    spin = inspector.editors["out_channels"].spin
    spin.selectAll()
    qtbot.keyClicks(spin, "256")
    assert doc.model.params("branch2_3x3")["out_channels"] == 256
    assert doc.undo_stack.count() == 1
    assert inspector.readout("weights") == "3·3·96·256 = 221,184"
    doc.undo_stack.undo()
    assert doc.model.params("branch2_3x3")["out_channels"] == 128
    assert spin.value() == 128
    assert inspector.readout("weights") == "3·3·96·128 = 110,592"


def test_inspector_enter_ends_the_undo_step(qtbot, inspector, doc):
    """Typing, Enter, typing again: two undo steps, undone one at a time."""
    inspector.set_node("branch2_3x3")
    spin = inspector.editors["out_channels"].spin
    spin.selectAll()
    qtbot.keyClicks(spin, "200")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    spin.selectAll()
    qtbot.keyClicks(spin, "64")
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert doc.model.params("branch2_3x3")["out_channels"] == 200
    doc.undo_stack.undo()
    assert doc.model.params("branch2_3x3")["out_channels"] == 128


def test_inspector_check_box_clicks_are_separate_steps(qtbot, inspector, doc):
    """Two bias clicks are two undo steps (a click is a whole edit)."""
    inspector.set_node("branch1_1x1")
    box = inspector.editors["bias"].check
    box.click()
    box.click()
    assert doc.undo_stack.count() == 2 and doc.model.params("branch1_1x1")["bias"] is False


def test_inspector_refuses_impossible_value_inline(inspector, doc):
    """'same' padding with stride 2 is shown as an inline error and never pushed."""
    inspector.set_node("branch2_3x3")
    inspector.editors["padding"].same.setChecked(True)
    assert doc.model.params("branch2_3x3")["padding"] == "same"
    count = doc.undo_stack.count()
    inspector.editors["stride"].h.setValue(2)
    assert doc.undo_stack.count() == count
    assert doc.model.params("branch2_3x3")["stride"] == 1
    assert inspector.param_error.isVisible()
    assert 'padding "same" needs stride 1' in inspector.param_error.text()


def test_inspector_pair_editor_unlinked_sets_h_and_w(inspector, doc):
    """Unticking 'square' lets kernel height and width differ: the model gets [h, w]."""
    inspector.set_node("branch3_5x5")
    ed = inspector.editors["kernel_size"]
    ed.square.setChecked(False)
    ed.w.setValue(3)
    assert doc.model.params("branch3_5x5")["kernel_size"] == [5, 3]
    assert inspector.readout("shape") == "32×28×30"


def test_inspector_shows_node_error(inspector, doc):
    """A concat whose inputs disagree on H×W shows the engine's message in the inspector."""
    doc.undo_stack.push(SetParamCommand(doc, "branch4_pool", "padding", 0))
    inspector.set_node("concat")
    assert inspector.node_error.isVisible()
    assert "needs equal H×W" in inspector.node_error.text()
    assert inspector.readout("shape") == "—"


def test_inspector_follows_undo_of_other_edits(inspector, doc):
    """An edit made elsewhere and undone shows in the inspector's editors."""
    inspector.set_node("branch1_1x1")
    doc.undo_stack.push(SetParamCommand(doc, "branch1_1x1", "bias", True))
    assert inspector.editors["bias"].check.isChecked()
    assert inspector.readout("bias") == "64"
    doc.undo_stack.undo()
    assert not inspector.editors["bias"].check.isChecked()


# --------------------------------------------------------------------------- totals bar
def test_totals_bar_shows_sums(qtbot, doc):
    """The totals bar shows params, weights, MACs, peak memory and output receptive field."""
    bar = TotalsBar(doc)
    qtbot.addWidget(bar)
    t = doc.analysis.totals
    assert bar.params.value.text() == "157,184"
    assert bar.weights.value.text() == "157,184"
    assert bar.macs.value.text() == fmt_compact(t.macs)
    assert bar.peak.value.text() == fmt_bytes(t.peak_activation_bytes)
    assert bar.rf.value.text() == "5×5"
    assert bar.errors.isHidden()


def test_totals_bar_baseline_diff_after_pin(qtbot, doc):
    """Pinning the naive block and loading the reduced one shows −229,888 weights (−59.4%)."""
    bar = TotalsBar(doc)
    qtbot.addWidget(bar)
    doc.replace_model(build("inception3a_naive"))
    qtbot.mouseClick(bar.pin_button, Qt.MouseButton.LeftButton)
    assert bar.diff_text() == "±0 weights (±0.0%)"
    doc.replace_model(build("inception3a_reduced"))
    assert bar.weights.value.text() == "157,184"
    assert bar.diff_text() == "−229,888 weights (−59.4%)"
    assert "−229,888 weights (−59.4%)" in bar.diff.text()


def test_totals_bar_counts_errors(qtbot, doc):
    """An error in the graph shows an error count that names the first bad node on click."""
    bar = TotalsBar(doc)
    qtbot.addWidget(bar)
    doc.undo_stack.push(SetParamCommand(doc, "branch4_pool", "padding", 0))
    assert not bar.errors.isHidden()
    assert bar.errors.text() == "⚠ 1 error"
    with qtbot.waitSignal(bar.error_clicked) as sig:
        bar.errors.click()
    assert sig.args == ["concat"]


# --------------------------------------------------------------------------- layer table
def test_layer_table_rows_show_each_node(qtbot, doc):
    """Every node has a row with type, shape, params, MACs, activation, RF and status."""
    t = LayerTable(doc)
    qtbot.addWidget(t)
    assert t.model.rowCount() == len(doc.model)
    assert t.row_texts("branch2_3x3") == [
        "branch2_3x3",
        "Conv k×k",
        "128×28×28",
        "110,592",
        "86.7 M",
        "392 KiB",
        "3×3",
        "ok",
    ]


def test_layer_table_sorts_numerically(qtbot, doc):
    """Sorting by Params is numeric: 110,592 > 18,432 > 12,800 > 12,288 > 3,072 (not text order)."""
    t = LayerTable(doc)
    qtbot.addWidget(t)
    t.view.sortByColumn(COLUMNS.index("Params"), Qt.SortOrder.DescendingOrder)
    assert t.visible_order()[:5] == [
        "branch2_3x3",
        "branch2_reduce",
        "branch3_5x5",
        "branch1_1x1",
        "branch3_reduce",
    ]


def test_layer_table_updates_only_changed_rows(qtbot, doc):
    """A parameter edit refreshes the rows of the nodes the analysis names, not the table."""
    t = LayerTable(doc)
    qtbot.addWidget(t)
    rows = []
    t.model.dataChanged.connect(lambda a, b: rows.extend(range(a.row(), b.row() + 1)))
    doc.undo_stack.push(SetParamCommand(doc, "branch3_5x5", "out_channels", 48))
    changed = {t.model.ids[r] for r in rows}
    assert "branch3_5x5" in changed and "concat" in changed
    assert "branch1_1x1" not in changed
    assert t.row_texts("concat")[2] == "432×28×28"


def test_layer_table_follows_added_and_removed_nodes(qtbot, doc):
    """Adding a node adds a row; undoing removes it."""
    from designer.commands import AddNodeCommand

    t = LayerTable(doc)
    qtbot.addWidget(t)
    n = t.model.rowCount()
    doc.undo_stack.push(AddNodeCommand(doc, "relu", node_id="extra"))
    doc.undo_stack.push(ConnectCommand(doc, "concat", "extra"))
    assert t.model.rowCount() == n + 1
    assert t.row_texts("extra")[2] == "416×28×28"
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert t.model.rowCount() == n and "extra" not in t.model.row_of


def test_layer_table_selection_round_trip(qtbot, doc):
    """Clicking a row reports its node; selecting from outside does not echo back."""
    t = LayerTable(doc)
    qtbot.addWidget(t)
    t.show()
    got = []
    t.nodes_selected.connect(got.append)
    t.select_nodes(["concat"])
    assert got == [] and t.selected_nodes() == ["concat"]
    row = t.model.row_of["branch1_1x1"]
    rect = t.view.visualRect(t.proxy.mapFromSource(t.model.index(row, 0)))
    qtbot.mouseClick(t.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert got[-1] == ["branch1_1x1"]
