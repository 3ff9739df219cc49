"""The feature maps of one node: every channel tiled into one image, with a colour bar.

All channels of a page go into ONE ``ImageItem`` mosaic (one texture upload, fast to pan
and zoom), separated by one-pixel transparent gaps. Nodes with more than
:data:`PAGE_SIZE` channels are paged. Scaling is shared (one colour scale over the node's
values) or per channel (each channel stretched to its own min–max). Hovering reads out
``channel c, y, x = value`` and emits :attr:`FeatureGrid.pixel_hovered`; clicking a
channel enlarges it (click again or press *All channels* to go back).

The grid shows the node asked for (:meth:`FeatureGrid.set_node`) from the newest result,
or, when that result has no such node, no maps at all and the reason (from
:attr:`FeatureGrid.reason_for`): never another node's maps under a note naming this one.
A line above the maps says which weights made them (:meth:`FeatureGrid.set_weights_text`).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsPathItem,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.plaintext import esc
from widgets.flow_layout import FlowLayout
from widgets.plot_theme import theme_plot

PAGE_SIZE = 256
GAP = 1
COLORMAP = "viridis"
STALE_OPACITY = 0.35
DEFAULT_WEIGHTS = "random, seed 0"


def missing_text(node: str) -> str:
    """The default reason a result has no maps of ``node``."""
    return f"'{node}' was not in the last run: press Run (F5) to see it."


def grid_shape(count: int, h: int, w: int) -> tuple[int, int]:
    """``(rows, cols)`` that tile ``count`` maps of ``h×w`` into a roughly square mosaic."""
    if count <= 0:
        return 0, 0
    cols = max(1, round(math.sqrt(count * (h + GAP) / max(1, w + GAP))))
    cols = min(cols, count)
    rows = math.ceil(count / cols)
    return rows, cols


def mosaic(maps: np.ndarray, per_channel: bool = False) -> tuple[np.ndarray, int, int]:
    """Tile ``(C, H, W)`` maps into one float32 image with NaN gaps; ``(image, rows, cols)``.

    With ``per_channel`` each channel is scaled to [0, 1] by its own min and max (a
    constant channel becomes 0).
    """
    c, h, w = maps.shape
    rows, cols = grid_shape(c, h, w)
    data = maps.astype(np.float32, copy=per_channel)
    if per_channel and c:
        flat = data.reshape(c, -1)
        lo = flat.min(axis=1)[:, None]
        span = flat.max(axis=1)[:, None] - lo
        span[span == 0] = 1.0
        flat -= lo
        flat /= span
    out = np.full((rows, cols, h + GAP, w + GAP), np.nan, dtype=np.float32)
    out.reshape(rows * cols, h + GAP, w + GAP)[:c, :h, :w] = data
    img = out.transpose(0, 2, 1, 3).reshape(rows * (h + GAP), cols * (w + GAP))
    return img[: -GAP or None, : -GAP or None], rows, cols


def colour_scale(lo: float, hi: float) -> float:
    """The factor (a power of 1000) that brings tick values of ``lo..hi`` near 1..1000.

    Values up to 1000 and down to 0.01 are left as they are (factor 1).
    """
    peak = max(abs(lo), abs(hi))
    if peak == 0 or 0.01 <= peak < 1000:
        return 1.0
    return 1000.0 ** -math.floor(math.log10(peak) / 3)


def as_maps(arr: np.ndarray) -> np.ndarray:
    """A node output as ``(C, H, W)``: vectors ``(F,)`` become ``F`` maps of 1×1."""
    if arr.ndim == 1:
        return arr.reshape(-1, 1, 1)
    return arr


class FeatureGrid(QWidget):
    """Feature maps of the selected node.

    Signals
    -------
    pixel_hovered(str, int, int, int, float)   node, channel, y, x, value
    channel_clicked(str, int)                  node, channel (-1: back to all channels)
    """

    pixel_hovered = Signal(str, int, int, int, float)
    channel_clicked = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = None
        self.node: str | None = None  # the node whose maps are shown
        self.wanted: str | None = None  # the node asked for (the canvas selection)
        self.missing: str | None = None  # why the wanted node has no maps, when it has none
        self.reason_for = missing_text  # node → why the newest result has no maps of it
        self.blocked_for = lambda _node: None  # node → why its maps must not show (or None)
        self.page = 0
        self.enlarged: int | None = None
        self._maps: np.ndarray | None = None
        self._rows = self._cols = 0
        self._first = 0  # first channel of the page
        self._count = 0  # channels shown

        self.title = QLabel("Run the network to see feature maps.")
        self.title.setWordWrap(True)
        self.title.setMinimumWidth(60)
        self.weights_label = QLabel()
        self.weights_label.setToolTip(
            "The weights that made these maps. Random weights show what the wiring does "
            "to an image, not what a trained network has learnt."
        )
        self.set_weights_text(DEFAULT_WEIGHTS)
        self.per_channel = QCheckBox("Scale each channel")
        self.per_channel.setToolTip(
            "Stretch every channel to its own min–max "
            "(otherwise one colour scale for the whole node)"
        )
        self.per_channel.toggled.connect(self._redraw)
        self.back = QPushButton("All channels")
        self.back.clicked.connect(self.show_all)
        self.back.setVisible(False)
        self.page_box = QSpinBox()
        self.page_box.setPrefix("page ")
        self.page_box.setMinimum(1)
        self.page_box.valueChanged.connect(self._on_page)
        self.page_label = QLabel()
        self.readout = QLabel(" ")
        self.readout.setMinimumWidth(220)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.plot = pg.PlotWidget(enableMenu=False)  # (no menus made to be disabled)
        theme_plot(self.plot)
        self.view: pg.ViewBox = self.plot.getViewBox()
        self.view.setAspectLocked(True)
        self.view.invertY(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.image = pg.ImageItem(axisOrder="row-major", autoDownsample=True)
        self.plot.addItem(self.image)
        # The gaps between tiles, drawn again as 1-px screen lines: a mosaic shown smaller
        # than its pixels would lose some of its 1-pixel gaps, merging tiles.
        self.gaps = QGraphicsPathItem()
        pen = QPen(self.plot.backgroundBrush().color())
        pen.setCosmetic(True)
        self.gaps.setPen(pen)
        self.gaps.setZValue(1)
        self.plot.addItem(self.gaps)
        self.cmap = pg.colormap.get(COLORMAP)
        self.image.setColorMap(self.cmap)
        self.colorbar = pg.ColorBarItem(colorMap=self.cmap, interactive=False, width=14)
        self.colorbar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        # The colour bar's name and scale go in a line of text (scale_label), not in a
        # label turned along the bar: a bar shorter than its label would cut it.
        self.colorbar.axis.showLabel(False)
        self.colorbar.axis.enableAutoSIPrefix(False)
        self.scale_label = QLabel()
        self.scale_label.setToolTip("What the colours of the maps and of the colour bar mean")
        self.plot.scene().sigMouseMoved.connect(self._on_move)
        self.plot.scene().sigMouseClicked.connect(self._on_click)

        # The title has a row of its own: a long node id wraps instead of being cut.
        top = FlowLayout(spacing=6)  # a narrow grid puts the controls under the weights
        top.addWidget(self.weights_label, 1)
        top.addWidget(self.back)
        top.addWidget(self.page_box)
        top.addWidget(self.page_label)
        top.addWidget(self.per_channel)
        top.addWidget(self.scale_label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.title)
        lay.addLayout(top)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.readout)
        self._update_pager()

    # ------------------------------------------------------------------ public
    @property
    def channel_count(self) -> int:
        """Channels of the shown node (all pages)."""
        return 0 if self._maps is None else self._maps.shape[0]

    @property
    def shown_channels(self) -> int:
        """Channels in the current mosaic."""
        return self._count

    @property
    def levels(self) -> tuple[float, float]:
        """The colour scale's ``(low, high)``."""
        lo, hi = self.image.getLevels()
        return float(lo), float(hi)

    def set_weights_text(self, text: str) -> None:
        """Say which weights made the maps, e.g. ``random, seed 0`` or ``loaded from FILE``."""
        self.weights_text = text
        self.weights_label.setText(f"Weights: <b>{esc(text)}</b>")

    def set_stale(self, stale: bool) -> None:
        """Dim the maps (they show an older graph) or show them plainly."""
        self.plot.getPlotItem().setOpacity(STALE_OPACITY if stale else 1.0)

    @property
    def stale(self) -> bool:
        """Whether the maps are dimmed as stale."""
        return self.plot.getPlotItem().opacity() < 1.0

    def set_result(self, result) -> None:
        """Show maps from a new :class:`~engine.runtime.feature_types.FeatureResult`.

        The node asked for stays; with none asked for, the default node is shown.
        """
        old = self.node
        self.result = result
        node = self.wanted
        if node is None and result is not None:
            node = old if old in result.maps else self._default_node(result)
        self.set_node(node, keep_page=node == old)

    def refresh_reason(self) -> None:
        """Ask :attr:`reason_for` again why the wanted node has no maps (state changed)."""
        if self.wanted is None:
            return
        if self.missing is not None or self.blocked_for(self.wanted):
            self.set_node(self.wanted, keep_page=True)

    def set_node(self, node: str | None, keep_page: bool = False) -> None:
        """Show the maps of ``node`` from the last result, or why there are none."""
        result = self.result
        self.wanted = node
        blocked = self.blocked_for(node) if node is not None else None
        if result is None or node is None or node not in result.maps or blocked:
            self._maps = None
            self.node = None
            self.image.clear()
            self.back.setVisible(False)
            self.page_box.setVisible(False)
            self.page_label.setVisible(False)
            self.readout.setText(" ")
            if result is None:
                self.missing = None
                self.title.setText("Run the network to see feature maps.")
            elif node is None:
                self.missing = None
                self.title.setText("Select a node to see its feature maps.")
            else:
                self._show_missing(node)
            return
        self.missing = None
        if node != self.node or not keep_page:
            self.page = 0
            self.enlarged = None
        self.node = node
        self._maps = as_maps(result.maps[node])
        self._update_pager()
        self._redraw(reset_view=True)

    def show_all(self) -> None:
        """Leave the enlarged channel and show the whole page."""
        if self.enlarged is not None:
            self.enlarged = None
            self._redraw(reset_view=True)
            if self.node is not None:
                self.channel_clicked.emit(self.node, -1)

    def enlarge(self, channel: int) -> None:
        """Show ``channel`` alone."""
        if self._maps is None or not 0 <= channel < self._maps.shape[0]:
            return
        self.enlarged = channel
        self._redraw(reset_view=True)
        self.channel_clicked.emit(self.node, channel)

    def channel_at(self, ix: float, iy: float) -> tuple[int, int, int] | None:
        """``(channel, y, x)`` under mosaic pixel ``(ix, iy)``, or None in a gap/outside."""
        if self._maps is None:
            return None
        _, h, w = self._maps.shape
        ix, iy = int(math.floor(ix)), int(math.floor(iy))
        if ix < 0 or iy < 0:
            return None
        if self.enlarged is not None:
            if iy < h and ix < w:
                return self.enlarged, iy, ix
            return None
        col, x = divmod(ix, w + GAP)
        row, y = divmod(iy, h + GAP)
        if x >= w or y >= h or col >= self._cols or row >= self._rows:
            return None
        k = row * self._cols + col
        if k >= self._count:
            return None
        return self._first + k, y, x

    def tile_origin(self, channel: int) -> tuple[int, int]:
        """Mosaic ``(x, y)`` of ``channel``'s top-left pixel on the current page."""
        _, h, w = self._maps.shape
        row, col = divmod(channel - self._first, self._cols)
        return col * (w + GAP), row * (h + GAP)

    # ------------------------------------------------------------------ internals
    def _show_missing(self, node: str) -> None:
        self.missing = self.blocked_for(node) or self.reason_for(node)
        self.title.setText(self.missing)

    @staticmethod
    def _default_node(result) -> str | None:
        if result is None:
            return None
        if result.box is not None:
            return result.box.node
        return result.order[-1] if result.order else None

    def _update_pager(self) -> None:
        n = self.channel_count
        pages = max(1, math.ceil(n / PAGE_SIZE))
        self.page_box.blockSignals(True)
        self.page_box.setMaximum(pages)
        self.page_box.setValue(self.page + 1)
        self.page_box.blockSignals(False)
        self.page_box.setVisible(pages > 1)
        self.page_label.setVisible(pages > 1)
        self.page_label.setText(f"of {pages}")

    def _on_page(self, value: int) -> None:
        self.page = value - 1
        self.enlarged = None
        self._redraw(reset_view=True)

    def _redraw(self, *_args, reset_view: bool = False) -> None:
        maps = self._maps
        if maps is None:
            return
        n, h, w = maps.shape
        per = self.per_channel.isChecked()
        if self.enlarged is not None:
            self._first, self._count = self.enlarged, 1
            part = maps[self.enlarged : self.enlarged + 1]
        else:
            self._first = self.page * PAGE_SIZE
            part = maps[self._first : self._first + PAGE_SIZE]
            self._count = part.shape[0]
        img, self._rows, self._cols = mosaic(part, per_channel=per)
        if per:
            lo, hi = 0.0, 1.0
        else:
            lo, hi = float(np.min(part)), float(np.max(part))
            if hi <= lo:
                hi = lo + 1e-6
        self.image.setImage(img, autoLevels=False, levels=(lo, hi))
        self.gaps.setPath(self._gap_path(h, w))
        self.colorbar.setLevels((lo, hi))
        self._set_scale_text(lo, hi, per)
        shape = "×".join(str(d) for d in self.result.maps[self.node].shape)
        what = (
            f"channel {self.enlarged} (click it to go back)"
            if self.enlarged is not None
            else f"channels {self._first}–{self._first + self._count - 1} of {n}"
        )
        self.title.setText(
            f"<b>{esc(self.node)}</b> ({self.result.types.get(self.node, '')}, {shape}): {what}"
        )
        self.back.setVisible(self.enlarged is not None)
        if reset_view:
            self.view.autoRange(padding=0.02)

    def _set_scale_text(self, lo: float, hi: float, per: bool) -> None:
        """Scale the colour bar's tick values into a short range and say what they show."""
        if per:
            scale, text = 1.0, "colour: each channel, min → max"
        else:
            scale = colour_scale(lo, hi)
            text = "colour: activation" + ("" if scale == 1.0 else f" (×{1.0 / scale:g})")
        self.colorbar.axis.setScale(scale)
        self.scale_label.setText(text)

    def _gap_path(self, h: int, w: int) -> QPainterPath:
        """Lines along the gaps between the tiles of the shown page (none when enlarged)."""
        path = QPainterPath()
        if self.enlarged is not None:
            return path
        width = self._cols * (w + GAP) - GAP
        height = self._rows * (h + GAP) - GAP
        for c in range(1, self._cols):
            x = c * (w + GAP) - GAP / 2
            path.moveTo(x, 0)
            path.lineTo(x, height)
        for r in range(1, self._rows):
            y = r * (h + GAP) - GAP / 2
            path.moveTo(0, y)
            path.lineTo(width, y)
        return path

    def _image_pos(self, scene_pos) -> QPointF | None:
        if self._maps is None or not self.plot.sceneBoundingRect().contains(scene_pos):
            return None
        return self.image.mapFromScene(scene_pos)

    def _on_move(self, scene_pos) -> None:
        p = self._image_pos(scene_pos)
        hit = self.channel_at(p.x(), p.y()) if p is not None else None
        if hit is None:
            self.readout.setText(" ")
            return
        c, y, x = hit
        value = float(self._maps[c, y, x])
        if self.result.maps[self.node].ndim == 1:
            self.readout.setText(f"feature {c} = {value:.4g}")
        else:
            self.readout.setText(f"channel {c}, y {y}, x {x} = {value:.4g}")
        self.pixel_hovered.emit(self.node, c, y, x, value)

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        p = self._image_pos(event.scenePos())
        hit = self.channel_at(p.x(), p.y()) if p is not None else None
        if hit is None:
            return
        if self.enlarged is not None:
            self.show_all()
        else:
            self.enlarge(hit[0])
