"""Re-create the import screenshots (from the repository root, under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \
        docs/screenshots/make_import_screenshots.py

and the same shots on a small laptop screen, saved as ``NAME@1366x768.png``:

    xvfb-run -a -s "-screen 0 1366x768x24" env SHOT_SIZE=1366x768 \
        .venv/bin/python docs/screenshots/make_import_screenshots.py

``import_dialog``: File → Import PyTorch Model… importing ``examples/small_net.py``
(busy bar and Cancel while ``main.py import`` runs in its process). ``import_smallnet``:
the imported design in a new tab (its last block opened at its last ReLU), its maps
computed with the imported weights.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from make_screenshots import new_window
from shots import ROOT, app, close, expand_to, rerun, save, settle, wait_for


def main() -> int:
    """Take both shots; return the exit status."""
    qapp = app()
    win, _panel = new_window(qapp)
    dlg = win.import_host.show_dialog()
    source = ROOT / "examples" / "small_net.py"
    # As a user in the repository types it (no machine-specific path in the shot).
    shown = os.path.relpath(source) if Path.cwd() == ROOT else str(source)
    dlg.set_source(shown, "SmallNet")
    dlg.set_input_size(3, 64, 64)
    done = []
    dlg.imported.connect(done.append)
    dlg.start()
    settle(qapp, 1.2)
    save(dlg, "import_dialog")
    if not wait_for(qapp, lambda: bool(done), 120):
        print("the import did not finish:", dlg.message_text, file=sys.stderr)
        return 1
    settle(qapp, 0.5)
    rerun(qapp, win)
    # Its submodules came in as blocks: open the last one at its last ReLU.
    model = win.doc.model
    relu = [n for n in win.doc.analysis.order if model.node_type(n) == "relu"][-1]
    expand_to(qapp, win, [relu])
    win.view.fit_to_view()
    win.scene.select_nodes([relu])
    settle(qapp, 0.6)
    save(win, "import_smallnet")
    close(qapp, win)
    return 0


if __name__ == "__main__":
    sys.exit(main())
