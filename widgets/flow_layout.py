"""A layout that lines widgets up left to right and wraps them onto more rows when narrow.

Used by bars of controls (the totals bar, the feature views' run controls) so that a
narrow window (1366×768 with docks) gets two rows instead of a bar that forces its
dock, and so the neighbouring docks, wider than the screen.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QSizePolicy, QWidget


class FlowLayout(QLayout):
    """Items in rows; an item with horizontal stretch (``addWidget(w, 1)``) fills its row."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._stretch: list[int] = []
        self._spacing = spacing
        self.setContentsMargins(QMargins(0, 0, 0, 0))

    # ------------------------------------------------------------------ QLayout API
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt's name
        self._items.append(item)
        self._stretch.append(0)

    def addWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802 - Qt's name
        super().addWidget(widget)
        self._stretch[-1] = stretch

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt's name
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt's name
        if 0 <= index < len(self._items):
            self._stretch.pop(index)
            return self._items.pop(index)
        return None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt's name
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's name
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt's name
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt's name
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        m = self.contentsMargins()
        w = sum(i.sizeHint().width() for i in self._visible()) + self._spacing * max(
            0, len(self._visible()) - 1
        )
        h = max((i.sizeHint().height() for i in self._visible()), default=0)
        return QSize(w + m.left() + m.right(), h + m.top() + m.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt's name
        m = self.contentsMargins()
        w = max((i.minimumSize().width() for i in self._visible()), default=0)
        h = max((i.minimumSize().height() for i in self._visible()), default=0)
        return QSize(w + m.left() + m.right(), h + m.top() + m.bottom())

    # ------------------------------------------------------------------ placing
    def _width(self, item: QLayoutItem) -> int:
        """The width ``item`` asks for: its minimum if its size policy ignores its hint."""
        w = item.widget()
        if w is not None and w.sizePolicy().horizontalPolicy() == QSizePolicy.Policy.Ignored:
            return max(0, item.minimumSize().width())
        return max(0, item.sizeHint().width(), item.minimumSize().width())

    def _visible(self) -> list[QLayoutItem]:
        return [i for i in self._items if not i.isEmpty()]

    def rows(self, width: int) -> list[list[QLayoutItem]]:
        """The items of each row at ``width`` (for tests and for placing)."""
        m = self.contentsMargins()
        avail = width - m.left() - m.right()
        rows: list[list[QLayoutItem]] = [[]]
        used = 0
        for item in self._visible():
            w = self._width(item)
            if rows[-1] and used + self._spacing + w > avail:
                rows.append([])
                used = 0
            used += (self._spacing if rows[-1] else 0) + w
            rows[-1].append(item)
        return [r for r in rows if r]

    def _arrange(self, rect: QRect, apply: bool) -> int:
        m = self.contentsMargins()
        x0, y = rect.x() + m.left(), rect.y() + m.top()
        avail = rect.width() - m.left() - m.right()
        for row in self.rows(rect.width()):
            widths = [self._width(i) for i in row]
            stretch = [self._stretch[self._items.index(i)] for i in row]
            free = avail - sum(widths) - self._spacing * (len(row) - 1)
            total = sum(stretch)
            if free > 0 and total:
                for k in range(len(row)):
                    widths[k] += free * stretch[k] // total
            widths = [min(w, avail) for w in widths]
            h = max(i.sizeHint().height() for i in row)
            if apply:
                x = x0
                for item, w in zip(row, widths):
                    ih = min(h, item.sizeHint().height())
                    policy = item.widget().sizePolicy() if item.widget() else None
                    if policy is not None and policy.verticalPolicy() != QSizePolicy.Policy.Fixed:
                        ih = h
                    item.setGeometry(QRect(QPoint(x, y + (h - ih) // 2), QSize(w, ih)))
                    x += w + self._spacing
            y += h + self._spacing
        return y - self._spacing - rect.y() + m.bottom() if self._items else m.top() + m.bottom()
