"""The inspector: edit the selected node's parameters and read what they cost.

Edits go through :class:`designer.commands.SetParamCommand` (successive edits of one
field coalesce into one undo step). A value the engine refuses is shown inline under
the form and never pushed. The node's id (the attribute name in exported code) is an
editable field at the top: Enter or leaving it renames through
:class:`designer.commands.RenameNodeCommand`; a refused id is shown under it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from designer.commands import RenameNodeCommand, SetParamCommand
from designer.document import Document
from designer.plaintext import plain_label
from engine.core.errors import EngineError
from engine.formatting import fmt_bytes, fmt_compact, fmt_int, fmt_rf
from engine.nodes import NODE_TYPES, fmt_shape, pair
from widgets.param_editors import ParamEditor, make_editor
from widgets.plot_theme import status_colors


class LiveParamCommand(SetParamCommand):
    """A :class:`SetParamCommand` that merges only within one editing session.

    Typing ``256`` is one undo step; pressing Enter (or leaving the field, or selecting
    another node) ends the session, so the next change of the same field is a new step.
    """

    def __init__(self, doc: Document, node: str, name: str, value, session: int) -> None:
        super().__init__(doc, node, name, value)
        self.session = session

    def mergeWith(self, other) -> bool:  # noqa: N802 - Qt's name
        if getattr(other, "session", None) != self.session:
            return False
        return super().mergeWith(other)


def weight_formula(doc: Document, node: str) -> str:
    """The weight count with its factors, e.g. ``3·3·96·128 = 110,592``; ``0`` if none."""
    a = doc.analysis
    r = a.nodes.get(node)
    if r is None or r.shape is None:
        return "?"
    t = doc.model.node_type(node)
    ins = a.inputs.get(node, [])
    in_shape = a.nodes[ins[0]].shape if ins and ins[0] in a.nodes else None
    p = doc.model.params(node)
    if t in ("conv", "conv1x1") and in_shape is not None:
        kh, kw = pair(p["kernel_size"]) if t == "conv" else (1, 1)
        g = p["groups"]
        cin = in_shape[0] // g
        cin_text = f"({in_shape[0]}/{g})" if g != 1 else f"{cin}"
        return f"{kh}·{kw}·{cin_text}·{p['out_channels']} = {fmt_int(r.weights)}"
    if t == "linear" and in_shape is not None:
        return f"{in_shape[0]}·{p['out_features']} = {fmt_int(r.weights)}"
    if t == "conv_transpose" and in_shape is not None:
        kh, kw = pair(p["kernel_size"])
        g, out = p["groups"], p["out_channels"]
        out_text = f"({out}/{g})" if g != 1 else f"{out}"
        return f"{kh}·{kw}·{in_shape[0]}·{out_text} = {fmt_int(r.weights)}"
    return fmt_int(r.weights)


def macs_formula(doc: Document, node: str) -> str:
    """MACs with their factors for conv (weights · H · W) and linear; the short form in
    brackets keeps its unit (a no-break space: a narrow inspector never leaves "M)" alone)."""
    r = doc.analysis.nodes.get(node)
    if r is None or r.shape is None:
        return "?"
    t = doc.model.node_type(node)
    if t in ("conv", "conv1x1") and r.macs:
        _, h, w = r.shape
        return f"{fmt_int(r.weights)}·{h}·{w} = {fmt_int(r.macs)} ({_nbsp(fmt_compact(r.macs))})"
    if t == "conv_transpose" and r.macs:
        # every weight meets every input pixel once
        _, h, w = doc.analysis.nodes[doc.analysis.inputs[node][0]].shape
        return f"{fmt_int(r.weights)}·{h}·{w} = {fmt_int(r.macs)} ({_nbsp(fmt_compact(r.macs))})"
    if r.macs:
        return f"{fmt_int(r.macs)} ({_nbsp(fmt_compact(r.macs))})"
    return "0"


def _nbsp(text: str) -> str:
    """``text`` with no-break spaces (it wraps as one word)."""
    return text.replace(" ", "\u00a0")


class Inspector(QWidget):
    """Parameters and readouts of one node (``set_node(None)`` shows a hint)."""

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.node: str | None = None
        error_style = f"color: {status_colors(self.palette())[1]};"
        self.editors: dict[str, ParamEditor] = {}
        self.session = 0  # edits merge into one undo step only within a session

        self.title = plain_label(QLabel(self))
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.id_edit = QLineEdit(self)
        self.id_edit.setFont(font)
        self.id_edit.setMaxLength(200)
        self.id_edit.setPlaceholderText("node id")
        self.id_edit.setToolTip(
            "The node's id, also its attribute name in exported PyTorch "
            "code.\nType a new one and press Enter to rename the node."
        )
        self.id_edit.setAccessibleName("Node id")
        self.id_edit.editingFinished.connect(self.apply_id)
        self.id_error = plain_label(QLabel(self))
        self.id_error.setWordWrap(True)
        self.id_error.setStyleSheet(error_style)
        self.id_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.id_error.hide()
        self.subtitle = plain_label(QLabel(self))
        self.subtitle.setWordWrap(True)
        self.subtitle.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.form_host = QWidget(self)
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # A narrow inspector puts a wide editor (padding: h × w, square, same) under its
        # label instead of cutting it off.
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)

        self.param_error = plain_label(QLabel(self))
        self.param_error.setWordWrap(True)
        self.param_error.setStyleSheet(error_style)
        self.param_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.param_error.hide()

        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        self.separator = line

        self.readout_host = QWidget(self)
        ro = QFormLayout(self.readout_host)
        ro.setContentsMargins(0, 0, 0, 0)
        self.readouts: dict[str, QLabel] = {}
        for key, label in (
            ("shape", "Output"),
            ("weights", "Weights"),
            ("bias", "Bias"),
            ("other", "Other params"),
            ("macs", "MACs"),
            ("activation", "Activation"),
            ("rf", "Receptive field"),
        ):
            value = plain_label(QLabel(self.readout_host))
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setMinimumWidth(80)  # long formulas wrap instead of being cut
            ro.addRow(label + ":", value)
            self.readouts[key] = value
        self._readout_form = ro

        self.node_error = plain_label(QLabel(self))
        self.node_error.setWordWrap(True)
        self.node_error.setStyleSheet(error_style)
        self.node_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.node_error.hide()

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(6)
        for w in (
            self.title,
            self.id_edit,
            self.id_error,
            self.subtitle,
            self.form_host,
            self.param_error,
            self.separator,
            self.readout_host,
            self.node_error,
        ):
            lay.addWidget(w)
        lay.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        self.scroll = scroll
        # Never narrower than the widest form: a narrower dock would cut editors and
        # readouts off at the right (the scroll area has no horizontal bar).
        self.setMinimumWidth(
            self.widest_form() + 16 + scroll.verticalScrollBar().sizeHint().width()
        )
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        doc.params_changed.connect(self._on_params_changed)
        doc.analysis_changed.connect(self._on_analysis_changed)
        doc.node_removed.connect(self._on_node_removed)
        doc.node_renamed.connect(self._on_node_renamed)
        doc.graph_reset.connect(lambda: self.set_node(None))
        self.set_node(None)

    def widest_form(self) -> int:
        """The minimum width of the widest parameter form of any node type, in pixels."""
        probe = QWidget()
        form = QFormLayout(probe)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        widest = 0
        for t, ntype in NODE_TYPES.items():
            for spec in ntype.params:
                editor = make_editor(t, spec, probe)
                form.addRow(spec.name.replace("_", " ") + ":", editor)
            widest = max(widest, form.minimumSize().width())
            while form.rowCount():
                form.removeRow(0)
        probe.deleteLater()
        return widest

    # ------------------------------------------------------------------ selection
    def set_selection(self, nodes: list) -> None:
        """Follow the canvas selection: one node is inspected, several show a count."""
        nodes = list(nodes)
        if len(nodes) == 1:
            self.set_node(nodes[0])
        else:
            self.set_node(None, count=len(nodes))
            self._show_block(nodes)

    def _show_block(self, nodes: list) -> None:
        """A whole block selected (its card, or all its members): its totals."""
        from engine.blocks import all_types, block_totals, members, records
        from engine.blocks.types import BlockError
        from engine.formatting import fmt_rf_size

        model = self.doc.model
        chosen = set(nodes)
        found = [p for p in records(model) if chosen and set(members(model, p)) == chosen]
        if not found:
            return
        path = max(found, key=lambda p: p.count("."))  # the innermost of nested equals
        rec = records(model)[path]
        t = block_totals(model, self.doc.analysis, path)
        try:
            types = all_types(model)
        except BlockError:
            types = {}
        key = rec.get("type")
        kind = types[key].title if key in types else "Block"
        values = ", ".join(f"{k}={v}" for k, v in rec.get("params", {}).items())
        shapes = " → ".join(
            ", ".join(fmt_shape(s) for s in side) or "–" for side in (t.in_shapes, t.out_shapes)
        )
        self.title.setText(f"{kind} '{rec.get('name') or path}'")
        self.subtitle.setText(
            (f"{values}\n" if values else "")
            + f"{shapes}\n{fmt_int(t.params)} parameters (weights {fmt_int(t.weights)}, "
            f"biases {fmt_int(t.biases)}, batch-norm {fmt_int(t.other)})\n"
            f"{fmt_int(t.macs)} MACs · receptive field {fmt_rf_size(t.rf)} · {t.nodes} nodes"
        )

    def set_node(self, node: str | None, count: int = 0) -> None:
        """Inspect ``node`` (``None``: nothing selected)."""
        if node is not None and node not in self.doc.model:
            node = None
        if node is not None and node == self.node and self.editors_current():
            self._on_params_changed(node)  # same node again: keep the editors (and focus)
            self.refresh_readouts()
            return
        self.node = node
        self.end_session()
        self._clear_form()
        self.param_error.hide()
        self.id_error.hide()
        has = node is not None
        for w in (self.separator, self.readout_host, self.id_edit):
            w.setVisible(has)
        self.title.setVisible(not has)
        if not has:
            self.title.setText("Nothing selected" if count < 2 else f"{count} nodes selected")
            self.subtitle.setText(
                "Select one node on the canvas or in the layer table "
                "to see and edit its parameters."
            )
            self.node_error.hide()
            return
        t = self.doc.model.node_type(node)
        ntype = NODE_TYPES[t]
        self.id_edit.setText(node)
        self.id_edit.setCursorPosition(0)
        self.subtitle.setText(f"{ntype.label} — {ntype.doc}")
        params = self.doc.model.params(node)
        for spec in ntype.params:
            editor = make_editor(t, spec, self.form_host)
            editor.set_value(params[spec.name])
            editor.edited.connect(lambda name=spec.name: self._on_edited(name))
            editor.finished.connect(self.end_session)
            for field in [editor, *editor.findChildren(QWidget)]:
                field.setProperty("cc_param", spec.name)
                field.installEventFilter(self)  # Escape reverts the typing
            self.form.addRow(spec.name.replace("_", " ") + ":", editor)
            self.editors[spec.name] = editor
        if not ntype.params:
            self.form.addRow(QLabel("No parameters.", self.form_host))
        self.refresh_readouts()

    def editors_current(self) -> bool:
        """Whether the editors shown are those of the inspected node's type."""
        if self.node is None or self.node not in self.doc.model:
            return False
        ntype = NODE_TYPES[self.doc.model.node_type(self.node)]
        return list(self.editors) == [p.name for p in ntype.params] and self.form.rowCount() > 0

    def _clear_form(self) -> None:
        self.editors.clear()
        while self.form.rowCount():
            self.form.removeRow(0)

    # ------------------------------------------------------------------ edits
    def _on_edited(self, name: str) -> None:
        node = self.node
        if node is None:
            return
        value = self.editors[name].value()
        if self.doc.model.params(node)[name] == value:
            self.param_error.hide()
            return
        try:
            cmd = LiveParamCommand(self.doc, node, name, value, self.session)
        except EngineError as exc:
            self.param_error.setText(f"Not applied: {exc.message}")
            self.param_error.show()
            return
        self.param_error.hide()
        self.doc.undo_stack.push(cmd)
        if self.editors[name].discrete:
            self.end_session()  # a click is a whole edit

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if (
            event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Escape
            and obj.property("cc_param") in self.editors
        ):
            self.revert_typing(obj.property("cc_param"))
            return True
        return super().eventFilter(obj, event)

    def revert_typing(self, name: str) -> None:
        """Escape in a field: undo what this editing session typed into it (one undo step,
        so Redo brings it back), or show the model's value again if nothing was applied."""
        stack = self.doc.undo_stack
        last = stack.command(stack.index() - 1) if stack.index() > 0 else None
        if (
            isinstance(last, LiveParamCommand)
            and last.session == self.session
            and (last.node, last.name) == (self.node, name)
        ):
            stack.undo()
        if self.node is not None and self.node in self.doc.model:
            self.editors[name].set_value(self.doc.model.params(self.node)[name])
        self.param_error.hide()
        self.end_session()

    def end_session(self) -> None:
        """The current edit is complete: the next change is a new undo step."""
        self.session += 1

    def _on_params_changed(self, node: str) -> None:
        if node != self.node:
            return
        params = self.doc.model.params(node)
        for name, editor in self.editors.items():
            if editor.value() != params[name]:
                editor.set_value(params[name])
        self.param_error.hide()

    def _on_analysis_changed(self, changed) -> None:
        if self.node is not None and (self.node in changed or not changed):
            self.refresh_readouts()

    def apply_id(self) -> None:
        """Rename the inspected node to the id typed in :attr:`id_edit` (Enter, focus-out).

        A refused id (empty, too long, taken) is shown under the field and not pushed.
        """
        node = self.node
        if node is None:
            return
        new = self.id_edit.text().strip()
        if new == node:
            self.id_edit.setText(node)
            self.id_error.hide()
            return
        try:
            cmd = RenameNodeCommand(self.doc, node, new)
        except EngineError as exc:
            self.id_error.setText(f"Not renamed: {exc.message}")
            self.id_error.show()
            return
        self.id_error.hide()
        self.doc.undo_stack.push(cmd)

    def _on_node_renamed(self, old: str, new: str) -> None:
        if old == self.node:
            self.node = new  # same node, same editors: only the id changes
            self.id_edit.setText(new)
            self.id_edit.setCursorPosition(0)
            self.id_error.hide()

    def _on_node_removed(self, node: str) -> None:
        if node == self.node:
            self.set_node(None)

    # ------------------------------------------------------------------ readouts
    def refresh_readouts(self) -> None:
        """Show the current analysis of the inspected node."""
        node = self.node
        if node is None:
            return
        r = self.doc.analysis.nodes.get(node)
        ro = self.readouts
        if r is None:
            return
        t = self.doc.model.node_type(node)
        ok = r.shape is not None
        ro["shape"].setText(fmt_shape(r.shape) if ok else "—")
        ro["weights"].setText(weight_formula(self.doc, node) if ok else "—")
        if not ok:
            ro["bias"].setText("—")
        elif t in ("conv", "conv1x1", "linear", "conv_transpose"):
            ro["bias"].setText(
                fmt_int(r.biases) if self.doc.model.params(node)["bias"] else "0 (bias off)"
            )
        else:
            ro["bias"].setText(fmt_int(r.biases))
        ro["other"].setText(
            (f"{fmt_int(r.other)} (γ, β: 2·{r.shape[0]})" if r.other else "0") if ok else "—"
        )
        self._readout_form.setRowVisible(ro["other"], t in ("batchnorm", "layernorm2d"))
        ro["macs"].setText(macs_formula(self.doc, node) if ok else "—")
        ro["activation"].setText(
            f"{fmt_shape(r.shape)} · 4 B = {fmt_bytes(r.activation_bytes)}" if ok else "—"
        )
        ro["rf"].setText(fmt_rf(r.rf) if ok else "—")
        if r.error:
            self.node_error.setText(r.error)
            self.node_error.show()
        elif r.waiting_on:
            self.node_error.setText(f"No output: waiting on '{r.waiting_on}', which has an error.")
            self.node_error.show()
        else:
            self.node_error.hide()
        # A readout that now wraps onto two lines needs a taller row: the form keeps the
        # heights it measured for the old texts until it is told to measure again.
        self._readout_form.invalidate()
        self.readout_host.updateGeometry()

    def readout(self, key: str) -> str:
        """The text of one readout (``shape``, ``weights``, ``bias``, ``macs``, …)."""
        return self.readouts[key].text()
