"""Nudging the selection with the arrow keys: one undo step per burst of key presses."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from designer.commands import MoveNodesCommand
from designer.document import Document

NUDGE_MERGE_ID = 1003
NUDGE_STEP = 10.0
NUDGE_BIG_STEP = 50.0


class NudgeCommand(MoveNodesCommand):
    """Move nodes by an arrow key; successive nudges of the same nodes merge into one."""

    def __init__(self, doc: Document, old: dict[str, tuple], new: dict[str, tuple]) -> None:
        super().__init__(doc, old, new)
        what = f"'{next(iter(new))}'" if len(new) == 1 else f"{len(new)} nodes"
        self.setText(f"Nudge {what}")

    def id(self) -> int:  # noqa: A003 - Qt's name
        return NUDGE_MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, NudgeCommand) or set(other.new) != set(self.new):
            return False
        self.new = dict(other.new)
        return True


def nudge(
    doc: Document, positions: dict[str, tuple[float, float]], dx: float, dy: float
) -> NudgeCommand | None:
    """Push a :class:`NudgeCommand` moving ``positions`` (current) by ``(dx, dy)``."""
    if not positions:
        return None
    new = {n: (x + dx, y + dy) for n, (x, y) in positions.items()}
    cmd = NudgeCommand(doc, positions, new)
    doc.undo_stack.push(cmd)
    return cmd
