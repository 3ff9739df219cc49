"""pyqtgraph plots in the window's palette: background, axes and labels follow light or dark."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from designer.plaintext import esc


def theme_plot(widget) -> None:
    """Give a ``pg.PlotWidget`` the application palette's base and text colours."""
    app = QApplication.instance()
    pal = app.palette() if app is not None else QPalette()
    base = pal.color(QPalette.ColorRole.Base)
    text = pal.color(QPalette.ColorRole.Text)
    widget.setBackground(base)
    item = widget.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(text)
        axis.setTextPen(text)
    item.titleLabel.setAttr("color", text.name())
    if item.titleLabel.text:
        item.setTitle(item.titleLabel.text)


def status_colors(palette) -> tuple[str, str, str]:
    """``(good, bad, warn)`` text colours readable on ``palette``'s window colour."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    if dark:
        return "#7bd88f", "#ff7b72", "#f0b35a"
    return "#2e7d32", "#c62828", "#b26a00"


def legend_label(entries: list[tuple[str, tuple[int, int, int], str]]) -> QLabel:
    """A plot's legend as one line of text: ``(glyph, rgb, name)`` per curve.

    The line does not wrap (a wrapped legend under a plot squeezed at its minimum size
    overlapped the plot): keep the names short.
    """
    parts = [
        f'<span style="color:{QColor(*rgb).name()}">{glyph}</span>&nbsp;{esc(name)}'
        for glyph, rgb, name in entries
    ]
    label = QLabel(" &nbsp; ".join(parts))
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
    return label
