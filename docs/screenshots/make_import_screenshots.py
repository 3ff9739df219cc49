"""Re-create the import screenshots (from the repository root, under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \
        docs/screenshots/make_import_screenshots.py

``import_dialog.png``: File → Import PyTorch Model… importing ``examples/small_net.py``
(busy bar and Cancel while ``main.py import`` runs in its process). ``import_smallnet.png``:
the imported design in a new tab, its maps computed with the imported weights.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from make_screenshots import new_window, rerun, settle  # noqa: E402 - after the path is set


def main() -> int:
    """Take both shots; return the exit status."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    win, _panel = new_window(app)
    dlg = win.import_host.show_dialog()
    dlg.set_source(str(ROOT / "examples" / "small_net.py"), "SmallNet")
    dlg.set_input_size(3, 64, 64)
    done = []
    dlg.imported.connect(done.append)
    dlg.start()
    settle(app, 1.2)
    dlg.grab().save(str(HERE / "import_dialog.png"))
    print("saved import_dialog.png", dlg.width(), "×", dlg.height())
    end = time.monotonic() + 120
    while not done and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    if not done:
        print("the import did not finish:", dlg.message_text, file=sys.stderr)
        return 1
    settle(app, 0.5)
    rerun(app, win)
    win.view.fit_to_view()
    win.scene.select_nodes(["relu_3"])
    settle(app, 0.6)
    win.grab().save(str(HERE / "import_smallnet.png"))
    print("saved import_smallnet.png", win.width(), "×", win.height())
    win.inside_host.panel.controller.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
