"""Re-create the block screenshots (from the repository root):

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_block_screenshots.py

Each shot opens a main window at 1600×1000 (no worker run), loads a template, arranges
its blocks and grabs the window: ``blocks_resnet50`` and ``blocks_googlenet`` (collapsed,
fit to view), ``blocks_expanded`` (one bottleneck of ResNet-50 expanded and selected in
its frame) and ``blocks_palette`` (the palette's Blocks group and the parameters asked
when placing a bottleneck).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
os.environ["CONVCANVAS_NO_AUTOSAVE_PROMPT"] = "1"
os.environ.setdefault("CONVCANVAS_DATA_DIR", "/tmp/ccshots")


def settle(app, seconds: float = 0.3) -> None:
    """Let timers and paints run for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def window(app, template: str):
    from widgets.app import create_window

    win = create_window([], autorun=False, live=False)
    win.ask_save_changes = lambda *a: "discard"
    win.resize(1600, 1000)
    win.show()
    settle(app)
    win.load_template(template)
    settle(app)
    win.view.fit_to_view()
    settle(app)
    return win


def main(names: list[str]) -> None:
    from PySide6.QtWidgets import QApplication

    from designer.block_commands import set_collapsed_command

    app = QApplication.instance() or QApplication(sys.argv[:1])
    shots = {}
    shots["blocks_resnet50"] = lambda: window(app, "resnet50")
    shots["blocks_googlenet"] = lambda: window(app, "googlenet")

    def expanded():
        win = window(app, "resnet50")
        win.doc.undo_stack.push(set_collapsed_command(win.doc, "layer2.0", False))
        settle(app)
        from engine.blocks import members

        win.scene.select_nodes(members(win.doc.model, "layer2.0"))
        win.view.fit_selection()  # the block and its neighbours
        win.view.zoom_by(0.85, anchor_under_mouse=False)
        win.scene.select_nodes(["layer2_0_conv2"])
        settle(app, 0.5)
        return win

    shots["blocks_expanded"] = expanded

    def palette():
        from widgets.block_dialogs import PlaceBlockDialog

        win = window(app, "inception3a_reduced")
        p = win.palette_panel
        item = p.block_item_for("bottleneck")
        p.tree.scrollToItem(item)
        p.tree.setCurrentItem(item)
        win.scene.select_nodes(["concat"])
        from engine.blocks import BUILTIN_TYPES

        dlg = PlaceBlockDialog(BUILTIN_TYPES["bottleneck"], 416, win)
        dlg.move(win.mapToGlobal(win.rect().center()) - dlg.rect().center())
        dlg.show()
        settle(app, 0.5)
        pix = win.grab()
        from PySide6.QtGui import QPainter

        painter = QPainter(pix)
        painter.drawPixmap(win.rect().center() - dlg.rect().center(), dlg.grab())
        painter.end()
        dlg.close()
        return pix

    shots["blocks_palette"] = palette
    for name in names or list(shots):
        result = shots[name]()
        pix = result if not hasattr(result, "grab") else result.grab()
        pix.save(str(HERE / f"{name}.png"))
        print("wrote", name)
        if hasattr(result, "close"):
            result.close()
        settle(app, 0.2)


if __name__ == "__main__":
    main(sys.argv[1:])
