"""Re-create the block screenshots (from the repository root, under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \
        docs/screenshots/make_block_screenshots.py

and the same shots on a small laptop screen, saved as ``NAME@1366x768.png``:

    xvfb-run -a -s "-screen 0 1366x768x24" env SHOT_SIZE=1366x768 \
        .venv/bin/python docs/screenshots/make_block_screenshots.py

or only some of them: ``... make_block_screenshots.py blocks_expanded``. Each shot opens a
main window the size of the screen as ``python main.py`` does (the sample photo runs at
start), loads a template, waits for its feature maps, arranges its blocks and grabs the
window: ``blocks_resnet50`` and ``blocks_googlenet`` (collapsed, fit to
view), ``blocks_expanded`` (one bottleneck of ResNet-50 expanded and selected in its frame)
and ``blocks_palette`` (the palette's Blocks group and the parameters asked when placing a
bottleneck).
"""

from __future__ import annotations

import sys

from shots import app, close, rerun, save, settle, wait_result, window


def template_window(qapp, template: str | None):
    """A window on ``template`` (``None``: the start design), its maps shown, fit to view."""
    win = window(qapp, autorun=True)
    wait_result(qapp, win)  # the start-up run
    if template is not None:
        win.load_template(template)  # in a new tab
        rerun(qapp, win)
    win.view.fit_to_view()
    settle(qapp, 0.5)
    return win


def shot_expanded(qapp):
    from designer.block_commands import set_collapsed_command
    from engine.blocks import members

    win = template_window(qapp, "resnet50")
    win.doc.undo_stack.push(set_collapsed_command(win.doc, "layer2.0", False))
    settle(qapp)
    win.scene.select_nodes(members(win.doc.model, "layer2.0"))
    win.view.fit_selection()  # the block and its neighbours
    win.view.zoom_by(0.85, anchor_under_mouse=False)
    win.scene.select_nodes(["layer2_0_conv2"])
    settle(qapp, 0.5)
    return win, win.grab()


def shot_palette(qapp):
    from PySide6.QtGui import QPainter

    from engine.blocks import BUILTIN_TYPES
    from widgets.block_dialogs import PlaceBlockDialog

    win = template_window(qapp, None)  # Inception 3a with 1×1 reductions
    p = win.palette_panel
    item = p.block_item_for("bottleneck")
    p.tree.scrollToItem(item)
    p.tree.setCurrentItem(item)
    win.scene.select_nodes(["concat"])
    dlg = PlaceBlockDialog(BUILTIN_TYPES["bottleneck"], 416, win)
    dlg.adjustSize()
    dlg.move(win.mapToGlobal(win.rect().center()) - dlg.rect().center())
    dlg.show()
    settle(qapp, 0.5)
    # Without a window manager the dialog is its own top-level window: paint it over the
    # main window where it sits.
    pix = win.grab()
    painter = QPainter(pix)
    painter.drawPixmap(win.rect().center() - dlg.rect().center(), dlg.grab())
    painter.end()
    dlg.close()
    return win, pix


SHOTS = {
    "blocks_resnet50": lambda qapp: (w := template_window(qapp, "resnet50"), w.grab()),
    "blocks_googlenet": lambda qapp: (w := template_window(qapp, "googlenet"), w.grab()),
    "blocks_expanded": shot_expanded,
    "blocks_palette": shot_palette,
}


def main(names: list[str]) -> int:
    qapp = app()
    for name in names or list(SHOTS):
        win, pix = SHOTS[name](qapp)
        save(pix, name)
        close(qapp, win)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
