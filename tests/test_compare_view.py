"""The compare view: table, live updates, bar charts, pinned baseline, teaching comparisons, export."""

from __future__ import annotations

from designer.commands import SetParamCommand
from engine.analysis.compare import compare
from engine.analysis.compare_text import markdown
from engine.templates import build


def cell(view, row_label: str, col: int) -> str:
    """The text of the table cell in the row ``row_label``, column ``col``."""
    t = view.table
    for r in range(t.rowCount()):
        if t.item(r, 0).text() == row_label:
            return t.item(r, col).text()
    raise KeyError(row_label)


def test_inception_comparison_one_click(win):
    """Templates → Compare → Inception opens the three blocks and shows the exact deltas."""
    win.comparison_actions["inception"].trigger()
    view = win.compare_view
    assert [e.name for e in view.entries] == [
        "Inception 3a (naive)",
        "Inception 3a (1×1 reductions)",
        "Inception 3a (GoogLeNet)",
    ]
    assert win.design_tabs.count() == 3  # the unmodified start design was reused
    assert [cell(view, "weights", c) for c in (1, 2, 3)] == [
        "387,072",
        "157,184",
        "\u2212229,888 (\u221259.4%)",
    ]
    assert view.table.horizontalHeaderItem(1).text() == "Inception 3a (naive) (baseline)"


def test_resnet_comparison_numbers(win):
    """ResNet basic 64 / basic 256 / bottleneck: 73,728, 1,179,648 and 69,632 weights."""
    view = win.open_comparison("resnet")
    assert [cell(view, "weights", c) for c in (1, 2, 4)] == ["73,728", "1,179,648", "69,632"]
    assert view.comparison.breakdown.kind == "layers"


def test_table_updates_live(win):
    """Editing a compared design redraws the table at once, with the new delta."""
    view = win.open_comparison("inception")
    reduced = next(e.tab for e in view.entries if e.name == "Inception 3a (1×1 reductions)")
    doc = reduced.doc
    doc.undo_stack.push(SetParamCommand(doc, "branch2_3x3", "out_channels", 64))
    fewer = 157_184 - 96 * 9 * 64
    assert cell(view, "weights", 2) == f"{fewer:,}"
    assert cell(view, "weights", 3) == f"\u2212{387_072 - fewer:,} (\u221273.7%)"
    assert cell(view, "output shape", 2) == "352×28×28"


def test_bars_show_the_breakdown(win):
    """The params chart has one bar set per design with the per-branch weights."""
    view = win.open_comparison("inception")
    items = view.plots["params"].getPlotItem().items
    widths = [list(item.opts["width"]) for item in items]
    assert widths[0] == [0, 12_288, 221_184, 153_600, 0, 0]
    assert widths[1] == [0, 12_288, 129_024, 15_872, 0, 0]
    ticks = view.plots["params"].getPlotItem().getAxis("left")._tickLevels[0]
    assert [t[1] for t in ticks] == ["stem", "branch1", "branch2", "branch3", "branch4", "head"]


def test_pinned_baseline(win):
    """One design and its pinned baseline: the pinned copy is the baseline."""
    win.set_model(build("resnet_basic_256"))
    win.totals_bar.pin()
    win.set_model(build("resnet_bottleneck"))
    view = win.show_compare()
    assert [e.name for e in view.entries] == [
        "ResNet basic block (256 channels) (pinned)",
        "ResNet bottleneck block",
    ]
    assert cell(view, "weights", 3) == "\u22121,110,016 (\u221294.1%)"


def test_slots_choose_designs(win):
    """Choosing "(none)" in a slot drops that design from the comparison."""
    view = win.open_comparison("resnet")
    view.slots[2].setCurrentIndex(0)
    view.slots[2].activated.emit(0)
    assert [e.name for e in view.entries] == [
        "ResNet basic block (64 channels)",
        "ResNet basic block (256 channels)",
    ]
    assert view.table.columnCount() == 4


def test_closed_tab_leaves_the_comparison(win):
    """Closing a compared tab removes it from the view without errors."""
    view = win.open_comparison("resnet")
    tab = view.entries[1].tab
    assert win.close_tab(tab)
    assert [e.name for e in view.entries] == [
        "ResNet basic block (64 channels)",
        "ResNet bottleneck block",
    ]


def test_export_markdown_and_png(win, tmp_path):
    """Markdown equals the engine's table; the PNG is a real picture of the view."""
    from PySide6.QtGui import QImage

    view = win.open_comparison("inception")
    md = view.save_markdown(tmp_path / "cmp.md")
    models = [
        build(k) for k in ("inception3a_naive", "inception3a_reduced", "inception3a_googlenet")
    ]
    files = [e.file for e in view.entries]
    expected = markdown(compare(models, [m.name for m in models], files))
    assert md.read_text(encoding="utf-8") == expected
    assert "| weights | 387,072 | 157,184 | \u2212229,888 (\u221259.4%) |" in expected
    png = view.save_png(tmp_path / "cmp.png")
    image = QImage(str(png))
    assert image.width() > 600 and image.height() > 300
    assert not (tmp_path / "cmp.png.part").exists()


def fake_run(sparsity: list[float]):
    """A feature result with one ReLU per depth 1.. and the given sparsity."""
    from types import SimpleNamespace

    from engine.runtime.feature_types import NodeStats

    names = [f"relu{i}" for i in range(len(sparsity))]
    stats = {n: NodeStats(s, s, 0.0, 1.0, 1.0, 0.0, (0,)) for n, s in zip(names, sparsity)}
    return SimpleNamespace(
        order=names,
        types=dict.fromkeys(names, "relu"),
        depth={n: i + 1 for i, n in enumerate(names)},
        stats=stats,
    )


def test_trained_on_same_data_shows_accuracy_and_sparsity(win):
    """Two designs trained on the same data: accuracies listed, sparsity by depth overlaid."""
    view = win.open_comparison("resnet")
    tabs = [e.tab for e in view.entries]
    for tab, acc, sp in ((tabs[0], "0.912", [0.1, 0.5]), (tabs[2], "0.874", [0.2, 0.4, 0.6])):
        tab.doc.weights.kind = "trained"
        tab.doc.weights.meta = {"data": "shapes", "accuracy": acc}
        tab.inside_host.ensure_panel().result = fake_run(sp)
    view.update_view()
    assert not view.run_box.isHidden()
    text = view.accuracy.text()
    assert "Trained on shapes" in text
    assert "ResNet basic block (64 channels): 91.2%" in text
    assert "ResNet bottleneck block: 87.4%" in text
    assert "Not trained on the same data: ResNet basic block (256 channels)" in text
    curves = view.sparsity.getPlotItem().listDataItems()
    assert [list(c.yData) for c in curves] == [[10.0, 50.0], [20.0, 40.0, 60.0]]


def test_untrained_designs_hide_the_run_section(win):
    """Without training or feature runs the section stays hidden."""
    view = win.open_comparison("inception")
    assert view.run_box.isHidden()


def test_repin_updates_the_baseline(win):
    """Pinning again replaces the pinned baseline in the open view; unpinning drops it."""
    win.set_model(build("resnet_basic_256"))
    win.totals_bar.pin()
    win.set_model(build("resnet_bottleneck"))
    view = win.show_compare()
    win.totals_bar.pin()  # the bottleneck itself is now the baseline
    assert view.entries[0].name == "ResNet bottleneck block (pinned)"
    assert cell(view, "weights", 3) == "\u00b10"
    win.totals_bar.unpin()
    assert [e.name for e in view.entries] == ["ResNet bottleneck block"]


def _text_room(box) -> int:
    """Pixels the style gives a combo box's text."""
    from PySide6.QtWidgets import QStyle, QStyleOptionComboBox

    opt = QStyleOptionComboBox()
    box.initStyleOption(opt)
    rect = box.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, box
    )
    return rect.width()


def test_design_combos_show_whole_names_in_a_laptop_wide_view(win, qtbot):
    """Inception comparison 1300 px wide (a 1366×768 screen): every design name fits whole."""
    view = win.open_comparison("inception")
    view.resize(1300, 728)
    qtbot.wait(50)
    names = [box.currentText() for box in view.slots]
    assert names[:3] == [
        "2. Inception 3a (naive)",
        "1. Inception 3a (1×1 reductions)",
        "3. Inception 3a (GoogLeNet)",
    ]
    for box in view.slots:
        assert box.fontMetrics().horizontalAdvance(box.currentText()) <= _text_room(box)


def test_design_combos_elide_long_names_in_the_middle_with_the_full_name_as_tip(win, qtbot):
    """A narrow view elides '1. Inception 3a (1×1 reductions)' in its middle; tips are whole."""
    from PySide6.QtCore import QEvent, QPoint, Qt
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    view = win.open_comparison("inception")
    view.resize(760, 600)
    qtbot.wait(50)
    box = view.slots[1]
    full = "1. Inception 3a (1×1 reductions)"
    assert box.currentText() == full
    assert box.fontMetrics().horizontalAdvance(full) > _text_room(box)  # it must be elided
    shown = box.shown_text()
    assert "…" in shown and shown.startswith("1. In") and shown.endswith("ns)")
    assert box.fontMetrics().horizontalAdvance(shown) <= _text_room(box)
    QApplication.sendEvent(
        box, QHelpEvent(QEvent.Type.ToolTip, QPoint(5, 5), box.mapToGlobal(QPoint(5, 5)))
    )
    assert QToolTip.text() == full
    tips = [box.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(1, box.count())]
    assert tips == [box.itemText(i) for i in range(1, box.count())] and full in tips
    box.showPopup()  # the list is wide enough for every full name
    qtbot.wait(20)
    assert box.view().viewport().width() >= box.view().sizeHintForColumn(0)
    box.hidePopup()
