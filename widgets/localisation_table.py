"""The Train panel's localisation table: each method's hit rate, random against trained weights.

The training worker measures it after a run on ``shapes``
(:func:`engine.training.job.localisation_table`, carried in
:attr:`TrainResult.localisation`); this widget only shows it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.analysis.heat import METHODS, TITLES

HEADERS = ("method", "random", "trained")
#: Shorter names than the image view's, so that the three columns fit a narrow dock.
SHORT = {**TITLES, "class_activation": "class activation"}


def cell_text(row: dict | None) -> str:
    """``"38/40 (95%)"`` for a report row, ``"–"`` for a method that was skipped."""
    if not row:
        return "–"
    return f"{row['hits']}/{row['count']} ({row['rate']:.0%})"


class LocalisationTable(QWidget):
    """Where each method's box lands on held-out shapes images, before and after training."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Localisation: train on shapes to measure it")
        self.title.setWordWrap(True)
        self.table = QTableWidget(len(METHODS), len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(False)
        rows = self.table.verticalHeader()
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)  # all four rows show
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        for r, m in enumerate(METHODS):
            self.table.setItem(r, 0, QTableWidgetItem(SHORT[m]))
            for c in (1, 2):
                self.table.setItem(r, c, QTableWidgetItem("–"))
        self.table.setToolTip(
            "How often each method's box centre lands within 20 % of the image size of the "
            "object's centre, on held-out shapes images (never used in training)"
        )
        self.note = QLabel("")
        self.note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.note)
        self.setMinimumWidth(260)
        self.report: dict = {}

    def set_report(self, report: dict | None) -> None:
        """Show ``{"images", "random", "trained"}`` (or ``{"error"}``; empty clears)."""
        self.report = dict(report or {})
        error = self.report.get("error")
        n = self.report.get("images")
        for r, m in enumerate(METHODS):
            for c, key in ((1, "random"), (2, "trained")):
                row = (self.report.get(key) or {}).get("methods", {}).get(m)
                item = self.table.item(r, c)
                item.setText(cell_text(row))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if error:
            self.title.setText(f"Localisation not measured: {error}.")
        elif n:
            self.title.setText(
                f"Localisation, {n} held-out shapes: hits (box centre within 20 % of the "
                f"image size of the object's centre)"
            )
        else:
            self.title.setText("Localisation: train on shapes to measure it")
        skipped = (self.report.get("trained") or {}).get("skipped") or {}
        self.note.setText(
            "; ".join(f"{TITLES[m]} skipped: {why}" for m, why in skipped.items())
            if skipped
            else ""
        )

    def cell(self, method: str, column: str) -> str:
        """The text shown for ``method`` under ``random`` or ``trained``."""
        return self.table.item(METHODS.index(method), HEADERS.index(column)).text()
