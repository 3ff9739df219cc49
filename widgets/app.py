"""Application start-up: ``run_app(argv)`` opens the editor on a file or the default template."""

from __future__ import annotations

import sys
from pathlib import Path

STARTUP_BASELINE = "inception3a_naive"

#: Imported before PySide6: once PySide6 is loaded, its import hook (shiboken's
#: ``feature_imported``) reads the source of every module imported after it to see
#: whether it uses PySide6, which made networkx, numpy and the engine load twice as
#: slowly (about 0.5 s of a 1.3 s start-up). None of these modules imports Qt.
PRELOAD = (
    "numpy",
    "networkx",
    "PIL.Image",
    "importlib.metadata",
    "multiprocessing",
    "engine.analysis.analyzer",
    "engine.analysis.reach",
    "engine.blocks",
    "engine.codegen.emit",
    "engine.core.fileformat",
    "engine.templates",
    "engine.weights.files",
    "engine.analysis.head",
    "engine.recipes.shapes",
    "engine.weights.weightset",
    "engine.worker.client",
    "engine.runtime.feature_types",
)


def preload() -> None:
    """Import the editor's Qt-free dependencies before PySide6 (see :data:`PRELOAD`)."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)


def create_window(argv: list[str], autorun: bool = True, live: bool = True):
    """The main window on ``argv[0]`` if given, else on the Inception 3a template.

    Without a file the naive Inception 3a is pinned as the baseline first, so the totals
    bar compares the template against it.

    With ``autorun`` the network runs on the sample image as soon as the feature views
    are built (shortly after the window is shown); ``live`` is the initial Live state.

    A file that cannot be opened is reported and the template is shown instead, so
    the window is never empty. Autosaves of crashed sessions are then offered (designs
    restored beyond the first open in new tabs).
    """
    from engine.templates import DEFAULT_TEMPLATE, build
    from widgets.main_window import MainWindow

    win = MainWindow()
    files_given = [a for a in argv if not a.startswith("-")]
    if not files_given:
        # The lesson's first comparison: the naive block is pinned as the baseline, so the
        # totals bar shows what the 1×1 reductions save (−229,888 weights, −59.4 %).
        win.set_model(build(STARTUP_BASELINE))
        win.totals_bar.pin()
    win.set_model(build(DEFAULT_TEMPLATE))
    if files_given:
        win.open_file(Path(files_given[0]))
    # The first impression: once the window is up, the sample photo runs through the
    # design in the worker process and the maps of the last spatial node appear; later
    # edits rerun it 300 ms after the last change (Live), in the background.
    win.inside_host.autorun = autorun
    win.inside_host.live = live
    # Autosaves left by windows that did not close cleanly are offered at every start,
    # with or without a file.
    win.offer_recovery()
    return win


def start_app(argv: list[str], autorun: bool = True):
    """The application and its shown main window (what ``run_app`` runs): the Qt-free
    modules first (:func:`preload`), then Qt. Returns ``(app, window)``."""
    preload()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "convcanvas"])
    app.setApplicationName("ConvCanvas")
    app.setOrganizationName("ConvCanvas")
    app.setStyle("Fusion")
    win = create_window(list(argv), autorun=autorun)
    win.show()
    return app, win


def run_app(argv: list[str]) -> int:
    """Run the editor; ``argv`` holds the optional file to open. Returns the exit status."""
    app, _win = start_app(argv)
    return app.exec()
