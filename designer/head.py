"""Adding a classifier head as one undoable edit (global avg pool → flatten → linear)."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from designer.document import Document


class AddHeadCommand(QUndoCommand):
    """Append nodes in a chain after ``after``; undo removes exactly them.

    Built from the model's primitive, invertible edits: ``add_node`` then ``connect`` for
    each node on redo, ``disconnect`` then ``remove_node`` in reverse on undo.
    """

    def __init__(self, doc: Document, after: str, nodes: list[tuple[str, dict]]) -> None:
        super().__init__()
        self.doc = doc
        self.after = after
        model = doc.model
        taken: set[str] = set()
        self.ids: list[str] = []
        for type_name, _params in nodes:
            base = {"global_avgpool": "gap", "linear": "fc"}.get(type_name, type_name)
            nid = model.unique_id(base)
            k = 1
            while nid in taken:
                nid = model.unique_id(f"{base}_{k}")
                k += 1
            taken.add(nid)
            self.ids.append(nid)
        self.nodes = nodes
        pos = model.graph.nodes[after].get("pos") or (0.0, 0.0)
        self.positions = [(pos[0], pos[1] + 90.0 * (i + 1)) for i in range(len(nodes))]
        self.setText(f"Add a classifier head after '{after}'")

    def redo(self) -> None:
        model = self.doc.model
        src = self.after
        for nid, (type_name, params), pos in zip(self.ids, self.nodes, self.positions):
            model.add_node(type_name, dict(params), nid, pos)
            model.connect(src, nid, 0)
            src = nid

    def undo(self) -> None:
        model = self.doc.model
        for nid in reversed(self.ids):
            model.disconnect(nid, 0)
            model.remove_node(nid)
