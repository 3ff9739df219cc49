"""Run by tests/test_newcomer_round2.py in a subprocess on an offscreen screen of a given
size: open the window, show and close the Train dock, print the sizes as JSON."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication(["probe"])
    app.setStyle("Fusion")
    from widgets.app import create_window

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    win = create_window([], autorun=False, live=False)
    win.show()
    win.inside_host.ensure_panel()  # (built 0.5 s after launch: measure the window with it)
    settle()
    avail = win.screen().availableGeometry()
    out = {"screen": [avail.width(), avail.height()]}

    def measure(key: str) -> None:
        f = win.frameGeometry()
        out[key] = {
            "window": [f.width(), f.height()],
            "inside": [win.inside_dock.width(), win.inside_dock.height()],
            "inspector": win.inspector_dock.width(),
        }

    measure("before")
    panel = win.train_host.show_panel()
    settle()
    measure("train")
    out["plots"] = [
        [p.width(), p.plotItem.titleLabel.item.boundingRect().width()]
        for p in (panel.loss_plot, panel.acc_plot, panel.sparsity_plot)
    ]
    out["train_dock"] = [win.train_host.dock.width(), win.train_host.dock.height()]
    scroll = win.train_host.dock.widget()
    out["train_scroll"] = [panel.height(), scroll.viewport().height()]
    out["train_min"] = panel.minimumSizeHint().height()
    win.inside_dock.raise_()
    settle()
    measure("inside_raised")
    win.train_host.dock.close()
    settle()
    measure("closed")
    win.close()
    print(json.dumps(out))
    os._exit(0)


if __name__ == "__main__":
    main()
