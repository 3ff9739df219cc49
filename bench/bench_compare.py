"""Compare view: the live update after an edit, two 501-node designs side by side.

Run with ``python -m bench.bench_compare`` (or ``python -m bench compare``), headless with
``QT_QPA_PLATFORM=offscreen``. Two tabs hold ``deep_resnet(100)`` (501 nodes each), the
compare view shows both (101 blocks per chart). Measured, medians of alternating runs:

* the compare view's update (compare, table, three bar charts, runs) after a parameter
  edit of one design — target < 30 ms;
* a whole edit (``SetParamCommand`` push → analysis, canvas, panels and the compare view)
  with the view open, against the same edit with the view closed (reference in the same
  run): the view's share of an edit;
* the engine's part (``engine.analysis.compare.compare`` of the two live analyses).

Wall and CPU times are printed: the box is shared, CPU times are steadier.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CONVCANVAS_NO_AUTOSAVE_PROMPT", "1")

TARGET_MS = 30.0


def _timed(fn) -> tuple[float, float]:
    """Wall and CPU milliseconds of ``fn()``."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000


def main(runs: int = 30) -> int:
    """Print the measures; return 0 (1 if the target is missed)."""
    import tempfile

    from PySide6.QtWidgets import QApplication

    os.environ.setdefault("CONVCANVAS_DATA_DIR", tempfile.mkdtemp(prefix="cc_bench_"))
    app = QApplication.instance() or QApplication([])
    from designer.commands import SetParamCommand
    from engine.analysis.compare import compare
    from engine.templates import deep_resnet
    from widgets.main_window import MainWindow

    win = MainWindow(autosave=False)
    win.set_model(deep_resnet(100))
    first = win.current_tab
    second = win.new_tab(deep_resnet(100))
    win.resize(1440, 900)
    win.show()
    view = win.show_compare([first, second])
    app.processEvents()
    doc = second.doc
    node = "block50_conv1"
    values = [64, 48]
    k = 0

    def edit() -> None:
        nonlocal k
        k += 1
        doc.undo_stack.push(SetParamCommand(doc, node, "out_channels", values[k % 2]))
        app.processEvents()

    for _ in range(5):  # warm up: caches, first paints
        edit()
        view.update_view()
    update_w, update_c, with_w, with_c, without_w, without_c, eng_w, eng_c = ([] for _ in range(8))
    for _ in range(runs):
        edit()
        w, c = _timed(view.update_view)
        update_w.append(w)
        update_c.append(c)
        w, c = _timed(lambda: compare([first.doc.analysis, second.doc.analysis]))
        eng_w.append(w)
        eng_c.append(c)
        w, c = _timed(edit)
        with_w.append(w)
        with_c.append(c)
        view._unwatch()
        w, c = _timed(edit)
        without_w.append(w)
        without_c.append(c)
        view._watch()
    med = statistics.median
    print(f"two deep_resnet(100) designs ({len(doc.model)} nodes each), median of {runs} runs")
    print(
        f"compare view update: {med(update_w):.1f} ms wall, {med(update_c):.1f} ms CPU  "
        f"[target < {TARGET_MS:.0f} ms: {'ok' if med(update_c) < TARGET_MS else 'MISSED'}]"
    )
    print(f"  of which engine compare(): {med(eng_w):.2f} ms wall, {med(eng_c):.2f} ms CPU")
    print(
        f"whole edit with the view open: {med(with_w):.1f} ms wall, {med(with_c):.1f} ms CPU; "
        f"closed (reference): {med(without_w):.1f} ms wall, {med(without_c):.1f} ms CPU; "
        f"ratio {med(with_c) / med(without_c):.2f}× (CPU)"
    )
    view.close()
    win.close()
    return 0 if med(update_c) < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
