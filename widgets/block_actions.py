"""Block actions of a design tab: group (Ctrl+G), ungroup (Ctrl+Shift+G), collapse/expand,
save as type, update a type from an instance, make unique, and placing library blocks.

Each action builds a command of :mod:`designer.block_commands` and pushes it on the
document's undo stack; a refused edit shows the engine's reason on the canvas.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, QPointF
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog

from designer.actions import make_action
from designer.block_commands import (
    expand_selection,
    group_command,
    make_unique_command,
    place_block_command,
    retype_instances_command,
    save_type_command,
    set_collapsed_command,
    type_from_instance,
    ungroup_command,
)
from engine.blocks.hierarchy import all_types, block_of, boundary, is_under, parent_block, records
from engine.blocks.types import BlockError
from widgets.block_dialogs import PlaceBlockDialog, SaveTypeDialog


class BlockActions(QObject):
    """The block QActions of one canvas; ``actions`` lists them for the Edit menu."""

    def __init__(self, doc, scene, view, parent=None) -> None:
        super().__init__(parent)
        self.doc, self.scene, self.view = doc, scene, view
        self.group = self._make("&Group into Block", ["Ctrl+G"], self.group_selection,
                                "Group the selected nodes into a block (Ctrl+G)")  # fmt: skip
        self.ungroup = self._make("U&ngroup Block", ["Ctrl+Shift+G"], self.ungroup_selection,
                                  "Dissolve the selected block (Ctrl+Shift+G)")  # fmt: skip
        self.toggle = self._make("Collapse/E&xpand Block", ["Ctrl+Shift+E"], self.toggle_selection,
                                 "Collapse the block of the selection, or expand the "
                                 "selected block")  # fmt: skip
        self.save_type = self._make("Save Block as &Type…", [], self.save_as_type,
                                    "Make the selected block a reusable block type")  # fmt: skip
        self.update_type = self._make("&Update Type from Block", [], self.update_type_from_block,
                                      "Give the selected block's type this block's content: "
                                      "every instance follows")  # fmt: skip
        self.make_unique = self._make("Make Block Uni&que", [], self.make_selected_unique,
                                      "Detach the selected block from its type")  # fmt: skip
        self.actions = [self.group, self.ungroup, self.toggle, self.save_type, self.update_type,
                        self.make_unique]  # fmt: skip
        view.addActions(self.actions)
        self.ask_values = None  # tests: a callable (BlockType, in_channels) -> values or None
        self.ask_type = None  # tests: a callable (rows, title) -> (key, title, params) or None

    def _make(self, text: str, keys: list, slot, tip: str) -> QAction:
        return make_action(self, text, keys, slot, tip)

    def _push(self, build) -> bool:
        try:
            cmd = build()
        except BlockError as exc:
            self.view.show_message(exc.message)
            return False
        self.doc.undo_stack.push(cmd)
        return True

    def _aspect(self) -> tuple[float, float]:
        vp = self.view.viewport().rect()
        return (float(max(vp.width(), 400)), float(max(vp.height(), 300)))

    # ------------------------------------------------------------------ selection
    def selection(self) -> list[str]:
        """Selected nodes plus the members of selected block cards."""
        if not shiboken6.isValid(self.scene):
            return []
        cards = self.scene.block_layer.selected_blocks()
        return expand_selection(self.doc.model, self.scene.selected_nodes(), cards)

    def target_block(self) -> str | None:
        """A selected card, else the innermost block holding every selected node."""
        cards = self.scene.block_layer.selected_blocks()
        if cards:
            return cards[0]
        nodes = self.scene.selected_nodes()
        if not nodes:
            return None
        model = self.doc.model
        path = block_of(model, nodes[0])
        while path and not all(is_under(block_of(model, n), path) for n in nodes):
            path = parent_block(model, path)
        return path or None

    # ------------------------------------------------------------------ actions
    def group_selection(self) -> bool:
        """Group the selection into a new block (Ctrl+G)."""
        cards = self.scene.block_layer.selected_blocks()
        return self._push(lambda: group_command(self.doc, self.selection(), cards=cards))

    def ungroup_selection(self) -> bool:
        """Ungroup the selected block (Ctrl+Shift+G)."""
        path = self.target_block()
        if path is None:
            self.view.show_message("select a block (or a node inside one) to ungroup")
            return False
        return self._push(lambda: ungroup_command(self.doc, path, self._aspect()))

    def toggle_selection(self) -> bool:
        """Expand the selected card, or collapse the block holding the selection."""
        path = self.target_block()
        if path is None:
            return False
        shut = not records(self.doc.model)[path].get("collapsed")
        return self._push(lambda: set_collapsed_command(self.doc, path, shut, self._aspect()))

    def save_as_type(self) -> bool:
        """Save the selected block as a block type with named parameters."""
        path = self.target_block()
        if path is None:
            self.view.show_message("select a block to save as a type")
            return False
        model = self.doc.model
        stem = path.replace(".", "_") + "_"
        rows = []
        for n in model.graph.nodes:
            if is_under(block_of(model, n), path):
                for field, v in model.graph.nodes[n]["params"].items():
                    if isinstance(v, int) and not isinstance(v, bool):
                        rows.append((n[len(stem) :] if n.startswith(stem) else n, field, v))
        name = records(model)[path].get("name") or path
        if self.ask_type is not None:
            answer = self.ask_type(rows, name)
        else:
            dlg = SaveTypeDialog(rows, name, self.view)
            answer = (
                (dlg.key_edit.text(), dlg.title_edit.text(), dlg.params())
                if dlg.exec() == QDialog.DialogCode.Accepted
                else None
            )
        if answer is None:
            return False
        key, title, params = answer
        return self._push(lambda: save_type_command(self.doc, path, key, title, params))

    def update_type_from_block(self) -> bool:
        """Give the selected block's type its current content; every instance follows."""
        path = self.target_block()
        if path is None:
            return False

        def build():
            key, new_doc = type_from_instance(self.doc.model, path)
            return retype_instances_command(self.doc, key, new_doc, self._aspect())

        return self._push(build)

    def make_selected_unique(self) -> bool:
        """Detach the selected block from its type."""
        path = self.target_block()
        return path is not None and self._push(lambda: make_unique_command(self.doc, path))

    # ------------------------------------------------------------------ palette
    def place(self, key: str, values: dict | None = None) -> str | None:
        """Place block type ``key`` after the selected node (asking for its parameters).

        Returns the new block's path, or ``None`` if cancelled or refused.
        """
        model = self.doc.model
        try:
            bt = all_types(model)[key]
        except (KeyError, BlockError):
            self.view.show_message(f"unknown block type '{key}'")
            return None
        src = self._feed()
        shape = self.doc.analysis.nodes[src].shape if src else None
        in_ch = shape[0] if shape and len(shape) == 3 else None
        if values is None:
            if self.ask_values is not None:
                answer = self.ask_values(bt, in_ch)
            else:
                dlg = PlaceBlockDialog(bt, in_ch, self.view)
                ok = dlg.exec() == QDialog.DialogCode.Accepted
                answer = (dlg.values(), dlg.in_channels()) if ok else None
            if answer is None:
                return None
            values, in_ch = answer
        pos = self._spot(src)
        try:
            cmd = place_block_command(self.doc, key, values, src, in_ch or 64, pos)
        except BlockError as exc:
            self.view.show_message(exc.message)
            return None
        self.doc.undo_stack.push(cmd)
        return cmd.path

    def _feed(self) -> str | None:
        """The node whose output feeds a placed block: the selected node or card's output."""
        cards = self.scene.block_layer.selected_blocks()
        if cards:
            outs = boundary(self.doc.model, cards[0]).outputs
            return outs[0] if len(outs) == 1 else None
        nodes = self.scene.selected_nodes()
        return nodes[-1] if len(nodes) == 1 else None

    def _spot(self, src: str | None) -> tuple[float, float]:
        if src is not None:
            layer = self.scene.block_layer
            unit = layer.unit.get(src, src)
            item = layer.cards.get(unit) or self.scene.nodes.get(unit)
            if item is not None:
                p = item.pos() + QPointF(260.0, 0.0)
                return self.scene.free_position((p.x(), p.y()))
        c = self.view.mapToScene(self.view.viewport().rect().center())
        return self.scene.free_position((c.x(), c.y()))
