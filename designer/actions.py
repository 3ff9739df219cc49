"""Canvas actions for the Edit and View menus: delete, duplicate, clipboard, zoom, layout.

The clipboard holds plain text in the graph JSON format, so a selection copies between
windows and into a text editor, and a graph file's text pastes into the canvas.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication

from designer.block_commands import relayout_command
from designer.commands import (
    DisconnectCommand,
    PasteCommand,
    RemoveNodesCommand,
    copy_to_text,
)
from designer.document import Document
from designer.placement import free_offset, node_rect
from designer.scene import GraphScene
from designer.view import GraphView
from engine.core import fileformat
from engine.core.errors import EngineError, FormatError
from engine.core.layout import layered_layout

PASTE_STEP = (40.0, 40.0)


def make_action(parent: QObject, text: str, keys: list, slot, tip: str) -> QAction:
    """A QAction owned by ``parent`` with shortcuts ``keys`` and tip ``tip`` that calls ``slot()``."""
    action = QAction(text, parent)
    action.setShortcuts([QKeySequence(k) for k in keys])
    action.setStatusTip(tip)
    action.setToolTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    return action


class CanvasActions(QObject):
    """The canvas's QActions. ``edit_actions`` and ``view_actions`` list them for menus."""

    def __init__(self, doc: Document, scene: GraphScene, view: GraphView, parent=None) -> None:
        super().__init__(parent)
        self.doc, self.scene, self.view = doc, scene, view
        K = QKeySequence.StandardKey  # noqa: N806 - short alias for Qt's enum
        self.delete = self._make(
            "&Delete", [K.Delete], self.delete_selection, "Delete the selected nodes and edges"
        )
        self.duplicate = self._make(
            "D&uplicate",
            ["Ctrl+D"],
            self.duplicate_selection,
            "Copy the selected nodes beside them",
        )
        self.copy = self._make(
            "&Copy", [K.Copy], self.copy_selection, "Copy the selected nodes as graph JSON text"
        )
        self.cut = self._make(
            "Cu&t", [K.Cut], self.cut_selection, "Copy the selected nodes, then delete them"
        )
        self.paste = self._make(
            "&Paste", [K.Paste], self.paste_clipboard, "Paste graph JSON text from the clipboard"
        )
        self.select_all = self._make(
            "Select &All", [K.SelectAll], self.select_all_nodes, "Select every node"
        )
        self.zoom_in = self._make("Zoom &In", [K.ZoomIn, "Ctrl+="], view.zoom_in, "Zoom in")
        self.zoom_out = self._make("Zoom &Out", [K.ZoomOut], view.zoom_out, "Zoom out")
        self.zoom_fit = self._make(
            "&Fit to View",
            ["Ctrl+0", "F"],
            view.fit_to_view,
            "Show the whole network, or its start when it is too big to read whole (F)",
        )
        self.zoom_selection = self._make(
            "Fit &Selection", ["Shift+F"], view.fit_selection, "Show the selected nodes (Shift+F)"
        )
        self.auto_layout = self._make(
            "Auto-&Layout",
            ["Ctrl+L"],
            self.layout_all,
            "Arrange the nodes left to right (undoable)",
        )
        self.edit_actions = [
            self.cut,
            self.copy,
            self.paste,
            self.duplicate,
            self.delete,
            self.select_all,
        ]
        self.view_actions = [
            self.zoom_in,
            self.zoom_out,
            self.zoom_fit,
            self.zoom_selection,
            self.auto_layout,
        ]
        view.addActions(self.edit_actions + self.view_actions)
        view.context_actions = [self.cut, self.copy, self.paste, self.duplicate, self.delete]
        scene.selection_changed_nodes.connect(self._update_enabled)
        scene.selectionChanged.connect(self._update_enabled)
        self._update_enabled()

    def _make(self, text: str, keys: list, slot, tip: str) -> QAction:
        return make_action(self, text, keys, slot, tip)

    def _update_enabled(self, *_args) -> None:
        if not shiboken6.isValid(self.scene):  # the scene emits while it is deleted
            return
        nodes = bool(self.scene.selected_nodes())
        for a in (self.duplicate, self.copy, self.cut):
            a.setEnabled(nodes)
        self.delete.setEnabled(nodes or bool(self.scene.selected_edges()))

    # ------------------------------------------------------------------ edit
    def delete_selection(self) -> None:
        """Delete the selected nodes (with their edges) and disconnect the selected edges."""
        nodes = self.scene.selected_nodes()
        gone = set(nodes)
        edges = [e for e in self.scene.selected_edges() if e[0] not in gone and e[1] not in gone]
        if not nodes and not edges:
            return
        stack = self.doc.undo_stack
        if not edges:
            stack.push(RemoveNodesCommand(self.doc, nodes))
            return
        what = (
            f"{len(nodes) + len(edges)} items"
            if len(nodes) + len(edges) > 1
            else f"edge '{edges[0][0]}' → '{edges[0][1]}'"
        )
        stack.beginMacro(f"Delete {what}")
        try:
            for _, dst, port in edges:
                stack.push(DisconnectCommand(self.doc, dst, port))
            if nodes:
                stack.push(RemoveNodesCommand(self.doc, nodes))
        finally:
            stack.endMacro()

    def _selection_model(self):
        nodes = self.scene.selected_nodes()
        return fileformat.loads(copy_to_text(self.doc, nodes)) if nodes else None

    def duplicate_selection(self) -> list[str]:
        """Copy the selected nodes and their edges beside them; select the copies."""
        part = self._selection_model()
        if part is None:
            return []
        cmd = PasteCommand(self.doc, part, self._free(part, PASTE_STEP), text="Duplicate")
        self.doc.undo_stack.push(cmd)
        self.scene.select_nodes(cmd.new_ids)
        self.view.reveal(cmd.new_ids)
        return cmd.new_ids

    def _free(self, part, offset: tuple[float, float]) -> tuple[float, float]:
        """``offset`` moved the least so that the pasted nodes are in view, on no node."""
        rects = [
            node_rect(part.pos(n)[0] + offset[0], part.pos(n)[1] + offset[1]) for n in part.nodes
        ]
        dx, dy = free_offset(self.scene, rects, self.view.visible_area())
        return (offset[0] + dx, offset[1] + dy)

    def copy_selection(self) -> str:
        """Put the selected nodes on the clipboard as graph JSON; return the text."""
        nodes = self.scene.selected_nodes()
        if not nodes:
            return ""
        text = copy_to_text(self.doc, nodes)
        QApplication.clipboard().setText(text)
        return text

    def cut_selection(self) -> None:
        """Copy, then delete the selected nodes (one undo step named "Cut")."""
        nodes = self.scene.selected_nodes()
        if not nodes:
            return
        self.copy_selection()
        cmd = RemoveNodesCommand(self.doc, nodes)
        cmd.setText(cmd.text().replace("Delete", "Cut", 1))
        self.doc.undo_stack.push(cmd)

    def paste_clipboard(self) -> list[str]:
        """Paste graph JSON from the clipboard at the cursor (or beside the originals)."""
        text = QApplication.clipboard().text()
        try:
            source = fileformat.loads(text)
        except FormatError as exc:
            self.view.show_message(
                f"Nothing to paste: the clipboard holds no ConvCanvas graph ({exc.message})"
            )
            return []
        if len(source) == 0:
            return []
        if any(source.pos(n) is None for n in source.nodes):
            source.set_positions(layered_layout(source))
        xs = [source.pos(n)[0] for n in source.nodes]
        ys = [source.pos(n)[1] for n in source.nodes]
        at = self.view.cursor_scene_pos()
        if at is not None:
            offset = (at.x() - min(xs), at.y() - min(ys))
        else:
            offset = PASTE_STEP
        offset = self._free(source, offset)
        try:
            cmd = PasteCommand(self.doc, source, offset)
        except EngineError as exc:
            self.view.show_message(f"Cannot paste: {exc.message}")
            return []
        self.doc.undo_stack.push(cmd)
        self.scene.select_nodes(cmd.new_ids)
        self.view.reveal(cmd.new_ids)
        return cmd.new_ids

    def select_all_nodes(self) -> None:
        """Select every node."""
        self.scene.select_nodes(self.doc.model.nodes)

    # ------------------------------------------------------------------ view
    def layout_all(self) -> None:
        """Move every node to the automatic layout, wrapped into rows to fit the canvas
        (one undo step), then fit the view."""
        if len(self.doc.model) == 0:
            return
        cmd = relayout_command(self.doc, self.scene.block_layer.view_aspect())
        if cmd.steps:
            self.doc.undo_stack.push(cmd)
        self.view.fit_to_view()
