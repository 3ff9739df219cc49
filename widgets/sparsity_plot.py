"""Sparsity by depth: one point per node, ReLU outputs highlighted, mean on a right axis.

A trained network's maps get sparser with depth (more exact zeros after each ReLU);
this plot shows the fraction of zeros of every node's output against its depth, and the
mean activation of the ReLU outputs as a second curve on the right axis. Clicking a point selects its node
on the canvas (:meth:`GraphScene.select_nodes`) and emits :attr:`SparsityPlot.node_clicked`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.plot_theme import theme_plot

RELU_BRUSH = QColor(214, 39, 40)
OTHER_BRUSH = QColor(120, 120, 120, 170)
MEAN_PEN = QColor(31, 119, 180)
SELECTED_PEN = QColor(255, 160, 0)
#: The narrowest depth axis (layers): a design of one or two depths is not zoomed onto them.
MIN_DEPTH_SPAN = 4


class SparsityPlot(QWidget):
    """Sparsity (left axis, %) of every node and mean activation of the ReLU outputs (right axis).

    Signals
    -------
    node_clicked(str)
    """

    node_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None, scene=None) -> None:
        super().__init__(parent)
        self.scene = scene
        self.result = None
        self._nodes: list[str] = []
        self.plot = pg.PlotWidget(enableMenu=False)  # (no menus made to be disabled)
        theme_plot(self.plot)
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", "depth (layers from the input)")
        pi.setLabel("left", "zeros (%)")  # short: whole on a 1366×768 screen
        pi.showGrid(x=True, y=True, alpha=0.2)
        self.line = pi.plot([], [], pen=pg.mkPen((214, 39, 40, 110), width=1.5))
        self._relu_brush = pg.mkBrush(RELU_BRUSH)
        self._other_brush = pg.mkBrush(OTHER_BRUSH)
        self.scatter = pg.ScatterPlotItem(hoverable=True, tip=self._tip)
        pi.addItem(self.scatter)
        self.scatter.sigClicked.connect(self._on_clicked)
        self.selected = pg.ScatterPlotItem(
            size=16, pen=pg.mkPen(SELECTED_PEN, width=3), brush=None, symbol="o"
        )
        pi.addItem(self.selected)
        # Right axis: mean activation in its own view box, kept aligned in x.
        self.mean_view = pg.ViewBox()
        pi.showAxis("right")
        pi.scene().addItem(self.mean_view)
        pi.getAxis("right").linkToView(self.mean_view)
        pi.getAxis("right").setLabel("mean", color=MEAN_PEN.name())
        # Plain numbers on the ticks: an SI factor made the turned label "mean (x0.001)",
        # longer than the plot is tall at 1366×768 (its top was cut).
        pi.getAxis("right").enableAutoSIPrefix(False)
        self.mean_view.setXLink(pi)
        self.mean_curve = pg.PlotDataItem(
            [],
            [],
            pen=pg.mkPen(MEAN_PEN, width=2),
            symbol="t",
            symbolSize=6,
            symbolBrush=MEAN_PEN,
            symbolPen=None,
        )
        self.mean_view.addItem(self.mean_curve)
        pi.vb.sigResized.connect(self._sync_views)
        # The legend sits above the plot (a label, in the palette's text colour), so it
        # never covers points and reads in light and dark palettes.
        self.legend = QLabel(
            f'<span style="color:{QColor(RELU_BRUSH).name()}">●</span> ReLU output &nbsp; '
            f'<span style="color:{QColor(OTHER_BRUSH).name()}">■</span> other node &nbsp; '
            f'<span style="color:{QColor(MEAN_PEN).name()}">▲—</span> ReLU mean (right axis)'
        )
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)  # a narrow panel wraps it instead of widening the dock
        self.info = QLabel("Run the network to see how sparse each layer's output is.")
        self.info.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.legend)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.info)

    def _sync_views(self) -> None:
        self.mean_view.setGeometry(self.plot.getPlotItem().vb.sceneBoundingRect())
        self.mean_view.linkedViewChanged(self.plot.getPlotItem().vb, self.mean_view.XAxis)

    # ------------------------------------------------------------------ data
    def points(self) -> list[tuple[str, int, float, float]]:
        """``(node, depth, sparsity, mean)`` of every plotted point, in plotted order."""
        if self.result is None:
            return []
        r = self.result
        return [(n, r.depth[n], r.stats[n].sparsity, r.stats[n].mean) for n in self._nodes]

    def set_result(self, result) -> None:
        """Plot one point per node of ``result``."""
        self.result = result
        if result is None:
            self._nodes = []
            self.scatter.setData([])
            self.line.setData([], [])
            self.mean_curve.setData([], [])
            self.selected.setData([])
            return
        nodes = [n for n in result.order if n in result.stats]
        self._nodes = nodes
        depth = np.array([result.depth[n] for n in nodes], dtype=float)
        sparsity = np.array([100.0 * result.stats[n].sparsity for n in nodes])
        mean = np.array([result.stats[n].mean for n in nodes])
        relu = np.array([result.types.get(n) == "relu" for n in nodes], dtype=bool)
        self.scatter.setData(
            x=depth,
            y=sparsity,
            data=np.array(nodes, dtype=object),
            size=np.where(relu, 11, 8),
            pen=None,
            brush=[self._relu_brush if r else self._other_brush for r in relu],
            symbol=["o" if r else "s" for r in relu],
        )
        # The lines follow the ReLU outputs only (in between, conv and BN outputs have no
        # zeros and a mean near 0: a line through every node would just zig-zag). Without
        # a ReLU there is no line and no mean curve: nothing would be a "ReLU mean".
        line_idx = np.flatnonzero(relu)
        line_idx = line_idx[np.argsort(depth[line_idx], kind="stable")]
        self.line.setData(depth[line_idx], sparsity[line_idx])
        self.mean_curve.setData(depth[line_idx], mean[line_idx])
        self.plot.getPlotItem().setYRange(0, 112, padding=0.02)
        item = self.plot.getPlotItem()
        lo, hi = (float(depth.min()), float(depth.max())) if len(depth) else (0.0, 0.0)
        if hi - lo < MIN_DEPTH_SPAN:  # one or two depths: whole layers, not a zoom on one
            item.setXRange(lo - 0.5, lo + MIN_DEPTH_SPAN + 0.5, padding=0)
        else:
            item.enableAutoRange(axis="x")
        if len(line_idx):
            lo, hi = float(min(0.0, mean[line_idx].min())), float(mean[line_idx].max())
            self.mean_view.setYRange(lo, hi + 0.15 * (hi - lo if hi > lo else 1.0), padding=0.02)
            avg_relu = 100.0 * float(np.mean(sparsity[line_idx] / 100.0))
            summary = f"ReLU outputs are {avg_relu:.0f}% zeros on average"
        else:
            summary = "no ReLU outputs (no mean curve)"
        count = f"{len(nodes)} node{'' if len(nodes) == 1 else 's'}"
        self.info.setText(f"{count}; {summary}. Click a point to select its node.")
        self._sync_views()

    def select(self, node: str | None) -> None:
        """Ring the point of ``node`` (the canvas selection)."""
        if self.result is None or node not in self._nodes:
            self.selected.setData([])
            return
        self.selected.setData([self.result.depth[node]], [100.0 * self.result.stats[node].sparsity])

    # ------------------------------------------------------------------ events
    def _tip(self, x, y, data):
        if self.result is None:
            return ""
        s = self.result.stats[data]
        return (
            f"{data} ({self.result.types.get(data, '')})\ndepth {int(x)}\n"
            f"zeros {100 * s.sparsity:.1f}%\nmean {s.mean:.4g}"
        )

    def _on_clicked(self, _item, points, *_args) -> None:
        if not len(points):
            return
        node = points[0].data()
        self.click_node(node)

    def click_node(self, node: str) -> None:
        """What a click on ``node``'s point does: select it on the canvas and tell listeners."""
        self.select(node)
        if self.scene is not None and hasattr(self.scene, "select_nodes"):
            layer = getattr(self.scene, "block_layer", None)
            if layer is not None:  # a point of a node inside a collapsed block opens it
                layer.open_to_show([node])
            self.scene.select_nodes([node])
        self.node_clicked.emit(node)
