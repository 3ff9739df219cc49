"""The Train panel's small plots: their legends never cover the curves."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRect

LEGEND_NAMES = {
    "accuracy": ("training", "held-out"),
    "sparsity by depth": ("random", "trained"),
}


def _panel(win, qtbot):
    win.resize(1366, 768)  # a small laptop screen: the plots are ~190×140
    panel = win.train_host.show_panel()
    st = panel.state
    st.steps[:] = list(range(1, 101))
    st.losses[:] = [2.0 - k / 100 for k in range(100)]
    st.accs[:] = [k / 100 for k in range(100)]
    st.held[:] = [(k, k / 100) for k in range(10, 101, 10)]
    st.series.update(
        random=[(d, 50.0 + d) for d in range(1, 16, 2)],
        trained=[(d, 60.0 - d) for d in range(1, 16, 2)],
    )
    panel._redraw()
    panel._draw_series()
    qtbot.wait(50)
    return panel


def _data_rect(panel, plot) -> QRect:
    """The plot's data area (its view box) in the panel's coordinates."""
    vb = plot.getPlotItem().getViewBox()
    rect = plot.mapFromScene(vb.sceneBoundingRect()).boundingRect()
    return rect.translated(plot.mapTo(panel, rect.topLeft()) - rect.topLeft())


def test_no_legend_is_drawn_inside_a_plots_data_area(win, qtbot):
    """No pyqtgraph legend box overlaps the data area of the accuracy or sparsity plot."""
    panel = _panel(win, qtbot)
    for plot in (panel.loss_plot, panel.acc_plot, panel.sparsity_plot):
        vb = plot.getPlotItem().getViewBox().sceneBoundingRect()
        inside = [
            item.sceneBoundingRect()
            for item in plot.scene().items()
            if isinstance(item, pg.LegendItem) and item.isVisible()
        ]
        assert not [r for r in inside if r.intersects(vb)]


def test_legends_show_whole_under_their_plots(win, qtbot):
    """Each curve's name shows in full in a line under its plot, clear of the data area."""
    panel = _panel(win, qtbot)
    for plot in (panel.acc_plot, panel.sparsity_plot):
        title = plot.getPlotItem().titleLabel.text
        label = next(lab for lab in panel.legends.values() if LEGEND_NAMES[title][0] in lab.text())
        for name in LEGEND_NAMES[title]:
            assert name in label.text()
        where = QRect(label.mapTo(panel, label.rect().topLeft()), label.size())
        assert label.isVisible() and panel.rect().contains(where)
        assert label.width() >= label.sizeHint().width()  # no name cut off
        assert label.height() >= label.sizeHint().height()
        assert not where.intersects(_data_rect(panel, plot))
        assert where.top() >= _data_rect(panel, plot).bottom()
