"""The compare view: 2–4 open designs side by side, live, with Markdown and PNG export.

Pick the designs in the slots at the top (the first is the baseline; a design's pinned
baseline can be picked too). The table shows the totals of
:func:`engine.analysis.compare.compare` with the change against the baseline; the bar
charts split params, MACs and activation memory by block, stage or layer
(:func:`engine.analysis.compare.breakdown`). The view listens to the compared designs'
``analysis_changed`` and redraws at once, reading their live analyses (no re-analysis).

When compared designs have weights trained on the same data (the document's weight set
names the data and the held-out accuracy), their accuracies are shown below with their
sparsity by depth overlaid (from each design's last feature run); the same overlay
appears whenever two designs have a feature run.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QGraphicsItem,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.plaintext import esc
from engine.analysis.analyzer import analyze
from engine.analysis.compare import Comparison, compare
from engine.analysis.compare_text import cells, markdown
from engine.formatting import fmt_bytes, fmt_compact
from widgets.eliding_combo import ElidingComboBox
from widgets.plot_theme import status_colors, theme_plot

SLOTS = 4
#: One colour per compared design (baseline first), readable on light and dark.
COLORS = ("#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c")
CHARTS = (
    ("params", "params", ""),
    ("macs", "MACs", ""),
    ("activation_bytes", "activation memory", "B"),
)


class _CountAxis(pg.AxisItem):
    """Bottom axis with ``12.3 k`` / ``1.2 M`` counts, or ``3.1 MiB`` for bytes."""

    def __init__(self, unit: str) -> None:
        super().__init__("bottom")
        self.unit = unit

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph's names
        """Bytes: steps of 1, 2 or 5 × 10ⁿ KiB/MiB/GiB, so the labels are round."""
        if self.unit != "B" or maxVal <= minVal:
            return super().tickSpacing(minVal, maxVal, size)
        span = maxVal - minVal
        unit = 1.0
        while span / unit >= 1024 and unit < 1 << 40:
            unit *= 1024
        target = span / unit / max(2.0, size / 90.0)  # about one label per 90 px
        exp = 10 ** math.floor(math.log10(target)) if target > 0 else 1
        step = next((m * exp for m in (1, 2, 5, 10) if m * exp >= target), 10 * exp)
        return [(step * unit, 0), (step * unit / 5, 0)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        fmt = fmt_bytes if self.unit == "B" else fmt_compact
        return [fmt(v * scale) if v else "0" for v in values]


KIND_TITLES = {"blocks": "by block", "stages": "by stage (spatial size)", "layers": "by layer"}


class Entry:
    """One compared design: a tab's live design, or the baseline pinned in that tab."""

    def __init__(self, tab, pinned: bool = False) -> None:
        self.tab = tab
        self.pinned = pinned
        self._analysis = None
        self._pinned_model = None

    @property
    def name(self) -> str:
        """The design's name (``… (pinned)`` for a pinned baseline)."""
        if self.pinned:
            return f"{self.tab.totals_bar.pinned_model.name} (pinned)"
        return self.tab.doc.model.name

    @property
    def file(self) -> str:
        """Where the design comes from."""
        path = self.tab.doc.path
        where = str(path) if path is not None else "unsaved tab"
        return f"pinned in {where}" if self.pinned else where

    def analysis(self):
        """The live analysis of the tab, or the (cached) analysis of the pinned copy."""
        if not self.pinned:
            return self.tab.doc.analysis
        model = self.tab.totals_bar.pinned_model
        if model is not self._pinned_model:
            self._pinned_model, self._analysis = model, analyze(model)
        return self._analysis

    def valid(self) -> bool:
        """Whether the tab is still open (and still has its pinned copy)."""
        try:
            bar = self.tab.totals_bar
        except RuntimeError:  # the tab was deleted
            return False
        return not self.pinned or getattr(bar, "pinned_model", None) is not None

    def key(self) -> tuple:
        """Identity for the slot menus."""
        return (id(self.tab), self.pinned)


def feature_result(tab):
    """The tab's last feature run, or ``None``."""
    host = getattr(tab, "inside_host", None)
    panel = getattr(host, "panel", None) if host is not None else None
    return getattr(panel, "result", None) if panel is not None else None


def trained(tab) -> tuple[str, float] | None:
    """``(data, held-out accuracy)`` of the tab's trained or loaded weights, or ``None``.

    Read from the document's weight set (``kind`` not ``random``, ``meta`` with ``data``
    and ``accuracy``, as training writes them); the accuracy is ``nan`` when unknown.
    """
    w = getattr(tab.doc, "weights", None)
    if w is None or getattr(w, "kind", "random") == "random":
        return None
    meta = getattr(w, "meta", {}) or {}
    data = meta.get("data")
    if not data:
        return None
    try:
        acc = float(meta.get("accuracy", "nan"))
    except ValueError:
        acc = float("nan")
    return str(data), acc


class CompareView(QWidget):
    """A window comparing 2–4 designs of the main window (see the module docstring)."""

    def __init__(self, window) -> None:
        super().__init__(window, Qt.WindowType.Window)
        self.window_ = window
        self.setWindowTitle("Compare designs — ConvCanvas")
        self.entries: list[Entry] = []
        self.comparison: Comparison | None = None
        self._watched: list = []
        self._header: list[str] = []
        self._bars: dict[str, list] = {}  # chart key → one BarGraphItem per design
        self._bar_layout: tuple | None = None
        self._xmax: dict[str, float] = {}
        self.ask_save_path = self._ask_save_path  # tests replace this

        self.slots: list[ElidingComboBox] = []
        top = QHBoxLayout()
        for i in range(SLOTS):
            top.addWidget(QLabel("Baseline:" if i == 0 else "vs"))
            box = ElidingComboBox()  # as wide as its names allow; elided in the middle
            box.activated.connect(lambda _i: self._on_slots_changed())
            self.slots.append(box)
            top.addWidget(box)
        self.copy_button = QPushButton("Copy Markdown")
        self.copy_button.setToolTip("Copy the table as Markdown, for a report")
        self.copy_button.clicked.connect(self.copy_markdown)
        self.md_button = QPushButton("Save Markdown…")
        self.md_button.clicked.connect(lambda: self.save_markdown())
        self.png_button = QPushButton("Save PNG…")
        self.png_button.setToolTip("Save the table and the bar charts as a picture")
        self.png_button.clicked.connect(lambda: self.save_png())
        top.addStretch(1)
        for b in (self.copy_button, self.md_button, self.png_button):
            top.addWidget(b)

        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

        self.breakdown_title = QLabel()
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.plots: dict[str, pg.PlotWidget] = {}
        charts = QHBoxLayout()
        charts.setSpacing(4)
        for key, title, unit in CHARTS:
            plot = pg.PlotWidget(axisItems={"bottom": _CountAxis(unit)})
            theme_plot(plot)
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            pi = plot.getPlotItem()
            pi.setTitle(title)
            pi.getAxis("left").setWidth(110)
            for name in ("left", "bottom"):
                # Repainting the bars must not redraw every tick label: axes are cached.
                pi.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            pi.showGrid(x=True, alpha=0.2)
            pi.invertY(True)
            if self.plots:
                pi.hideAxis("left")
                plot.setYLink(self.plots["params"])
            self.plots[key] = plot
            charts.addWidget(plot, 4 if key == "params" else 3)
        # A chart resized (or first laid out) relabels its groups to fit its height.
        self.plots["params"].getPlotItem().getViewBox().sigResized.connect(self._apply_ticks)
        self.charts = QWidget()
        cl = QVBoxLayout(self.charts)
        cl.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(self.breakdown_title)
        head.addStretch(1)
        head.addWidget(self.legend)
        cl.addLayout(head)
        cl.addLayout(charts, 1)

        self.run_box = QWidget()
        rl = QHBoxLayout(self.run_box)
        rl.setContentsMargins(0, 0, 0, 0)
        self.accuracy = QLabel()
        self.accuracy.setWordWrap(True)
        self.sparsity = pg.PlotWidget()
        theme_plot(self.sparsity)
        self.sparsity.setMenuEnabled(False)
        sp = self.sparsity.getPlotItem()
        sp.setTitle("sparsity by depth (ReLU outputs)")
        sp.setLabel("bottom", "depth")
        sp.setLabel("left", "zeros (%)")
        sp.addLegend(offset=(-10, 10))
        rl.addWidget(self.accuracy, 1)
        rl.addWidget(self.sparsity, 3)
        self.run_box.hide()

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.charts)
        split.addWidget(self.run_box)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 5)
        split.setStretchFactor(2, 3)
        split.setSizes([22 * 12, 420, 0])
        self.splitter = split
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        # Wide enough for three designs' full names in the top row, within the screen.
        screen = self.screen().availableGeometry()
        self.resize(min(1300, screen.width() - 40), min(760, screen.height() - 40))

        window.design_closed.connect(self._on_design_closed)
        window.current_design_changed.connect(lambda _t: self._fill_slots())

    # ------------------------------------------------------------------ choosing
    def choices(self) -> list[Entry]:
        """Every design that can be compared: each tab, and each tab's pinned baseline."""
        out = []
        for tab in self.window_.tabs_list():
            out.append(Entry(tab))
            if getattr(tab.totals_bar, "pinned_model", None) is not None:
                out.append(Entry(tab, pinned=True))
        return out

    def set_designs(self, tabs_or_entries: list) -> None:
        """Compare these tabs (or :class:`Entry` objects), the first as the baseline.

        A single tab with a pinned baseline is compared against that baseline.
        """
        entries = [e if isinstance(e, Entry) else Entry(e) for e in tabs_or_entries][:SLOTS]
        if len(entries) == 1 and getattr(entries[0].tab.totals_bar, "pinned_model", None):
            entries.insert(0, Entry(entries[0].tab, pinned=True))
        self.entries = entries
        self._fill_slots()
        self.refresh()

    def _fill_slots(self) -> None:
        self.entries = [e for e in self.entries if e.valid()]
        options = self.choices()
        for i, box in enumerate(self.slots):
            box.blockSignals(True)
            box.clear()
            box.addItem("(none)" if i else "(choose)", None)
            for e in options:
                # Numbered as the tabs are, so two designs of one name stay apart.
                box.addItem(f"{self.window_.design_tabs.indexOf(e.tab) + 1}. {e.name}", e)
            want = self.entries[i].key() if i < len(self.entries) else None
            idx = next((k + 1 for k, e in enumerate(options) if e.key() == want), 0)
            box.setCurrentIndex(idx)
            box.blockSignals(False)
            box.updateGeometry()  # its width follows its name

    def _on_slots_changed(self) -> None:
        entries = [box.currentData() for box in self.slots]
        self.entries = [e for e in entries if e is not None]
        self.refresh()

    def _on_design_closed(self, tab) -> None:
        if any(e.tab is tab for e in self.entries):
            self.entries = [e for e in self.entries if e.tab is not tab]
            self._unwatch()
        self._fill_slots()
        self.refresh()

    # ------------------------------------------------------------------ live updates
    def _watch(self) -> None:
        """Listen to the compared designs: edits, renames, weights, feature runs."""
        self._unwatch()
        seen = set()
        for e in self.entries:
            tab = e.tab
            if id(tab) in seen:
                continue
            seen.add(id(tab))
            doc = tab.doc
            pairs = [(doc.analysis_changed, self._on_changed), (doc.name_changed, self._on_renamed)]
            if hasattr(tab.totals_bar, "pin_changed"):
                pairs.append((tab.totals_bar.pin_changed, self._on_renamed))
            if hasattr(doc, "weights_changed"):
                pairs.append((doc.weights_changed, self._on_changed))
            host = getattr(tab, "inside_host", None)
            if host is not None:
                if host.panel is not None:
                    pairs.append((host.panel.result_shown, self._on_changed))
                else:
                    pairs.append((host.panel_built, self._on_panel_built))
            for signal, slot in pairs:
                signal.connect(slot)
            self._watched.extend(pairs)

    def _unwatch(self) -> None:
        for signal, slot in self._watched:
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):  # already gone with its tab
                pass
        self._watched = []

    def _on_panel_built(self, _panel) -> None:
        self.refresh()  # now its feature runs can be followed

    def _on_changed(self, _changed=None) -> None:
        self.update_view()

    def _on_renamed(self, _name: str = "") -> None:
        self._fill_slots()
        self.update_view()

    # ------------------------------------------------------------------ showing
    def refresh(self) -> None:
        """Re-read the chosen designs, watch them, and redraw."""
        self._watch()
        self.update_view()

    def update_view(self) -> None:
        """Compare the chosen designs now and show the table, charts and runs."""
        entries = [e for e in self.entries if e.valid()]
        if not entries:
            self.comparison = None
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            for key, plot in self.plots.items():
                for item in self._bars.pop(key, []):
                    plot.getPlotItem().removeItem(item)
            self._bar_layout = None
            self._header = []
            self.run_box.hide()
            return
        self.comparison = compare(
            [e.analysis() for e in entries], [e.name for e in entries], [e.file for e in entries]
        )
        self._show_table(self.comparison)
        self._show_bars(self.comparison)
        self._show_runs(entries)

    def _show_table(self, comp: Comparison) -> None:
        rows = cells(comp)
        good, bad, _warn = status_colors(self.palette())
        t = self.table
        header = [text for text, _ in rows[0]]
        if (t.rowCount(), t.columnCount()) != (len(rows) - 1, len(header)):
            t.setRowCount(len(rows) - 1)
            t.setColumnCount(len(header))
        if header != self._header:
            t.setHorizontalHeaderLabels(header)
            self._header = header
        # Only cells whose text or colour changed are touched (each change re-measures).
        for r, row in enumerate(rows[1:]):
            for c, (text, sign) in enumerate(row):
                item = t.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    align = Qt.AlignmentFlag.AlignLeft if c == 0 else Qt.AlignmentFlag.AlignRight
                    item.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
                    t.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
                # Costs: less is green, more is red (receptive field and depth: no colour).
                color = (good if sign < 0 else bad) if sign and r < 6 else None
                if item.data(Qt.ItemDataRole.UserRole) != color:
                    item.setData(Qt.ItemDataRole.UserRole, color)
                    item.setForeground(QBrush(QColor(color)) if color else QBrush())

    def _show_bars(self, comp: Comparison) -> None:
        b = comp.breakdown
        n = len(comp.designs)
        groups = b.groups
        layout = (b.kind, tuple(groups), tuple(d.name for d in comp.designs))
        rebuild = layout != self._bar_layout
        if rebuild:
            self._bar_layout = layout
            self.breakdown_title.setText(f"<b>Breakdown {KIND_TITLES[b.kind]}</b>")
            self.legend.setText(
                "  ".join(
                    f'<span style="color:{COLORS[i]}">■</span> {esc(d.name)}'
                    for i, d in enumerate(comp.designs)
                )
            )
            self._tick_groups = list(groups)
        y = np.arange(len(groups), dtype=float)
        height = 0.8 / n
        for key, plot in self.plots.items():
            pi = plot.getPlotItem()
            if rebuild:
                for item in self._bars.get(key, []):
                    pi.removeItem(item)
                self._bars[key] = []
            top = 0.0
            for i in range(n):
                values = np.asarray(b.series(i, key), dtype=float)
                top = max(top, float(values.max()) if len(values) else 0.0)
                if rebuild:
                    bars = pg.BarGraphItem(
                        x0=0,
                        y=y - 0.4 + height * (i + 0.5),
                        height=height * 0.92,
                        width=values,
                        brush=COLORS[i],
                        pen=None,
                    )
                    pi.addItem(bars)
                    self._bars[key].append(bars)
                else:
                    self._bars[key][i].setOpts(width=values)
            if rebuild:
                self._apply_ticks()
                pi.setYRange(-0.6, len(groups) - 0.4, padding=0)
                pi.getViewBox().disableAutoRange()  # new bar widths must not move the axes
            # The x range follows the longest bar, re-set only when it moved by 5 % or more.
            want = top * 1.05 if top > 0 else 1.0
            have = self._xmax.get(key)
            if rebuild or have is None or abs(want - have) > 0.05 * have:
                self._xmax[key] = want
                pi.setXRange(0, want, padding=0)

    def _apply_ticks(self, *_args) -> None:
        """Label as many groups as fit the chart's height without overlapping (every k-th
        group of a long network); again on every resize."""
        groups = getattr(self, "_tick_groups", None)
        plot = self.plots.get("params")
        if not groups or plot is None:
            return
        axis = plot.getPlotItem().getAxis("left")
        line = QFontMetrics(axis.style.get("tickFont") or plot.font()).height() * 1.25
        height = plot.getPlotItem().getViewBox().height()
        fit = max(1, int(height / line)) if height > 0 else 40
        step = max(1, math.ceil(len(groups) / min(fit, 40)))
        axis.setTicks([[(float(g), name) for g, name in enumerate(groups) if g % step == 0]])

    def _show_runs(self, entries: list[Entry]) -> None:
        """Held-out accuracy of designs trained on the same data, and their sparsity by depth."""
        live = [e for e in entries if not e.pinned]
        info = {id(e): trained(e.tab) for e in live}
        by_data: dict[str, list[Entry]] = {}
        for e in live:
            if info[id(e)] is not None:
                by_data.setdefault(info[id(e)][0], []).append(e)
        same = max(by_data.values(), key=len, default=[])
        results = [(e, feature_result(e.tab)) for e in live]
        results = [(e, r) for e, r in results if r is not None]
        if len(same) < 2 and len(results) < 2:
            self.run_box.hide()
            return
        lines = []
        if len(same) >= 2:
            data = info[id(same[0])][0]
            lines.append(f"<b>Trained on {Path(data).name or data}</b> — held-out accuracy:")
            for e in same:
                acc = info[id(e)][1]
                lines.append(f"{e.name}: {'n/a' if math.isnan(acc) else f'{acc:.1%}'}")
            others = [e.name for e in live if e not in same]
            if others:
                lines.append(f"<i>Not trained on the same data: {', '.join(others)}</i>")
        else:
            lines.append("<i>Not trained on the same data: accuracies are not compared.</i>")
        if len(results) < 2:
            lines.append("Run each design (F5) to overlay its sparsity by depth.")
        self.accuracy.setText("<br>".join(lines))
        sp = self.sparsity.getPlotItem()
        sp.clear()
        for e, r in results:
            i = entries.index(e)
            nodes = [n for n in r.order if n in r.stats and r.types.get(n) == "relu"]
            nodes.sort(key=lambda n: r.depth[n])
            color = COLORS[i % len(COLORS)]
            sp.plot(
                [r.depth[n] for n in nodes],
                [100.0 * r.stats[n].sparsity for n in nodes],
                pen=pg.mkPen(color, width=2),
                symbol="o",
                symbolBrush=color,
                symbolPen=None,
                symbolSize=6,
                name=esc(e.name),  # pyqtgraph's legend renders HTML
            )
        if self.run_box.isHidden():
            self.run_box.show()
            sizes = self.splitter.sizes()
            self.splitter.setSizes([sizes[0], max(200, sizes[1] - 240), 240])

    # ------------------------------------------------------------------ export
    def markdown(self) -> str:
        """The current comparison as a Markdown table (empty without one)."""
        return markdown(self.comparison) if self.comparison is not None else ""

    def copy_markdown(self) -> None:
        """Put the Markdown table on the clipboard."""
        QGuiApplication.clipboard().setText(self.markdown())

    def _ask_save_path(self, title: str, suffix: str) -> Path | None:
        filt = "Markdown (*.md)" if suffix == ".md" else "PNG image (*.png)"
        name, _ = QFileDialog.getSaveFileName(self, title, f"comparison{suffix}", filt)
        if not name:
            return None
        path = Path(name)
        return path if path.suffix else path.with_suffix(suffix)

    def save_markdown(self, path: str | Path | None = None) -> Path | None:
        """Write the Markdown table to ``path`` (asked if not given); return the path."""
        path = Path(path) if path is not None else self.ask_save_path("Save comparison", ".md")
        if path is None:
            return None
        try:
            _atomic_write(path, self.markdown().encode("utf-8"))
        except OSError as exc:
            self.window_.show_error(self, "Cannot save", f"{path}: {exc.strerror or exc}")
            return None
        return path

    def save_png(self, path: str | Path | None = None) -> Path | None:
        """Save the table and the charts as a PNG to ``path`` (asked if not given)."""
        path = Path(path) if path is not None else self.ask_save_path("Save chart", ".png")
        if path is None:
            return None
        tmp = path.with_name(path.name + ".part")
        ok = self.splitter.grab().save(str(tmp), "PNG")
        if not ok:
            tmp.unlink(missing_ok=True)
            self.window_.show_error(self, "Cannot save", f"{path}: cannot write the picture")
            return None
        tmp.replace(path)
        return path


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
