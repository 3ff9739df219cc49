"""Histograms of the selected node's activations and of its weights.

Activation histograms are computed here from the node's map; weight histograms come
precomputed from the worker (``FeatureResult.extra["weight_hist"]``: counts and bin
edges of every conv/linear node's weights), so no weight tensor crosses the pipe.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.plot_theme import theme_plot

BINS = 64
ACT_BRUSH = QColor(31, 119, 180, 160)
W_BRUSH = QColor(255, 127, 14, 160)


def activation_histogram(values: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, edges)`` of ``values`` (a constant map gets one bin around its value)."""
    v = np.asarray(values, dtype=np.float32).ravel()
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.histogram(v, bins=bins, range=(lo, hi))


def weight_owner(result, node: str) -> str | None:
    """``node`` if it has weights, else the nearest weighted node up its single-input chain.

    A ReLU or BatchNorm right after a conv shows that conv's weights; merges stop the walk.
    """
    hists = result.extra.get("weight_hist", {})
    analysis = result.extra.get("analysis")
    seen = 0
    while node is not None and seen < 8:
        if node in hists:
            return node
        ins = analysis.inputs.get(node, []) if analysis is not None else []
        node = ins[0] if len(ins) == 1 else None
        seen += 1
    return None


def _text_color() -> str:
    """The palette's text colour (titles read in light and dark palettes)."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    return QApplication.palette().color(QPalette.ColorRole.Text).name()


def _plot(title: str, xlabel: str) -> pg.PlotWidget:
    w = pg.PlotWidget(enableMenu=False)  # (no menus made to be disabled)
    w.setMinimumHeight(70)
    pi = w.getPlotItem()
    pi.setTitle(title, size="9pt")
    theme_plot(w)
    pi.setLabel("bottom", xlabel)
    pi.setLabel("left", "count")
    pi.showGrid(x=True, y=True, alpha=0.2)
    return w


class Histograms(QWidget):
    """Two histograms of the selected node: its output values and its weights."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = None
        self.node: str | None = None
        self.act_counts: np.ndarray | None = None
        self.weight_counts: np.ndarray | None = None
        self.weight_node: str | None = None
        self._pending = False
        self.act_plot = _plot("activations", "value")
        self.weight_plot = _plot("weights", "weight")
        self.act_curve = self.act_plot.plot(
            [0, 1],
            [0],
            stepMode="center",
            fillLevel=0,
            brush=ACT_BRUSH,
            pen=pg.mkPen((31, 119, 180)),
        )
        self.weight_curve = self.weight_plot.plot(
            [0, 1], [0], stepMode="center", fillLevel=0, brush=W_BRUSH, pen=pg.mkPen((255, 127, 14))
        )
        self.note = QLabel("Weights are random (seed 0): the network is untrained.")
        self.note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.act_plot, 1)
        lay.addWidget(self.weight_plot, 1)
        lay.addWidget(self.note)

    def set_result(self, result) -> None:
        """Use a new result (keeps the node when it is still there)."""
        self.result = result
        node = self.node
        if result is None or node not in result.maps:
            node = (
                result.box.node
                if result is not None and result.box is not None
                else (result.order[-1] if result is not None and result.order else None)
            )
        self.set_node(node)

    def set_node(self, node: str | None) -> None:
        """Show the histograms of ``node`` (computed when the widget is visible)."""
        self.node = node
        self._pending = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self._pending:
            self.refresh()

    def refresh(self) -> None:
        """Compute and draw the histograms of the current node now."""
        self._pending = False
        node = self.node
        r = self.result
        if r is None or node not in r.maps:
            self.act_curve.setData([0, 1], [0])
            self.weight_curve.setData([0, 1], [0])
            self.act_counts = self.weight_counts = None
            self.weight_node = None
            return
        counts, edges = activation_histogram(r.maps[node])
        self.act_counts = counts
        self.act_curve.setData(edges, counts)
        s = r.stats[node]
        self.act_plot.getPlotItem().setTitle(
            f"{node}: {counts.sum():,} values<br>{100 * s.sparsity:.1f}% zeros, mean {s.mean:.3g}",
            color=_text_color(),
            size="9pt",
        )
        hists = r.extra.get("weight_hist", {})
        owner = weight_owner(r, node)
        if owner is None:
            self.weight_counts = None
            self.weight_node = None
            self.weight_curve.setData([0, 1], [0])
            self.weight_plot.getPlotItem().setTitle(
                f"{node} ({r.types.get(node, '')}) has no weights", color=_text_color(), size="9pt"
            )
            return
        wc, we = hists[owner]
        self.weight_node = owner
        self.weight_counts = np.asarray(wc)
        self.weight_curve.setData(np.asarray(we), self.weight_counts)
        # Two short lines: a long "weights of X (feeds Y)" was cut in a narrow panel.
        via = "" if owner == node else f"feeds {node} · "
        self.weight_plot.getPlotItem().setTitle(
            f"weights of {owner}<br>{via}{int(self.weight_counts.sum()):,} values",
            color=_text_color(),
            size="9pt",
        )
