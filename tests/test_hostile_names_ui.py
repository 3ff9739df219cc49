"""Names are plain text in every widget: a design, node or file name holding HTML is shown
as typed, never rendered (an ``<img src=/dev/zero>`` would make Qt read until it aborts)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QAction, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsTextItem,
    QGraphicsView,
    QLabel,
    QMessageBox,
    QTabBar,
    QWidget,
)

from designer.commands import RenameNodeCommand
from engine.templates import build

PAYLOAD = "<img src=zz.png><b>B</b>"
ROOT = Path(__file__).resolve().parent.parent


def _rich(text: str, fmt=Qt.TextFormat.AutoText) -> bool:
    """Whether Qt would render ``text`` (holding the payload) as HTML."""
    if "<img" not in text:
        return False
    if fmt == Qt.TextFormat.PlainText:
        return False
    return fmt == Qt.TextFormat.RichText or Qt.mightBeRichText(text)


def leaks(root: QWidget) -> list[str]:
    """Every place under ``root`` where the payload would be rendered as HTML."""
    found = []
    widgets = [root, *root.findChildren(QWidget)]
    for w in widgets:
        where = f"{type(w).__name__} {w.objectName()!r}"
        if _rich(w.toolTip()):
            found.append(f"tooltip of {where}: {w.toolTip()!r}")
        if isinstance(w, QLabel) and _rich(w.text(), w.textFormat()):
            found.append(f"label {where}: {w.text()!r}")
        if isinstance(w, QTabBar):
            for i in range(w.count()):
                if _rich(w.tabToolTip(i)):
                    found.append(f"tab tooltip {i} of {where}: {w.tabToolTip(i)!r}")
        if isinstance(w, QAbstractItemView) and w.model() is not None:
            m = w.model()
            try:
                cols = m.columnCount(QModelIndex())
            except TypeError:  # list models hide it: one column
                cols = 1
            for r in range(min(m.rowCount(QModelIndex()), 500)):
                for c in range(cols):
                    tip = m.data(m.index(r, c), Qt.ItemDataRole.ToolTipRole)
                    if isinstance(tip, str) and _rich(tip):
                        found.append(f"cell tooltip ({r}, {c}) of {where}: {tip!r}")
        if isinstance(w, QGraphicsView) and w.scene() is not None:
            for item in w.scene().items():
                if _rich(item.toolTip()):
                    found.append(f"item tooltip in {where}: {item.toolTip()!r}")
                if isinstance(item, QGraphicsTextItem) and "<img" in item.toHtml():
                    found.append(f"text item in {where}: {item.toHtml()[-200:]!r}")
    for a in root.findChildren(QAction):
        if _rich(a.toolTip()):
            found.append(f"action tooltip: {a.toolTip()!r}")
    return found


def hostile(win, tmp_path):
    """Two designs and a node named with the payload; saved under a hostile file name."""
    doc = win.doc
    doc.model.set_name(PAYLOAD)
    node = next(iter(doc.model.nodes))
    doc.undo_stack.push(RenameNodeCommand(doc, node, f"n{PAYLOAD}"))
    win.save_as(tmp_path / f"{PAYLOAD.replace('/', '_')}.json")
    return f"n{PAYLOAD}"


def test_main_window_shows_names_as_text(win, tmp_path, qtbot):
    """Tabs, tooltips, the layer table, the inspector, canvas labels, undo: no HTML rendered."""
    nid = hostile(win, tmp_path)
    win.current_tab.scene.select_nodes([nid])
    qtbot.wait(50)
    found = leaks(win)
    assert found == [], "\n".join(found)
    assert win.inspector.id_edit.text() == nid  # the inspector did show the node


def test_compare_legend_shows_names_as_text(win, tmp_path):
    """Two designs named with HTML in the Compare view: legend and plot legend are text."""
    win.set_model(build("resnet_basic_64"))
    win.doc.model.set_name(PAYLOAD)
    view = win.show_compare()
    found = leaks(view)
    assert found == [], "\n".join(found)
    assert PAYLOAD in view.legend.text() or "&lt;img" in view.legend.text()


def test_error_dialog_is_plain_text(qtbot, monkeypatch):
    """``show_error`` shows the message as plain text."""
    from widgets import files

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self) or 0)
    files.show_error(None, "Cannot open design", f"{PAYLOAD}.json: broken")
    assert shown[0].textFormat() == Qt.TextFormat.PlainText
    assert shown[0].text() == f"{PAYLOAD}.json: broken"


def test_feature_grid_and_image_panel_show_file_names_as_text(qtbot, tmp_path):
    """Weights loaded from, and an image named with, HTML: the labels show it as typed."""
    import shutil

    from widgets.feature_grid import FeatureGrid
    from widgets.image_panel import ImagePanel

    grid = FeatureGrid()
    qtbot.addWidget(grid)
    grid.set_weights_text(f"loaded from {PAYLOAD}.pt")
    image = tmp_path / f"{PAYLOAD.replace('/', '_')}.png"
    shutil.copy(ROOT / "resources" / "sample.png", image)
    panel = ImagePanel()
    qtbot.addWidget(panel)
    panel.set_image(image, emit=False)
    assert leaks(grid) == [] and leaks(panel) == []
    assert "&lt;img src=zz.png&gt;" in grid.weights_label.text()


def test_train_panel_shows_names_as_text(win, tmp_path, qtbot):
    """Train on a design and a data folder named with HTML: the panel's refusal, its
    status and every tooltip show the names as typed."""
    hostile(win, tmp_path)
    panel = win.train_host.show_panel()
    folder = tmp_path / PAYLOAD.replace("/", "_")
    folder.mkdir()
    panel.folder_edit.setText(str(folder))
    panel.data_box.setCurrentIndex(1)
    assert not panel.start()  # no class subfolders: refused, naming the folder
    assert PAYLOAD.replace("/", "_") in panel.status.text()
    found = leaks(panel)
    assert found == [], "\n".join(found)


def test_import_dialog_shows_names_as_text(qtbot, tmp_path):
    """The Import dialog with a source file named with HTML that cannot be read: its
    message and labels show the name as typed."""
    from widgets.import_dialog import ImportDialog

    dlg = ImportDialog()
    qtbot.addWidget(dlg)
    source = tmp_path / f"{PAYLOAD.replace('/', '_')}.py"
    dlg.set_source(str(source), "Net")
    dlg.start()
    qtbot.waitUntil(lambda: not dlg.running, timeout=60_000)
    assert not dlg.message.isHidden() and "zz.png" in dlg.message.text()
    found = leaks(dlg)
    assert found == [], "\n".join(found)
