"""The input image with receptive-field boxes and where the network looked.

The solid red box is the receptive field of the strongest activation of the last spatial
node (the engine's :attr:`FeatureResult.box`), or of the node and channel the user
picked. The dashed box follows the mouse over any feature map: the receptive field of the
hovered pixel, from :func:`engine.analysis.rf_boxes.rf_box` (no torch is loaded by that
import). The dotted outline is the part of the image the network sees (after a centre
crop).

The method choice above the image shows one localisation method's heat map and box
(computed in the worker by :mod:`engine.runtime.localise`, carried in
``result.extra["localised"]``): the receptive field, the effective field (the input
gradient of that strongest activation), the class activation map or Grad-CAM of the
predicted class. They describe the run, whichever node is selected, and the caption
says which activation or class they trace.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGraphicsRectItem,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.analysis.heat import METHODS, TITLES
from engine.analysis.rf_boxes import Box, rf_box
from engine.core.errors import FeatureError
from widgets.plot_theme import theme_plot

BOX_COLOR = QColor(255, 40, 40)
EFFECTIVE_COLOR = QColor(255, 200, 0)
HOVER_COLOR = QColor(0, 220, 255)
INPUT_COLOR = QColor(255, 255, 255)
METHOD_COLORS = {
    "receptive_field": QColor(255, 120, 120),
    "effective": EFFECTIVE_COLOR,
    "class_activation": QColor(90, 230, 90),
    "grad_cam": QColor(255, 90, 255),
}
DEFAULT_METHOD = "effective"


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


def heat_rgba(heat: np.ndarray) -> np.ndarray:
    """A ``[0, 1]`` heat map as an RGBA overlay, dark red through orange to yellow: opacity
    grows with the square root of the heat, so that faint mass stays visible. One scale for
    every method (the box carries the method's colour), readable on any photo."""
    level = np.sqrt(np.clip(np.asarray(heat, np.float32), 0.0, 1.0))
    rgba = np.empty(level.shape + (4,), np.uint8)
    rgba[..., 0] = (160 + 95 * np.minimum(1.0, 2 * level)).astype(np.uint8)
    rgba[..., 1] = (230 * level**1.5).astype(np.uint8)
    rgba[..., 2] = (60 * np.maximum(0.0, level - 0.7) / 0.3).astype(np.uint8)
    rgba[..., 3] = (210 * level).astype(np.uint8)
    return rgba


class RFView(QWidget):
    """The original image, the receptive-field boxes and one localisation method on it.

    Signals
    -------
    method_changed(str)   the localisation method shown
    """

    method_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = None
        self.analysis = None
        self.box: Box | None = None
        self.hover_box: Box | None = None
        self.plot = pg.PlotWidget(enableMenu=False)  # (no menus made to be disabled)
        theme_plot(self.plot)
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
        self.effective_item = _rect_item(EFFECTIVE_COLOR, Qt.PenStyle.SolidLine, 2.5)
        self.effective_item.setZValue(11)
        self.effective_box: tuple[int, int, int, int] | None = None
        self.localised: dict = {}
        self.skipped: dict[str, str] = {}
        self.class_names: list[str] = []  # of the weights in use (InsidePanel sets them)
        self.method = DEFAULT_METHOD
        self.method_box = QComboBox()
        for m in METHODS:
            self.method_box.addItem(TITLES[m], m)
        self.method_box.setCurrentIndex(METHODS.index(DEFAULT_METHOD))
        self.method_box.setToolTip(
            "Where the network looked: the heat map and box of one localisation method for "
            "the last run: the receptive "
            "field or the effective field (input gradient) of the strongest activation, or "
            "the class activation map / Grad-CAM of the predicted class"
        )
        self.method_box.currentIndexChanged.connect(
            lambda _i: self.set_method(self.method_box.currentData())
        )
        for item in (self.input_item, self.box_item, self.hover_item, self.effective_item):
            self.plot.addItem(item)
        self.marker = pg.ScatterPlotItem(size=9, symbol="+", pen=pg.mkPen(BOX_COLOR, width=2))
        self.plot.addItem(self.marker)
        self.caption = QLabel("Run the network to locate its strongest activation.")
        self.caption.setWordWrap(True)
        self.method_caption = QLabel(" ")
        self.method_caption.setWordWrap(True)
        self.hover_caption = QLabel(" ")
        self.hover_caption.setWordWrap(True)
        for label in (self.caption, self.method_caption, self.hover_caption):
            font = label.font()  # captions a notch smaller: the photo keeps the room
            font.setPointSizeF(font.pointSizeF() * 0.9)
            label.setFont(font)
        self.plot.setMinimumHeight(140)  # a narrow column wraps captions; the photo stays
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.method_box)
        lay.addWidget(self.plot, 1)
        # The captions scroll below the photo: in a short panel they never overlap it.
        texts = QWidget()
        text_lay = QVBoxLayout(texts)
        text_lay.setContentsMargins(0, 0, 0, 0)
        for label in (self.caption, self.method_caption, self.hover_caption):
            text_lay.addWidget(label)
        text_lay.addStretch(1)
        self.captions = QScrollArea()
        self.captions.setWidget(texts)
        self.captions.setWidgetResizable(True)
        self.captions.setFrameShape(QFrame.NoFrame)
        self.captions.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.captions.setMinimumHeight(40)
        lay.addWidget(self.captions)

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
        # The image fills the view at once (autoRange would also fit the previous image's
        # heat map and boxes, still in place here: a small image then sat in a corner).
        self.view.setRange(QRectF(0, 0, w, h), padding=0.02)
        self.set_effective(result.extra.get("effective_box"), result.extra.get("effective_grad"))
        self.localised = dict(result.extra.get("localised") or {})
        self.skipped = dict(result.extra.get("localise_skipped") or {})
        self.set_box(result.box)
        self.show_method()

    def set_effective(self, box, grad) -> None:
        """Keep the result's effective box and gradient (shown when the method is ``effective``)."""
        self.effective_box = tuple(box) if box is not None else None
        self._effective_grad = grad

    def set_method(self, method: str) -> None:
        """Show ``method``'s heat map and box (one of :data:`engine.analysis.heat.METHODS`)."""
        if method not in METHODS:
            raise ValueError(f"unknown localisation method {method!r}")
        if self.method_box.currentData() != method:
            self.method_box.setCurrentIndex(METHODS.index(method))  # (calls back once)
            return
        self.method = method
        self.show_method()
        self.method_changed.emit(method)

    def method_rect(self) -> tuple[int, int, int, int] | None:
        """The shown method's box ``(x0, y0, x1, y1)`` in image pixels, or ``None``."""
        if not self.effective_item.isVisible():
            return None
        r = self.effective_item.rect()
        return round(r.left()), round(r.top()), round(r.right()), round(r.bottom())

    def show_method(self) -> None:
        """Draw the chosen method's heat overlay and box for the current result.

        The methods describe the run (the strongest activation of the last spatial node,
        the predicted class), so they stay whichever node is selected; the caption says
        what they trace. Without the worker's maps (an older worker, or a design they do
        not apply to) the effective field falls back to ``effective_box``/``_grad``.
        """
        loc = self.localised.get(self.method) if self.result is not None else None
        color = METHOD_COLORS[self.method]
        if loc is not None:
            box, heat = loc.box, loc.heat
        elif self.method == "effective" and self.effective_box is not None:
            box, heat = self.effective_box, getattr(self, "_effective_grad", None)
        else:
            box, heat = None, None
        if box is None or self.result is None:
            self.effective_item.setVisible(False)
            self.heat.clear()
            self.heat.setVisible(False)
            why = self.skipped.get(self.method) or self.skipped.get("all")
            self.method_caption.setText(
                f"{TITLES[self.method]}: not available for this design ({why})."
                if why and self.result is not None
                else " "
            )
            return
        x0, y0, x1, y1 = box
        pen = self.effective_item.pen()
        pen.setColor(color)
        self.effective_item.setPen(pen)
        self.effective_item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.effective_item.setVisible(True)
        if heat is not None:
            g = np.asarray(heat, np.float32)
            top = float(g.max()) if g.size else 0.0
            self.heat.setImage(
                heat_rgba(g / top if top > 0 else g), autoLevels=False, levels=(0, 255)
            )
            pre = self.result.preprocess
            oy, ox = pre.offset
            sy, sx = pre.scale
            ih, iw = pre.input_size
            self.heat.setRect(QRectF(ox, oy, iw * sx, ih * sy))
            self.heat.setVisible(True)
        else:
            self.heat.setVisible(False)
        self.method_caption.setText(
            f"<span style='color:{color.darker(120).name()}'>■</span> "
            + self._method_text(loc, box)
        )

    def _method_text(self, loc, box) -> str:
        """One short line: what the shown method traces, and its box."""
        x0, y0, x1, y1 = box
        where = f"x {x0}–{x1}, y {y0}–{y1}"
        b = self.result.box
        node = loc.node if loc is not None else (b.node if b is not None else "?")
        if self.method in ("receptive_field", "effective"):
            what = "receptive field" if self.method == "receptive_field" else "effective field"
            ch = f" ch {b.channel} ({b.y}, {b.x})" if b is not None else ""
            return f"{what} of the strongest <b>{node}</b>{ch}: {where}"
        cls = loc.cls if loc is not None else None
        names = self.class_names or []
        name = f"'{names[cls]}'" if cls is not None and cls < len(names) else f"class {cls}"
        what = "class activation map" if self.method == "class_activation" else "Grad-CAM"
        return f"{what} of the predicted {name} over <b>{node}</b>: {where}"

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
