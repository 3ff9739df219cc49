"""Colours, fonts and metrics of the node editor, for light and dark palettes.

A :class:`Theme` is built from the application palette (``Theme.current()``) and holds
every QColor, QFont and QFontMetricsF the items paint with, so that painting allocates
no fonts. The scene rebuilds it when the palette changes.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QFontMetricsF, QGuiApplication, QPalette

# Node geometry (scene units).
NODE_WIDTH = 184.0
HEADER_HEIGHT = 22.0
ROW_HEIGHT = 17.0
NODE_PAD = 6.0
NODE_MIN_HEIGHT = HEADER_HEIGHT + 2 * ROW_HEIGHT + 2 * NODE_PAD
NODE_RADIUS = 6.0
PORT_RADIUS = 5.0
PORT_HIT_RADIUS = 10.0
SLOT_FIRST = HEADER_HEIGHT + 14.0
SLOT_STEP = 18.0
TEXT_MARGIN = 10.0

# Category accents: mid-tone colours readable on light and dark backgrounds.
CATEGORY_ACCENTS = {
    "Input": "#2f9e5f",
    "Convolution": "#3c7fd9",
    "Pooling": "#d9822b",
    "Merge": "#9061d1",
    "Activation": "#c2477a",
    "Other": "#72808f",
}

ERROR_COLOR = "#d93f3f"
OK_COLOR = "#2f9e5f"


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a fraction ``t`` towards ``b``."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
        1.0,
    )


class Theme:
    """Everything the canvas paints with, derived from a palette."""

    def __init__(self, palette: QPalette, base_font: QFont) -> None:
        window = palette.color(QPalette.ColorRole.Window)
        self.dark = window.lightness() < 128
        dark = self.dark
        self.canvas = QColor("#1d1f23") if dark else QColor("#f3f4f6")
        self.grid_minor = QColor("#25282d") if dark else QColor("#e7e9ec")
        self.grid_major = QColor("#2e3238") if dark else QColor("#d8dbe0")
        self.node_body = QColor("#2a2d33") if dark else QColor("#ffffff")
        self.node_border = QColor("#474c55") if dark else QColor("#c3c8d0")
        self.text = QColor("#e8e9ec") if dark else QColor("#1c1f24")
        self.text_muted = QColor("#a5abb5") if dark else QColor("#5a616c")
        self.edge = QColor("#7f8792") if dark else QColor("#8d949f")
        self.edge_label_bg = QColor(self.canvas)
        self.edge_label_bg.setAlpha(225)
        self.highlight = QColor(palette.color(QPalette.ColorRole.Highlight))
        if self.highlight.lightness() < 60 or self.highlight.saturation() < 40:
            self.highlight = QColor("#3d8bfd")
        self.error = QColor(ERROR_COLOR)
        self.badge_text = QColor("white")
        self.ok = QColor(OK_COLOR)
        self.port_fill = QColor("#3a3f47") if dark else QColor("#ffffff")
        self.port_free = QColor("#5b616b") if dark else QColor("#b7bcc4")
        self.accents = {k: QColor(v) for k, v in CATEGORY_ACCENTS.items()}
        self.headers = {
            k: _mix(self.node_body, c, 0.30 if dark else 0.16) for k, c in self.accents.items()
        }
        self.message_bg = QColor("#4a2326") if dark else QColor("#fdecec")
        self.message_text = QColor("#ffd7d7") if dark else QColor("#8a1c1c")

        size = base_font.pointSizeF() if base_font.pointSizeF() > 0 else 9.0
        size = min(max(size, 8.0), 11.0)
        self.title_font = QFont(base_font)
        self.title_font.setPointSizeF(size)
        self.title_font.setWeight(QFont.Weight.DemiBold)
        self.body_font = QFont(base_font)
        self.body_font.setPointSizeF(size - 0.5)
        self.shape_font = QFont(self.body_font)
        self.shape_font.setWeight(QFont.Weight.DemiBold)
        self.small_font = QFont(base_font)
        self.small_font.setPointSizeF(max(size - 1.5, 7.0))
        self.badge_font = QFont(base_font)
        self.badge_font.setPointSizeF(size - 1.0)
        self.badge_font.setWeight(QFont.Weight.Bold)
        self.title_metrics = QFontMetricsF(self.title_font)
        self.body_metrics = QFontMetricsF(self.body_font)
        self.shape_metrics = QFontMetricsF(self.shape_font)
        self.small_metrics = QFontMetricsF(self.small_font)
        self._labels: dict[int, tuple[QFont, QFontMetricsF]] = {}
        self._small_widths: dict[str, float] = {}

    def small_width(self, text: str) -> float:
        """The advance of ``text`` in the small font, cached (edge labels repeat a few
        shapes: an input-size edit relabels hundreds of edges with the same text)."""
        width = self._small_widths.get(text)
        if width is None:
            if len(self._small_widths) > 4096:
                self._small_widths.clear()
            width = self._small_widths[text] = self.small_metrics.horizontalAdvance(text)
        return width

    def label_font(self, px: int) -> tuple[QFont, QFontMetricsF]:
        """The zoomed-out label font at ``px`` screen pixels, cached."""
        hit = self._labels.get(px)
        if hit is None:
            font = QFont(self.shape_font)
            font.setPixelSize(px)
            hit = self._labels[px] = (font, QFontMetricsF(font))
        return hit

    def accent(self, category: str) -> QColor:
        """The accent colour of a palette category."""
        return self.accents.get(category, self.accents["Other"])

    def header(self, category: str) -> QColor:
        """The header fill of a node of ``category``."""
        return self.headers.get(category, self.headers["Other"])

    def tinted(self, tint: QColor) -> QColor:
        """A node body tinted by a metric colour, keeping the text readable."""
        return _mix(self.node_body, tint, 0.55 if self.dark else 0.45)

    @classmethod
    def current(cls) -> Theme:
        """The theme for the application's current palette and font."""
        app = QGuiApplication.instance()
        if app is None:  # pragma: no cover - items are only made with an application
            return cls(QPalette(), QFont())
        return cls(QGuiApplication.palette(), QGuiApplication.font())
