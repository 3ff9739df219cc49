"""Re-create the compare screenshots (from the repository root, under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \
        docs/screenshots/make_compare_screenshots.py

and the same shots on a small laptop screen, saved as ``NAME@1366x768.png``:

    xvfb-run -a -s "-screen 0 1366x768x24" env SHOT_SIZE=1366x768 \
        .venv/bin/python docs/screenshots/make_compare_screenshots.py

``compare_inception`` (Templates → Compare → Inception 3a: naive / 1×1 reductions /
GoogLeNet's: the totals with their change against the naive block, per-branch bars),
``compare_resnet`` (the basic block at 256 channels against the bottleneck, per-layer
bars) and ``tabs_variant`` (the main window with the three ResNet blocks in tabs and a
variant of the bottleneck being edited). Each opens a main window the size of the screen as
``python main.py`` does; the compare view is grabbed at the size it opens at.
"""

from __future__ import annotations

import sys

from shots import app, close, rerun, save, settle, wait_result, window


def main() -> int:
    from designer.commands import SetParamCommand

    qapp = app()
    win = window(qapp, autorun=True)
    wait_result(qapp, win)  # the start-up run
    view = win.open_comparison("inception")
    settle(qapp, 0.8)
    save(view, "compare_inception")
    view.close()
    close(qapp, win)

    win = window(qapp, autorun=True)
    wait_result(qapp, win)
    win.open_comparison("resnet")
    tabs = win.tabs_list()
    basic256 = next(t for t in tabs if t.doc.model.name.startswith("ResNet basic block (256"))
    bottleneck = next(t for t in tabs if t.doc.model.name == "ResNet bottleneck block")
    view = win.show_compare([basic256, bottleneck])
    settle(qapp, 0.8)
    save(view, "compare_resnet")

    win.design_tabs.setCurrentWidget(bottleneck)
    variant = win.duplicate_as_variant()
    doc = variant.doc
    doc.undo_stack.push(SetParamCommand(doc, "conv1", "out_channels", 32))
    doc.undo_stack.push(SetParamCommand(doc, "conv2", "out_channels", 32))
    rerun(qapp, win)  # the variant's own feature maps
    win.view.fit_to_view()
    view.hide()
    settle(qapp, 0.5)
    save(win, "tabs_variant")
    view.close()
    close(qapp, win)
    return 0


if __name__ == "__main__":
    sys.exit(main())
