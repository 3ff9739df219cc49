"""Re-create the compare screenshots (from the repository root):

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_compare_screenshots.py

``compare_inception`` (Templates → Compare → Inception 3a: naive / 1×1 reductions /
GoogLeNet's: the totals with their change against the naive block, per-branch bars),
``compare_resnet`` (the basic block at 256 channels against the bottleneck, per-layer
bars) and ``tabs_variant`` (the main window with the three ResNet blocks in tabs and a
variant of the bottleneck being edited). Each opens a main window at 1600×1000 without
a worker run; the compare view is 1180×760.
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


def window(app):
    """A main window on the start design, shown at 1600×1000."""
    from widgets.app import create_window

    win = create_window([], autorun=False, live=False)
    win.ask_save_changes = lambda *a: "discard"
    win.resize(1600, 1000)
    win.show()
    settle(app)
    return win


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from designer.commands import SetParamCommand

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")

    win = window(app)
    view = win.open_comparison("inception")
    settle(app, 0.5)
    view.grab().save(str(HERE / "compare_inception.png"))
    win.close()

    win = window(app)
    win.open_comparison("resnet")
    tabs = win.tabs_list()
    basic256 = next(t for t in tabs if t.doc.model.name.startswith("ResNet basic block (256"))
    bottleneck = next(t for t in tabs if t.doc.model.name == "ResNet bottleneck block")
    view = win.show_compare([basic256, bottleneck])
    settle(app, 0.5)
    view.grab().save(str(HERE / "compare_resnet.png"))

    win.design_tabs.setCurrentWidget(bottleneck)
    variant = win.duplicate_as_variant()
    doc = variant.doc
    doc.undo_stack.push(SetParamCommand(doc, "conv1", "out_channels", 32))
    doc.undo_stack.push(SetParamCommand(doc, "conv2", "out_channels", 32))
    settle(app, 0.3)
    win.view.fit_to_view()
    view.hide()
    settle(app, 0.5)
    win.grab().save(str(HERE / "tabs_variant.png"))
    win.close()


if __name__ == "__main__":
    main()
