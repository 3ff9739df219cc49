"""Undo commands: one class per gesture. Every edit of a design goes through one of these.

A command checks its edit against the engine before it is pushed (its constructor
raises the engine's typed error instead of making a command that would fail), so
``redo`` never fails on a fresh push. Compound commands are sequences of primitive
model edits whose inverses are exact: ``undo`` puts back what ``redo`` recorded (ids,
order, ports, positions) without checking the edit again, so it works on any graph,
also one holding a cycle.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtGui import QUndoCommand

from designer.document import Document
from engine.blocks.paste import blocks_of_part, plan_paste
from engine.core import fileformat
from engine.core.errors import PortError
from engine.core.graph import GraphModel
from engine.core.layout import layered_layout
from engine.nodes import normalize_params

PARAM_MERGE_ID = 1001
MOVE_MERGE_ID = 1002


class AddNodeCommand(QUndoCommand):
    """Add one node (from the palette, quick-add or a double-click)."""

    def __init__(
        self,
        doc: Document,
        type_name: str,
        params: dict | None = None,
        pos: tuple[float, float] | None = None,
        node_id: str | None = None,
    ) -> None:
        super().__init__()
        self.doc = doc
        self.type_name = type_name
        self.params = copy.deepcopy(params)
        self.pos = pos
        self.node_id = node_id or doc.model.unique_id(type_name)
        self.setText(f"Add {type_name} '{self.node_id}'")

    def redo(self) -> None:
        self.doc.model.add_node(self.type_name, self.params, self.node_id, self.pos)

    def undo(self) -> None:
        self.doc.model.remove_node(self.node_id)


class RemoveNodesCommand(QUndoCommand):
    """Delete nodes with their edges; undo puts them back with the same ids and ports.

    ``redo`` removes the nodes one at a time (last in model order first), keeping each
    removal's record; ``undo`` restores the records in reverse, so that each restore
    meets the graph exactly as its removal left it.
    """

    def __init__(self, doc: Document, nodes: list[str]) -> None:
        super().__init__()
        self.doc = doc
        self.nodes = [n for n in doc.model.nodes if n in set(nodes)]
        self.records: list[dict] = []
        what = f"'{self.nodes[0]}'" if len(self.nodes) == 1 else f"{len(self.nodes)} nodes"
        self.setText(f"Delete {what}")

    def redo(self) -> None:
        self.records = [self.doc.model.remove_node(n) for n in reversed(self.nodes)]

    def undo(self) -> None:
        model = self.doc.model
        for rec in reversed(self.records):
            model.restore_node(rec)
        self.records = []


class ConnectCommand(QUndoCommand):
    """Wire ``src`` into ``dst`` at ``port`` (the next free one if ``None``)."""

    def __init__(self, doc: Document, src: str, dst: str, port: int | None = None) -> None:
        super().__init__()
        self.doc = doc
        self.src, self.dst = src, dst
        self.port = doc.model.check_connect(src, dst, port)  # raises if refused
        self.setText(f"Connect '{src}' → '{dst}'")

    def redo(self) -> None:
        self.doc.model.connect(self.src, self.dst, self.port)

    def undo(self) -> None:
        self.doc.model.disconnect(self.dst, self.port)


class DisconnectCommand(QUndoCommand):
    """Remove the edge into ``dst`` at ``port``."""

    def __init__(self, doc: Document, dst: str, port: int) -> None:
        super().__init__()
        self.doc = doc
        self.dst, self.port = dst, port
        ports = dict(doc.model.ports(dst))
        if port not in ports:
            raise PortError(f"'{dst}' has no input at port {port}", dst)
        self.src = ports[port]
        self.setText(f"Disconnect '{self.src}' → '{dst}'")

    def redo(self) -> None:
        self.doc.model.disconnect(self.dst, self.port)

    def undo(self) -> None:
        self.doc.model.connect(self.src, self.dst, self.port)


class MoveNodesCommand(QUndoCommand):
    """Move nodes (one command per drag: push it when the drag ends)."""

    def __init__(self, doc: Document, old: dict[str, tuple], new: dict[str, tuple]) -> None:
        super().__init__()
        self.doc = doc
        self.old, self.new = dict(old), dict(new)
        what = f"'{next(iter(new))}'" if len(new) == 1 else f"{len(new)} nodes"
        self.setText(f"Move {what}")

    def redo(self) -> None:
        self.doc.model.set_positions(self.new)

    def undo(self) -> None:
        self.doc.model.set_positions(self.old)


class SetParamCommand(QUndoCommand):
    """Change one parameter; successive changes of the same field coalesce into one."""

    def __init__(self, doc: Document, node: str, name: str, value: Any) -> None:
        super().__init__()
        self.doc = doc
        self.node, self.name = node, name
        self.old = copy.deepcopy(doc.model.params(node)[name])
        self.value = copy.deepcopy(value)
        # Check now so that an impossible value is refused before it is pushed.
        trial = doc.model.params(node)
        trial[name] = value
        normalize_params(doc.model.node_type(node), trial, node)
        self.setText(f"Set {name} of '{node}'")

    def id(self) -> int:  # noqa: A003 - Qt's name
        return PARAM_MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, SetParamCommand) or (other.node, other.name) != (
            self.node,
            self.name,
        ):
            return False
        self.value = other.value
        return True

    def redo(self) -> None:
        self.doc.model.set_param(self.node, self.name, self.value)

    def undo(self) -> None:
        self.doc.model.set_param(self.node, self.name, self.old)


class RenameNodeCommand(QUndoCommand):
    """Give a node another id (the attribute name in exported code); undo renames it back."""

    def __init__(self, doc: Document, old: str, new: str) -> None:
        super().__init__()
        self.doc = doc
        doc.model.check_rename(old, new)  # raises if refused
        self.old, self.new = old, new
        self.setText(f"Rename '{old}' to '{new}'")

    def redo(self) -> None:
        self.doc.model.rename_node(self.old, self.new)

    def undo(self) -> None:
        self.doc.model.rename_node(self.new, self.old)


class PasteCommand(QUndoCommand):
    """Insert the nodes and edges of a graph document (paste, duplicate), with fresh ids.

    All of it, or nothing: the constructor checks every node and edge with the model
    (raising its typed error), and ``redo`` adds them with one
    :meth:`~engine.core.graph.GraphModel.add_subgraph`. Like an opened file, the pasted
    edges may form a cycle (the analysis reports it). ``offset`` shifts the positions so
    that the copy does not hide the original; nodes without a position get the source's
    layered layout.
    """

    def __init__(
        self,
        doc: Document,
        source: GraphModel,
        offset: tuple[float, float] = (40, 40),
        text: str = "Paste",
    ) -> None:
        super().__init__()
        self.doc = doc
        taken = set(doc.model.nodes)
        # Copied blocks land at fresh top-level paths, their members renamed after them.
        block_ids, self.scopes, self.blocks = plan_paste(doc.model, source, set(taken))
        self.mapping: dict[str, str] = {}
        scratch = GraphModel()
        for n in taken:
            scratch.graph.add_node(n)
        for n in source.nodes:
            new = block_ids.get(n)
            if new is None or new in scratch:
                new = scratch.unique_id(n)
            scratch.graph.add_node(new)
            self.mapping[n] = new
        layout = layered_layout(source) if any(source.pos(n) is None for n in source.nodes) else {}
        self.nodes: list[tuple] = []
        for n in source.nodes:
            pos = source.pos(n) or layout[n]
            pos = (pos[0] + offset[0], pos[1] + offset[1])
            scope = self.scopes.get(n)
            self.nodes.append((self.mapping[n], source.node_type(n), source.params(n), pos, scope))
        self.edges = [(self.mapping[u], self.mapping[v], k) for u, v, k in source.edges()]
        doc.model.check_subgraph(self.nodes, self.edges)  # raises if refused
        count = len(self.nodes)
        self.setText(f"{text} {count} node{'s' if count != 1 else ''}")

    @property
    def new_ids(self) -> list[str]:
        """The ids the pasted nodes got, in order."""
        return [n for n, *_ in self.nodes]

    def redo(self) -> None:
        self.doc.model.add_subgraph(self.nodes, self.edges)
        for path, rec in self.blocks.items():
            self.doc.model.set_block(path, rec)

    def undo(self) -> None:
        for path in reversed(self.blocks):
            self.doc.model.set_block(path, None)
        for n, *_ in reversed(self.nodes):
            self.doc.model.remove_node(n)


def paste_from_text(
    doc: Document, text: str, offset: tuple[float, float] = (40, 40)
) -> PasteCommand:
    """A :class:`PasteCommand` for clipboard text in the graph JSON format.

    Raises
    ------
    engine.core.errors.FormatError
        If the text is not a graph document.
    """
    return PasteCommand(doc, fileformat.loads(text), offset)


def copy_to_text(doc: Document, nodes: list[str]) -> str:
    """The graph JSON of ``nodes`` and the edges among them (for the clipboard)."""
    keep = set(nodes)
    part = GraphModel(doc.model.name)
    for n in doc.model.nodes:
        if n in keep:
            scope = doc.model.graph.nodes[n].get("scope")
            part.add_node(doc.model.node_type(n), doc.model.params(n), n, doc.model.pos(n), scope)
    for u, v, k in doc.model.edges():
        if u in keep and v in keep:
            part.graph.add_edge(u, v, key=k)
    blocks, types = blocks_of_part(doc.model, nodes)  # the blocks wholly copied travel along
    if blocks:
        part.set_block_types(types)
        for path, rec in blocks.items():
            part.set_block(path, rec)
    return fileformat.dumps(part)
