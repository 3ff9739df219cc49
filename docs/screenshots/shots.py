"""What every screenshot script shares: the shot size, the file name, waiting for the app.

The window is the size of the screen. Run a script under Xvfb with a screen of that size:
1600×1000 by default (files ``NAME.png``), or ``SHOT_SIZE=1366x768`` (files
``NAME@1366x768.png``)::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/SCRIPT.py
    xvfb-run -a -s "-screen 0 1366x768x24" env SHOT_SIZE=1366x768 \
        .venv/bin/python docs/screenshots/SCRIPT.py
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["CONVCANVAS_NO_AUTOSAVE_PROMPT"] = "1"
os.environ.setdefault("CONVCANVAS_DATA_DIR", "/tmp/ccshots")

#: The default size; its shots have no suffix.
DEFAULT_SIZE = (1600, 1000)
#: The window size (and the screen's, under Xvfb): 1600×1000, or e.g. SHOT_SIZE=1366x768.
SIZE: tuple[int, int] = tuple(int(v) for v in os.environ.get("SHOT_SIZE", "1600x1000").split("x"))
SUFFIX = "" if SIZE == DEFAULT_SIZE else f"@{SIZE[0]}x{SIZE[1]}"


def shot_path(name: str) -> Path:
    """The PNG a shot called ``name`` is saved to at this size."""
    return HERE / f"{name}{SUFFIX}.png"


def save(pixmap_or_widget, name: str) -> Path:
    """Grab (a widget) or take (a pixmap), save it as ``name`` at this size, print it."""
    pix = pixmap_or_widget.grab() if hasattr(pixmap_or_widget, "grab") else pixmap_or_widget
    out = shot_path(name)
    pix.save(str(out))
    print("saved", out.relative_to(ROOT), pix.width(), "×", pix.height(), flush=True)
    return out


def app():
    """The QApplication, in the Fusion style."""
    from PySide6.QtWidgets import QApplication

    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    qapp.setStyle("Fusion")
    return qapp


def settle(qapp, seconds: float = 0.3) -> None:
    """Let timers and paints run for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.01)


def wait_for(qapp, done: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Process events until ``done()`` is true or ``timeout`` seconds pass; return ``done()``."""
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.01)
    return done()


def window(qapp, autorun: bool = False):
    """A main window as ``python main.py`` opens it, at the shot size.

    With ``autorun`` the sample photo runs in the worker at start (wait for it with
    :func:`wait_result`); without it no worker starts.
    """
    from widgets.app import create_window

    win = create_window([], autorun=autorun, live=autorun)
    win.ask_save_changes = lambda *a: "discard"
    win.resize(*SIZE)
    win.show()
    settle(qapp)
    return win


def wait_result(qapp, win, start: Callable[[], object] | None = None, timeout: float = 90.0):
    """Wait until the feature views show a run begun after this call (``start`` begins one)."""
    panel = win.inside_host.ensure_panel()
    seen = []
    panel.result_shown.connect(seen.append)
    if start is not None:
        start()
    if not wait_for(qapp, lambda: bool(seen), timeout):
        raise RuntimeError("no result: " + panel.status.text())
    panel.result_shown.disconnect(seen.append)
    settle(qapp, 0.4)
    return panel


def rerun(qapp, win):
    """Run the current design and wait for its maps."""
    panel = win.inside_host.ensure_panel()
    return wait_result(qapp, win, panel.run)


def close(qapp, win) -> None:
    """Close a main window and its worker processes."""
    tabs = win.tabs_list() if hasattr(win, "tabs_list") else []
    for host in [getattr(t, "inside_host", None) for t in tabs] + [win.inside_host]:
        if host is not None and host.panel is not None:
            host.panel.controller.close()
    train = getattr(win, "train_host", None)
    if train is not None and getattr(train, "controller", None) is not None:
        train.controller.close()
    win.close()
    win.deleteLater()
    settle(qapp, 0.1)


def _expand(qapp, win, want: Callable[[str], bool]) -> None:
    """Expand, outermost first, every collapsed block for which ``want(path)`` is true."""
    from designer.block_commands import set_collapsed_command
    from engine.blocks import records

    vp = win.view.viewport().rect()
    aspect = (float(vp.width()), float(vp.height()))  # as the canvas's own Expand does
    while True:
        recs = records(win.doc.model)
        shut = sorted((p for p, r in recs.items() if r.get("collapsed") and want(p)), key=len)
        if not shut:
            break
        win.doc.undo_stack.push(set_collapsed_command(win.doc, shut[0], False, aspect))
    settle(qapp, 0.3)


def expand_all(qapp, win, under: str = "") -> None:
    """Expand every block of the current design inside block ``under`` (and it)."""
    from engine.blocks.hierarchy import is_under

    _expand(qapp, win, lambda p: is_under(p, under))


def expand_to(qapp, win, nodes: list[str]) -> None:
    """Expand the blocks holding ``nodes`` so that they show on the canvas."""
    from engine.blocks import block_of
    from engine.blocks.hierarchy import is_under

    model = win.doc.model
    scopes = [block_of(model, n) for n in nodes]
    _expand(qapp, win, lambda p: any(is_under(s, p) for s in scopes))
