"""Re-create the main window's screenshots (from the repository root, under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/make_screenshots.py

or only some of them: ``... make_screenshots.py main_inception3a inside_grid``. Each shot
opens a fresh main window the size of the screen exactly as ``python main.py`` does (the
sample photo runs in the worker process at start), sets the scene up, waits for the run,
and grabs. The blocks, compare, import and training shots have their own scripts beside
this one (``make_*_screenshots.py``), run the same way; they share ``shots.py``.

The same shots on a small laptop screen, saved as ``NAME@1366x768.png``:

    xvfb-run -a -s "-screen 0 1366x768x24" env SHOT_SIZE=1366x768 \
        .venv/bin/python docs/screenshots/make_screenshots.py
"""

from __future__ import annotations

import sys

from shots import (
    app,
    close,
    expand_all,
    expand_to,
    rerun,
    save,
    settle,
    wait_for,
    wait_result,
    window,
)

DARK = {
    "Window": "#2b2b2b",
    "WindowText": "#e6e6e6",
    "Base": "#1f1f1f",
    "AlternateBase": "#292929",
    "Text": "#e6e6e6",
    "Button": "#353535",
    "ButtonText": "#e6e6e6",
    "Highlight": "#3d7ad6",
    "HighlightedText": "#ffffff",
    "ToolTipBase": "#333333",
    "ToolTipText": "#e6e6e6",
    "PlaceholderText": "#9a9a9a",
}


def dark_palette():
    """A dark Fusion palette (what a dark desktop theme gives the app)."""
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    for role, c in DARK.items():
        p.setColor(getattr(QPalette.ColorRole, role), QColor(c))
    for role in ("Text", "WindowText", "ButtonText"):
        p.setColor(
            QPalette.ColorGroup.Disabled, getattr(QPalette.ColorRole, role), QColor("#777777")
        )
    return p


def new_window(qapp, dark: bool = False):
    """A main window at the shot size, its start-up run on the sample photo shown."""
    qapp.setPalette(dark_palette() if dark else qapp.style().standardPalette())
    win = window(qapp, autorun=True)
    panel = wait_result(qapp, win)  # the start-up run on the sample photo
    return win, panel


def shot_main(app, dark=False):
    # What python main.py opens: the reduced block, the naive one pinned as its baseline.
    win, panel = new_window(app, dark)
    win.scene.select_nodes(["branch2_3x3"])
    settle(app, 0.6)
    return win


def shot_error(app):
    from designer.commands import SetParamCommand

    win, panel = new_window(app)
    win.doc.undo_stack.push(SetParamCommand(win.doc, "branch4_pool", "padding", 0))
    settle(app, 0.5)
    panel.run()
    settle(app, 0.3)
    win.table_dock.raise_()
    win.scene.select_nodes(["concat"])
    settle(app, 0.5)
    return win


def shot_big(app, template="googlenet", node="inception4a_branch2_1_conv", detail=False):
    from engine.blocks import block_of, members

    win, panel = new_window(app)
    win.load_template(template)
    rerun(app, win)
    # Templates open with their blocks collapsed: open the one holding ``node`` (all of
    # its inner blocks too, for the whole module).
    block = block_of(win.doc.model, node)
    if detail:
        expand_to(app, win, [node])
    else:
        block = block.split(".")[0]
        expand_all(app, win, under=block)
    win.inside_host.panel.tint_box.setCurrentIndex(1)  # nodes coloured by sparsity
    if detail:  # at 90 % every label reads: the node in the middle, its block's rows shown
        win.scene.select_nodes([node])
        settle(app, 0.3)
        win.view.fit_to_view()
        settle(app, 0.2)
        win.view.zoom_by(0.9 / win.view.zoom(), anchor_under_mouse=False)
        rect = None
        for n in members(win.doc.model, block):
            r = win.scene.node_item(n).sceneBoundingRect()
            rect = r if rect is None else rect.united(r)
        x = win.scene.node_item(node).sceneBoundingRect().center().x()
        win.view.centerOn(x, rect.center().y())
    else:  # the opened module fit to the view (Shift+F on its nodes), then the node
        win.scene.select_nodes(members(win.doc.model, block))
        win.view.fit_selection()
        win.scene.select_nodes([node])
    settle(app, 0.5)
    return win


def shot_first_steps(app):
    win, panel = new_window(app)
    win.new_design()
    panel = win.inside_host.ensure_panel()  # the new tab's views: wait for its first run
    wait_for(app, lambda: panel.result is not None and not panel.controller.busy, 90)
    settle(app, 0.5)
    return win


def shot_big_fit(app):
    win, panel = new_window(app)
    win.load_template("googlenet")
    rerun(app, win)
    win.view.setFocus()
    win.view.fit_to_view()  # what F does
    settle(app, 0.5)
    return win


def shot_stale(app):
    """An unwired pasted conv: the valid part runs; then an edit leaves the maps stale."""
    from designer.commands import AddNodeCommand, SetParamCommand
    from designer.defaults import starter_params

    win, panel = new_window(app)
    panel.controller.set_live(False)
    doc = win.doc
    doc.undo_stack.push(
        AddNodeCommand(doc, "conv", starter_params("conv"), (900.0, 420.0), "branch2_3x3_copy")
    )
    rerun(app, win)
    win.scene.select_nodes(["branch2_3x3"])
    doc.undo_stack.push(SetParamCommand(doc, "branch2_3x3", "out_channels", 32))
    settle(app, 0.5)
    return win


def shot_shortcuts(app):
    win, panel = new_window(app)
    win.shortcuts_action.trigger()
    win.shortcuts.search.setText("fit")
    settle(app, 0.3)
    return win.shortcuts


def _resnet18(app):
    win, panel = new_window(app)
    win.load_template("resnet18")
    panel = rerun(app, win)
    expand_to(app, win, ["layer1_0_relu"])
    win.scene.select_nodes(["layer1_0_relu"])
    settle(app, 0.5)
    return win, panel


def shot_inside(app, which):
    win, panel = _resnet18(app)
    from PySide6.QtCore import Qt

    win.resizeDocks([win.inside_dock], [640], Qt.Orientation.Vertical)
    settle(app, 0.5)
    if which == "grid":
        return panel.grid
    if which == "rf":
        panel.rf.show_node("layer2_0_relu_1", None)
        settle(app, 0.3)
        return panel.rf
    if which == "sparsity":
        panel.tabs.setCurrentWidget(panel.sparsity)
        settle(app, 0.3)
        return panel.tabs
    panel.tabs.setCurrentWidget(panel.hist)
    settle(app, 0.5)
    return panel.tabs


SHOTS = {
    "main_inception3a": lambda app: shot_main(app),
    "dark_palette": lambda app: shot_main(app, dark=True),
    "error_concat_mismatch": shot_error,
    "googlenet": lambda app: shot_big(app),
    "resnet50_detail": lambda app: shot_big(app, "resnet50", "layer3_2_conv2", detail=True),
    "inside_grid": lambda app: shot_inside(app, "grid"),
    "inside_rf": lambda app: shot_inside(app, "rf"),
    "inside_sparsity": lambda app: shot_inside(app, "sparsity"),
    "inside_histograms": lambda app: shot_inside(app, "hist"),
    "first_steps": shot_first_steps,
    "googlenet_fit": shot_big_fit,
    "stale_partial_run": shot_stale,
    "shortcuts": shot_shortcuts,
}


def main(names: list[str]) -> int:
    qapp = app()
    for name in names or list(SHOTS):
        widget = SHOTS[name](qapp)
        save(widget, name)
        win = widget.window()
        if not hasattr(win, "inside_host"):  # a dialog: its main window is its parent
            win = win.parent()
        close(qapp, win)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
