"""One editor widget per parameter kind of :class:`engine.nodes.ParamSpec`.

Every editor has ``value()`` (the JSON-like value the engine takes), ``set_value(v)``
(without emitting) and the signal ``edited`` (the user changed the value).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from engine.nodes import ParamSpec, pair

INT_MAX = 2_147_483_647


def _spin(spec: ParamSpec, parent: QWidget) -> QSpinBox:
    box = QSpinBox(parent)
    lo = int(spec.minimum) if spec.minimum is not None else -INT_MAX
    hi = int(spec.maximum) if spec.maximum is not None else INT_MAX
    box.setRange(lo, min(hi, INT_MAX))
    box.setKeyboardTracking(True)
    box.setMinimumWidth(56)
    box.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    box.setAccelerated(True)
    return box


class ParamEditor(QWidget):
    """Base class: a row widget editing one parameter."""

    edited = Signal()
    finished = Signal()  # Enter pressed or focus left: the edit is complete
    discrete = False  # True when every change is a whole edit (check boxes)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._quiet = False
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(6)
        if spec.doc:
            self.setToolTip(spec.doc)

    def value(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        """Show ``value`` without emitting :attr:`edited`."""
        self._quiet = True
        try:
            self._show(value)
        finally:
            self._quiet = False

    def _show(self, value: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _emit(self, *_args) -> None:
        if not self._quiet:
            self.edited.emit()


class IntEditor(ParamEditor):
    """A bounded spin box."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.spin = _spin(spec, self)
        self.layout_.addWidget(self.spin, 1)
        self.spin.valueChanged.connect(self._emit)
        self.spin.editingFinished.connect(self.finished)

    def value(self) -> int:
        return self.spin.value()

    def _show(self, value: Any) -> None:
        self.spin.setValue(int(value))


class PairEditor(ParamEditor):
    """Two spin boxes (h, w) with a "square" link: linked, the value is one int."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.h = _spin(spec, self)
        self.w = _spin(spec, self)
        self.h.setToolTip(f"{spec.name}: height")
        self.w.setToolTip(f"{spec.name}: width")
        self.times = QLabel("×", self)
        self.square = QCheckBox("square", self)
        self.square.setToolTip("keep height and width equal")
        self.square.setChecked(True)
        self.layout_.addWidget(self.h, 1)
        self.layout_.addWidget(self.times)
        self.layout_.addWidget(self.w, 1)
        self.layout_.addWidget(self.square)
        self.w.setEnabled(False)
        self.h.editingFinished.connect(self.finished)
        self.w.editingFinished.connect(self.finished)
        self.h.valueChanged.connect(self._on_h)
        self.w.valueChanged.connect(self._emit)
        self.square.toggled.connect(self._on_square)

    def value(self) -> int | list[int]:
        if self.square.isChecked():
            return self.h.value()
        return [self.h.value(), self.w.value()]

    def _show(self, value: Any) -> None:
        h, w = pair(value)
        self.square.setChecked(not isinstance(value, (list, tuple)) or h == w)
        self.h.setValue(h)
        self.w.setValue(w)
        self.w.setEnabled(not self.square.isChecked())

    def _on_h(self, v: int) -> None:
        if self.square.isChecked():
            quiet, self._quiet = self._quiet, True
            self.w.setValue(v)
            self._quiet = quiet
        self._emit()

    def _on_square(self, on: bool) -> None:
        self.w.setEnabled(not on)
        if on and self.w.value() != self.h.value():
            quiet, self._quiet = self._quiet, True
            self.w.setValue(self.h.value())
            self._quiet = quiet
            self._emit()
            self.finished.emit()

    def set_pair_enabled(self, on: bool) -> None:
        """Enable or disable the spin boxes (for "same" / "= kernel")."""
        self.h.setEnabled(on)
        self.w.setEnabled(on and not self.square.isChecked())
        self.square.setEnabled(on)


class PaddingEditor(PairEditor):
    """A pair editor; for convolutions it also offers "same" padding."""

    def __init__(
        self, spec: ParamSpec, parent: QWidget | None = None, allow_same: bool = True
    ) -> None:
        super().__init__(spec, parent)
        self.same = QCheckBox("same", self) if allow_same else None
        if self.same is not None:
            self.same.setToolTip("pad so that the output keeps the input's H×W (stride 1 only)")
            self.layout_.addWidget(self.same)
            self.same.toggled.connect(self._on_same)

    def value(self) -> Any:
        if self.same is not None and self.same.isChecked():
            return "same"
        return super().value()

    def _show(self, value: Any) -> None:
        is_same = value == "same"
        if self.same is not None:
            self.same.setChecked(is_same)
        super()._show(0 if is_same else value)
        self.set_pair_enabled(not is_same)

    def _on_same(self, on: bool) -> None:
        self.set_pair_enabled(not on)
        self._emit()
        self.finished.emit()


class OptionalPairEditor(PairEditor):
    """A pair that may be unset (pool stride: "= kernel" when unset)."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        stride = spec.name == "stride"
        self.auto = QCheckBox("= kernel" if stride else "unset", self)
        self.auto.setToolTip(
            "unset: the stride equals the kernel size (torch's default)"
            if stride
            else f"unset: {spec.doc or 'torch default'}"
        )
        self.layout_.addWidget(self.auto)
        self.auto.toggled.connect(self._on_auto)

    def value(self) -> Any:
        if self.auto.isChecked():
            return None
        return super().value()

    def _show(self, value: Any) -> None:
        self.auto.setChecked(value is None)
        super()._show(1 if value is None else value)
        self.set_pair_enabled(value is not None)

    def _on_auto(self, on: bool) -> None:
        self.set_pair_enabled(not on)
        self._emit()
        self.finished.emit()


class BoolEditor(ParamEditor):
    """A check box."""

    discrete = True

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.check = QCheckBox(self)
        self.layout_.addWidget(self.check)
        self.layout_.addStretch(1)
        self.check.toggled.connect(self._emit)

    def value(self) -> bool:
        return self.check.isChecked()

    def _show(self, value: Any) -> None:
        self.check.setChecked(bool(value))


class _FloatSpin(QDoubleSpinBox):
    """A double spin box that shows its value without trailing zeros (``0.166667``, ``0.5``)."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt's name
        return f"{value:.{self.decimals()}f}".rstrip("0").rstrip(".") or "0"


class FloatEditor(ParamEditor):
    """A bounded float spin box; small defaults (eps) get more decimals."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.spin = _FloatSpin(self)
        default = float(spec.default) if spec.default is not None else 1.0
        small = 0 < abs(default) < 0.01
        # Six decimals where the default needs them (eps, hardsigmoid's 1/6).
        self.spin.setDecimals(6 if small or round(default, 3) != default else 3)
        self.spin.setSingleStep(abs(default) / 10 if small else 0.05)
        self.spin.setRange(
            spec.minimum if spec.minimum is not None else -1e9,
            spec.maximum if spec.maximum is not None else 1e9,
        )
        self.layout_.addWidget(self.spin, 1)
        self.spin.valueChanged.connect(self._emit)
        self.spin.editingFinished.connect(self.finished)

    def value(self) -> float:
        return float(self.spin.value())

    def _show(self, value: Any) -> None:
        self.spin.setValue(float(value))


class OptionalEditor(ParamEditor):
    """An int or float spin box that may be unset (``None``): a check box turns it on."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        if spec.kind == "optional_int":
            self.spin = _spin(spec, self)
        else:
            self.spin = _FloatSpin(self)
            self.spin.setDecimals(4)
            self.spin.setRange(
                spec.minimum if spec.minimum is not None else -1e9,
                spec.maximum if spec.maximum is not None else 1e9,
            )
        self.on = QCheckBox("set", self)
        self.on.setToolTip(f"unset: {spec.doc or 'torch default'}")
        self.layout_.addWidget(self.spin, 1)
        self.layout_.addWidget(self.on)
        self.spin.valueChanged.connect(self._emit)
        self.spin.editingFinished.connect(self.finished)
        self.on.toggled.connect(self._on_toggled)

    def value(self) -> Any:
        if not self.on.isChecked():
            return None
        v = self.spin.value()
        return int(v) if self.spec.kind == "optional_int" else float(v)

    def _show(self, value: Any) -> None:
        self.on.setChecked(value is not None)
        if value is not None:
            self.spin.setValue(value)
        self.spin.setEnabled(value is not None)

    def _on_toggled(self, on: bool) -> None:
        self.spin.setEnabled(on)
        self._emit()
        self.finished.emit()


class ChoiceEditor(ParamEditor):
    """A drop-down list of the parameter's choices."""

    discrete = True

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.combo = QComboBox(self)
        self.combo.addItems(list(spec.choices))
        self.layout_.addWidget(self.combo, 1)
        self.combo.currentIndexChanged.connect(self._emit)

    def value(self) -> str:
        return self.combo.currentText()

    def _show(self, value: Any) -> None:
        self.combo.setCurrentIndex(self.spec.choices.index(value))


def make_editor(type_name: str, spec: ParamSpec, parent: QWidget | None = None) -> ParamEditor:
    """The editor for ``spec`` of node type ``type_name``."""
    kind = spec.kind
    if kind == "int":
        return IntEditor(spec, parent)
    if kind == "pair":
        return PairEditor(spec, parent)
    if kind == "padding":
        return PaddingEditor(spec, parent, allow_same=type_name == "conv")
    if kind == "optional_pair":
        return OptionalPairEditor(spec, parent)
    if kind == "bool":
        return BoolEditor(spec, parent)
    if kind == "float":
        return FloatEditor(spec, parent)
    if kind in ("optional_int", "optional_float"):
        return OptionalEditor(spec, parent)
    if kind == "choice":
        return ChoiceEditor(spec, parent)
    raise ValueError(f"no editor for parameter kind {kind!r}")  # pragma: no cover
