"""The input image with receptive-field boxes.

The solid box is the localisation: the receptive field of the strongest activation of
the last spatial node (the engine's :attr:`FeatureResult.box`), or of the node and
channel the user picked. The dashed box follows the mouse over any feature map: the
receptive field of the hovered pixel, from :func:`engine.runtime.features.rf_box` (no torch is
loaded by that import). The dotted outline is the part of the image the network sees
(after a centre crop).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

from engine.runtime.feature_types import Box
from engine.runtime.features import FeatureError, rf_box
from widgets.plot_theme import theme_plot

BOX_COLOR = QColor(255, 40, 40)
EFFECTIVE_COLOR = QColor(255, 200, 0)
HOVER_COLOR = QColor(0, 220, 255)
INPUT_COLOR = QColor(255, 255, 255)


def strongest_box(result, analysis, node: str, channel: int | None = None) -> Box:
    """The receptive-field box of ``node``'s largest activation (within ``channel``)."""
    arr = result.maps[node]
    if arr.ndim == 1:
        c = int(np.argmax(arr)) if channel is None else channel
        return rf_box(analysis, node, 0, 0, result.preprocess, channel=c, value=float(arr[c]))
    if channel is None:
        c, y, x = np.unravel_index(int(np.argmax(arr)), arr.shape)
    else:
        c = channel
        y, x = np.unravel_index(int(np.argmax(arr[channel])), arr.shape[1:])
    return rf_box(
        analysis, node, int(y), int(x), result.preprocess, channel=int(c), value=float(arr[c, y, x])
    )


def _rect_item(color: QColor, style: Qt.PenStyle, width: float = 2.0) -> QGraphicsRectItem:
    item = QGraphicsRectItem()
    pen = QPen(color, width)
    pen.setCosmetic(True)
    pen.setStyle(style)
    item.setPen(pen)
    item.setZValue(10)
    item.setVisible(False)
    return item


class RFView(QWidget):
    """The original image and the receptive-field boxes on it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = None
        self.analysis = None
        self.box: Box | None = None
        self.hover_box: Box | None = None
        self.plot = pg.PlotWidget()
        theme_plot(self.plot)
        self.plot.setMenuEnabled(False)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.view = self.plot.getViewBox()
        self.view.setAspectLocked(True)
        self.view.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.input_item = _rect_item(INPUT_COLOR, Qt.PenStyle.DotLine, 1.5)
        self.box_item = _rect_item(BOX_COLOR, Qt.PenStyle.SolidLine, 3.0)
        self.hover_item = _rect_item(HOVER_COLOR, Qt.PenStyle.DashLine, 2.0)
        # The effective receptive field (issue 13): |input gradient| as a heat overlay over
        # the network's input region, and the smallest box holding half of it.
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.heat)
        self.effective_item = _rect_item(EFFECTIVE_COLOR, Qt.PenStyle.SolidLine, 2.0)
        self.effective_box: tuple[int, int, int, int] | None = None
        for item in (self.input_item, self.box_item, self.hover_item, self.effective_item):
            self.plot.addItem(item)
        self.marker = pg.ScatterPlotItem(size=9, symbol="+", pen=pg.mkPen(BOX_COLOR, width=2))
        self.plot.addItem(self.marker)
        self.caption = QLabel("Run the network to locate its strongest activation.")
        self.caption.setWordWrap(True)
        self.hover_caption = QLabel(" ")
        self.hover_caption.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.caption)
        lay.addWidget(self.hover_caption)

    # ------------------------------------------------------------------ public
    def box_rect(self) -> tuple[int, int, int, int] | None:
        """The solid box as ``(x0, y0, x1, y1)`` original pixels, or None."""
        if self.box is None:
            return None
        return self.box.x0, self.box.y0, self.box.x1, self.box.y1

    def set_result(self, result, analysis=None) -> None:
        """Show ``result``'s image and its localisation box."""
        self.result = result
        self.analysis = (
            analysis
            if analysis is not None
            else (result.extra.get("analysis") if result is not None else None)
        )
        self.hover_box = None
        self.hover_item.setVisible(False)
        self.hover_caption.setText(" ")
        if result is None:
            self.image.clear()
            self.set_box(None)
            return
        self.image.setImage(result.image, autoLevels=False, levels=(0, 255))
        pre = result.preprocess
        h, w = pre.original_size
        oy, ox = pre.offset
        sy, sx = pre.scale
        ih, iw = pre.input_size
        rect = QRectF(ox, oy, iw * sx, ih * sy).intersected(QRectF(0, 0, w, h))
        self.input_item.setRect(rect)
        self.input_item.setVisible(pre.mode == "crop")
        self.view.autoRange(padding=0.02)
        self.set_effective(result.extra.get("effective_box"), result.extra.get("effective_grad"))
        self.set_box(result.box)

    def set_effective(self, box, grad) -> None:
        """Keep the result's effective box and gradient; :meth:`set_box` shows them with the
        localisation box they belong to."""
        self.effective_box = tuple(box) if box is not None else None
        self._effective_grad = grad

    def _show_effective(self, box: Box | None) -> None:
        """The heat overlay and effective box, when ``box`` is the result's localisation."""
        grad = getattr(self, "_effective_grad", None)
        rb = self.result.box if self.result is not None else None
        same = (
            box is not None
            and rb is not None
            and (box.node, box.channel, box.y, box.x) == (rb.node, rb.channel, rb.y, rb.x)
        )
        if not same or self.effective_box is None or grad is None:
            self.effective_item.setVisible(False)
            self.heat.clear()
            self.heat.setVisible(False)
            return
        x0, y0, x1, y1 = self.effective_box
        self.effective_item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.effective_item.setVisible(True)
        g = np.asarray(grad, np.float32)
        top = float(g.max()) if g.size else 0.0
        level = np.sqrt(g / top) if top > 0 else np.zeros_like(g)
        rgba = np.zeros(g.shape + (4,), np.uint8)
        rgba[..., 0] = 255
        rgba[..., 1] = (140 * level).astype(np.uint8)
        rgba[..., 3] = (200 * level).astype(np.uint8)
        self.heat.setImage(rgba, autoLevels=False, levels=(0, 255))
        pre = self.result.preprocess
        oy, ox = pre.offset
        sy, sx = pre.scale
        ih, iw = pre.input_size
        self.heat.setRect(QRectF(ox, oy, iw * sx, ih * sy))
        self.heat.setVisible(True)
        self.caption.setText(
            self.caption.text()
            + f"<br><span style='color:{EFFECTIVE_COLOR.darker(120).name()}'>■</span> effective "
            f"field (half the input gradient's mass, heat = |gradient|): x {x0}–{x1}, y {y0}–{y1}"
        )

    def rf_center(self, box: Box) -> tuple[float, float]:
        """The centre of ``box``'s receptive field before clipping, in image pixels.

        Deep layers see more than the image (their field is clipped to it); the centre
        still says where the activation sits.
        """
        nodes = getattr(self.analysis, "nodes", {})
        r = nodes.get(box.node)
        if r is None or r.rf is None or self.result is None:
            return (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        (sh, jh, st_h), (sw, jw, st_w) = r.rf
        pre = self.result.preprocess
        in_y = st_h + box.y * jh + sh / 2
        in_x = st_w + box.x * jw + sw / 2
        return pre.offset[1] + in_x * pre.scale[1], pre.offset[0] + in_y * pre.scale[0]

    def show_node(self, node: str, channel: int | None = None) -> None:
        """Box the strongest activation of ``node`` (within ``channel`` if given)."""
        if self.result is None or self.analysis is None or node not in self.result.maps:
            return
        try:
            box = strongest_box(self.result, self.analysis, node, channel)
        except (FeatureError, KeyError):
            return
        self.set_box(box)

    def set_box(self, box: Box | None) -> None:
        """Draw the solid localisation box."""
        self.box = box
        if box is None:
            self.box_item.setVisible(False)
            self._show_effective(None)
            self.marker.setData([])
            if self.result is not None:
                self.caption.setText("No spatial map to localise.")
            return
        self.box_item.setRect(QRectF(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0))
        self.box_item.setVisible(True)
        cx, cy = self.rf_center(box)
        self.marker.setData([cx], [cy])
        self.caption.setText(
            f"<span style='color:{BOX_COLOR.name()}'>■</span> strongest activation of "
            f"<b>{box.node}</b>: channel {box.channel}, y {box.y}, x {box.x} = {box.value:.4g}; "
            f"its receptive field covers x {box.x0}–{box.x1}, y {box.y0}–{box.y1} "
            f"({box.x1 - box.x0}×{box.y1 - box.y0} image pixels)"
        )
        self._show_effective(box)

    def hover(self, node: str, channel: int, y: int, x: int, value: float) -> None:
        """Draw the receptive field of feature pixel ``(y, x)`` of ``node`` (dashed)."""
        if self.result is None or self.analysis is None:
            return
        try:
            box = rf_box(
                self.analysis, node, y, x, self.result.preprocess, channel=channel, value=value
            )
        except (FeatureError, KeyError):
            return
        self.hover_box = box
        self.hover_item.setRect(QRectF(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0))
        self.hover_item.setVisible(True)
        self.hover_caption.setText(
            f"<span style='color:{HOVER_COLOR.darker(130).name()}'>▭</span> {node} channel "
            f"{channel}, y {y}, x {x} = {value:.4g} sees x {box.x0}–{box.x1}, y {box.y0}–{box.y1}"
        )
