"""pyqtgraph plots in the window's palette: background, axes and labels follow light or dark."""
from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication


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
