"""The totals bar: whole-network sums, and the change against a pinned baseline."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.document import Document
from engine.formatting import (
    fmt_bytes,
    fmt_compact,
    fmt_int,
    fmt_percent,
    fmt_rf,
    fmt_rf_size,
    fmt_signed,
)
from widgets.flow_layout import FlowLayout
from widgets.plot_theme import status_colors


@dataclass(frozen=True)
class Baseline:
    """The totals of a design pinned for comparison."""

    name: str
    weights: int
    biases: int
    params: int
    macs: int
    peak_bytes: int


class _Field(QWidget):
    """A caption over a value, e.g. ``Params`` / ``157,184``."""

    def __init__(self, caption: str, parent: QWidget) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.caption = QLabel(caption + ":", self)
        pal = self.caption.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        window = pal.color(QPalette.ColorRole.Window)
        mid = QColor(
            (text.red() * 2 + window.red()) // 3,
            (text.green() * 2 + window.green()) // 3,
            (text.blue() * 2 + window.blue()) // 3,
        )
        pal.setColor(QPalette.ColorRole.WindowText, mid)
        self.caption.setPalette(pal)
        self.value = QLabel(self)
        font = self.value.font()
        font.setBold(True)
        self.value.setFont(font)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.caption)
        lay.addWidget(self.value)


class TotalsBar(QFrame):
    """Params, MACs, peak activation memory, output receptive field, baseline diff, errors.

    Signals
    -------
    error_clicked(str)
        The error count was clicked: the id of the first node in error.
    """

    error_clicked = Signal(str)

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.baseline: Baseline | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        # Two rows: the sums (a narrow window wraps them instead of widening the window),
        # then the baseline, the unreachable nodes and the errors on a row of fixed height,
        # so nothing that comes and goes while editing moves the canvas.
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(2)
        lay = FlowLayout(spacing=14)
        outer.addLayout(lay)
        self.status_row = QWidget(self)
        row = QHBoxLayout(self.status_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(10)
        outer.addWidget(self.status_row)
        self.params = _Field("Params", self)
        self.weights = _Field("Weights", self)
        self.macs = _Field("MACs", self)
        self.peak = _Field("Peak memory", self)
        self.rf = _Field("Output RF", self)
        for f in (self.params, self.weights, self.macs, self.peak, self.rf):
            lay.addWidget(f)
        lay = row
        self.diff = QLabel(self)
        self.diff.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Its full text when there is room, shrinking (never widening the window) when not.
        self.diff.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.diff.setMinimumWidth(1)
        lay.addWidget(self.diff)
        self.pin_button = QPushButton("Pin baseline", self)
        self.pin_button.setToolTip(
            "Remember the current totals; later designs show the change against them"
        )
        self.pin_button.clicked.connect(self.pin)
        lay.addWidget(self.pin_button)
        self.unpin_button = QToolButton(self)
        self.unpin_button.setText("✕")
        self.unpin_button.setToolTip("Forget the baseline")
        self.unpin_button.setAutoRaise(True)
        self.unpin_button.clicked.connect(self.unpin)
        self.unpin_button.hide()
        lay.addWidget(self.unpin_button)
        # Nodes that do not reach the output: how much of the totals they make.
        self.detached = QLabel(self)
        self.detached.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.detached.setMinimumWidth(1)
        self.detached.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lay.addWidget(self.detached, 1)
        self.errors = QPushButton(self)
        self.errors.setFlat(True)
        self.errors.setCursor(Qt.CursorShape.PointingHandCursor)
        self.errors.clicked.connect(self._on_errors_clicked)
        self.errors.hide()
        lay.addWidget(self.errors)
        self.status_row.setFixedHeight(
            max(self.pin_button.sizeHint().height(), self.errors.sizeHint().height())
        )
        doc.analysis_changed.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ baseline
    def pin(self) -> None:
        """Pin the current design's totals as the baseline."""
        t = self.doc.analysis.totals
        self.baseline = Baseline(
            self.doc.model.name, t.weights, t.biases, t.params, t.macs, t.peak_activation_bytes
        )
        self.pin_button.setText("Re-pin")
        self.unpin_button.show()
        self.refresh()

    def unpin(self) -> None:
        """Forget the baseline."""
        self.baseline = None
        self.pin_button.setText("Pin baseline")
        self.unpin_button.hide()
        self.refresh()

    # ------------------------------------------------------------------ display
    def refresh(self, _changed=None) -> None:
        """Show the current totals."""
        a = self.doc.analysis
        t = a.totals
        self.params.value.setText(fmt_int(t.params))
        self.params.setToolTip(
            f"{fmt_int(t.weights)} weights + {fmt_int(t.biases)} biases"
            + (f" + {fmt_int(t.other)} other (BatchNorm)" if t.other else "")
        )
        self.weights.value.setText(fmt_int(t.weights))
        self.macs.value.setText(fmt_compact(t.macs))
        self.macs.setToolTip(f"{fmt_int(t.macs)} multiply-accumulates per image")
        self.peak.value.setText(fmt_bytes(t.peak_activation_bytes))
        self.peak.setToolTip(
            f"{fmt_int(t.peak_activation_bytes)} bytes of float32 activations "
            f"alive at once (batch 1)"
        )
        self.rf.value.setText(fmt_rf_size(t.output_rf) if t.output_rf is not None else "—")
        self.rf.setToolTip(
            f"receptive field of '{t.output}': {fmt_rf(t.output_rf)}"
            if t.output
            else "no output yet"
        )
        self._show_diff(t)
        self._show_detached(a)
        errors = a.errors
        self.errors.setStyleSheet(f"color: {status_colors(self.palette())[1]}; font-weight: bold;")
        if errors:
            n = len(errors)
            self.errors.setText(f"⚠ {n} error{'s' if n != 1 else ''}")
            self.errors.setToolTip("\n".join(m for _, m in errors[:10]))
            self.errors.show()
        else:
            self.errors.hide()

    def detached_text(self) -> str:
        """What the nodes that do not reach the output add to the totals ('' if none)."""
        return self.detached.text()

    def _show_detached(self, a) -> None:
        from engine.analysis.reach import contribution, not_reaching_output

        nodes = not_reaching_output(a)
        c = contribution(a, nodes)
        if not c.nodes:  # none, or only nodes in error (their error marks them already)
            self.detached.setText("")
            self.detached.setToolTip("")
            return
        nodes = [n for n in nodes if a.nodes[n].shape is not None]
        what = f"{c.nodes} node{'s' if c.nodes != 1 else ''} not connected to the output"
        self.detached.setText(
            f"⚠ {what}: {fmt_int(c.params)} params, {fmt_compact(c.macs)} MACs of the totals"
        )
        shown = ", ".join(nodes[:12]) + (f" and {len(nodes) - 12} more" if len(nodes) > 12 else "")
        self.detached.setToolTip(
            f"Counted in the totals, but their outputs are not used: {shown}\n"
            f"{fmt_int(c.weights)} weights, {fmt_int(c.macs)} MACs per image"
        )

    def _show_diff(self, t) -> None:
        b = self.baseline
        if b is None:
            self.diff.setText("")
            self.diff.setToolTip("")
            self.diff.hide()
            return
        dw = t.weights - b.weights
        dm = t.macs - b.macs
        good, bad, _ = status_colors(self.palette())
        color = good if dw < 0 else bad if dw > 0 else self.palette().windowText().color().name()
        text = f"{fmt_signed(dw)} weights"
        pct = fmt_percent(dw, b.weights)
        if pct:
            text += f" ({pct})"
        self.diff.setText(
            f"vs baseline: <span style='color:{color}; font-weight:bold'>{text}</span>"
        )
        self.diff.setToolTip(
            f"baseline '{b.name}': {fmt_int(b.weights)} weights, {fmt_int(b.params)} params, "
            f"{fmt_compact(b.macs)} MACs\n"
            f"now: {fmt_int(t.weights)} weights ({fmt_signed(dw)}), {fmt_int(t.params)} params "
            f"({fmt_signed(t.params - b.params)}), MACs {fmt_signed(dm)} "
            f"{fmt_percent(dm, b.macs)}"
        )
        self.diff.show()

    def diff_text(self) -> str:
        """The baseline change as plain text, e.g. ``−229,888 weights (−59.4%)``."""
        if self.baseline is None:
            return ""
        t = self.doc.analysis.totals
        dw = t.weights - self.baseline.weights
        pct = fmt_percent(dw, self.baseline.weights)
        return f"{fmt_signed(dw)} weights" + (f" ({pct})" if pct else "")

    def _on_errors_clicked(self) -> None:
        errors = self.doc.analysis.errors
        if errors:
            self.error_clicked.emit(errors[0][0])
