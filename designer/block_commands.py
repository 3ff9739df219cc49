"""Undo commands for blocks: group, ungroup, collapse, expand, place, retype, save a type.

The edits are planned in the engine (:mod:`engine.blocks.edits`: Qt-free, each a list of
primitive steps with exact inverses); a :class:`BlockCommand` applies the steps in order
on ``redo`` and in reverse on ``undo``. Each ``*_command`` function plans one edit and
raises :class:`~engine.blocks.BlockError` with the reason when it is refused.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from designer.document import Document
from engine.blocks.edits import (
    Edit,
    Step,
    apply_step,
    expand_selection,
    plan_group,
    plan_make_unique,
    plan_place,
    plan_relayout,
    plan_retype,
    plan_save_type,
    plan_set_collapsed,
    plan_ungroup,
    type_from_instance,
)

__all__ = [
    "BlockCommand",
    "expand_selection",
    "group_command",
    "make_unique_command",
    "place_block_command",
    "retype_instances_command",
    "save_type_command",
    "set_collapsed_command",
    "type_from_instance",
    "ungroup_command",
]


class BlockCommand(QUndoCommand):
    """A planned list of primitive steps (see :mod:`engine.blocks.edits`)."""

    def __init__(self, doc: Document, text: str, steps: list[Step]) -> None:
        super().__init__(text)
        self.doc = doc
        self.steps = steps
        self.path: str | None = None

    @classmethod
    def of(cls, doc: Document, edit: Edit) -> BlockCommand:
        """The command of a planned edit."""
        cmd = cls(doc, edit.text, edit.steps)
        cmd.path = edit.path
        return cmd

    def redo(self) -> None:
        for s in self.steps:
            apply_step(self.doc.model, s, True)

    def undo(self) -> None:
        for s in reversed(self.steps):
            apply_step(self.doc.model, s, False)


def group_command(
    doc: Document, nodes: list[str], name: str = "block", cards: list[str] = ()
) -> BlockCommand:
    """Group ``nodes`` into a new expanded block (:func:`engine.blocks.edits.plan_group`)."""
    return BlockCommand.of(doc, plan_group(doc.model, nodes, name, cards))


def ungroup_command(doc: Document, path: str, aspect=(1600.0, 1000.0)) -> BlockCommand:
    """Dissolve block ``path`` (:func:`engine.blocks.edits.plan_ungroup`)."""
    return BlockCommand.of(doc, plan_ungroup(doc.model, path, aspect))


def relayout_command(doc: Document, aspect=(1600.0, 1000.0)) -> BlockCommand:
    """Auto-layout the design (:func:`engine.blocks.edits.plan_relayout`)."""
    return BlockCommand.of(doc, plan_relayout(doc.model, aspect))


def set_collapsed_command(
    doc: Document, path: str, collapsed: bool, aspect=(1600.0, 1000.0)
) -> BlockCommand:
    """Collapse or expand block ``path`` (:func:`engine.blocks.edits.plan_set_collapsed`)."""
    return BlockCommand.of(doc, plan_set_collapsed(doc.model, path, collapsed, aspect))


def place_block_command(
    doc: Document,
    key: str,
    values: dict,
    src: str | None,
    in_channels: int,
    pos: tuple[float, float],
    name: str | None = None,
) -> BlockCommand:
    """Place an instance of block type ``key`` (:func:`engine.blocks.edits.plan_place`)."""
    return BlockCommand.of(doc, plan_place(doc.model, key, values, src, in_channels, pos, name))


def make_unique_command(doc: Document, path: str) -> BlockCommand:
    """Detach block ``path`` from its type (:func:`engine.blocks.edits.plan_make_unique`)."""
    return BlockCommand.of(doc, plan_make_unique(doc.model, path))


def retype_instances_command(
    doc: Document, key: str, new_doc: dict, aspect=(1600.0, 1000.0)
) -> BlockCommand:
    """Change block type ``key`` and rebuild its instances (:func:`engine.blocks.edits.plan_retype`)."""
    return BlockCommand.of(doc, plan_retype(doc.model, key, new_doc, aspect))


def save_type_command(
    doc: Document, path: str, key: str, title: str, params: dict[str, list[tuple[str, str]]]
) -> BlockCommand:
    """Save block ``path`` as a block type (:func:`engine.blocks.edits.plan_save_type`)."""
    return BlockCommand.of(doc, plan_save_type(doc.model, path, key, title, params))
