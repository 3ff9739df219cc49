"""A combo box as wide as its current text (within reason) that elides in the middle.

A long design name ("1. Inception 3a (1×1 reductions)") was cut at its end, losing the
part that told two designs apart. :class:`ElidingComboBox` asks for the width of its
current text (at least :data:`MIN_CHARS`, at most :data:`MAX_CHARS` average characters:
a row of them leaves "(none)" small), can shrink to :data:`MIN_CHARS`, and when narrower
than its text shows it elided in the middle ("1. Inception…reductions)"). The full text
is its tooltip and each item's (Qt's popup list is as wide as its longest item).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolTip,
    QWidget,
)

from designer.plaintext import tip

MIN_CHARS = 10
MAX_CHARS = 48


class ElidingComboBox(QComboBox):
    """A non-editable combo box sized from its current text that elides it in the middle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumContentsLength(MIN_CHARS)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model().rowsInserted.connect(self._item_tooltips)
        # (whoever sets the index with signals blocked calls updateGeometry itself)
        self.currentIndexChanged.connect(lambda _i: self.updateGeometry())

    def text_rect_width(self) -> int:
        """Width in pixels the style gives the current text."""
        return self.text_rect_width_for(self.width())

    def shown_text(self) -> str:
        """The current text as painted: whole, or elided in the middle to fit."""
        return self.fontMetrics().elidedText(
            self.currentText(), Qt.TextElideMode.ElideMiddle, self.text_rect_width()
        )

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Wide enough for the current text, up to :data:`MAX_CHARS` average characters."""
        hint = super().sizeHint()  # sized for MIN_CHARS characters
        fm = self.fontMetrics()
        text = min(fm.horizontalAdvance(self.currentText()), fm.averageCharWidth() * MAX_CHARS)
        extra = text - self.text_rect_width_for(hint.width())
        return QSize(hint.width() + max(0, extra + 2), hint.height())  # +2: rounding

    def text_rect_width_for(self, width: int) -> int:
        """Width the style gives the text in a combo ``width`` pixels wide."""
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        opt.rect.setWidth(width)
        rect = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        return rect.width()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        opt.currentText = self.shown_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def event(self, event: QEvent) -> bool:
        """A tooltip shows the full current text (whatever set the index)."""
        if event.type() == QEvent.Type.ToolTip and not self.toolTip() and self.currentText():
            QToolTip.showText(event.globalPos(), tip(self.currentText()), self)
            return True
        return super().event(event)

    def _item_tooltips(self, _parent, first: int, last: int) -> None:
        for i in range(first, last + 1):
            self.setItemData(i, tip(self.itemText(i)), Qt.ItemDataRole.ToolTipRole)
