"""Export PyTorch code: a read-only preview of the generated file, and Save…."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from designer.plaintext import plain_label
from engine.codegen.naming import class_name


def generate_code(model) -> str:
    """The PyTorch source for ``model`` (imports the code generator on first use).

    Raises
    ------
    engine.core.errors.EngineError
        If the graph has errors (the message names the nodes).
    """
    from engine.codegen.emit_blocks import export_blocks  # lazy: keep start-up light

    return export_blocks(model)


def default_file_name(model) -> str:
    """A file name for the exported code, from the design's name."""
    try:
        stem = class_name(model.name).lower()
    except Exception:  # pragma: no cover - naming refuses nothing in practice
        stem = "model"
    return f"{stem or 'model'}.py"


class ExportDialog(QDialog):
    """Shows generated code read-only; Save… writes it to a file chosen by the user."""

    def __init__(
        self,
        code: str,
        file_name: str = "model.py",
        parent: QWidget | None = None,
        start_dir: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export PyTorch code")
        self.code = code
        self.file_name = file_name
        self.start_dir = start_dir or Path.home()
        self.saved_path: Path | None = None
        self.info = QLabel(
            "A standalone file that needs only torch. Run it to build the "
            "model and print its output shape.",
            self,
        )
        self.info.setWordWrap(True)
        plain_label(self.info)  # it shows file paths
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.setPlainText(code)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText("Save…")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.info)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.buttons)
        self.resize(820, 640)

    def ask_path(self) -> Path | None:
        """Ask where to save (tests replace this)."""
        path, _ = QFileDialog.getSaveFileName(
            self, "Save PyTorch code", str(self.start_dir / self.file_name), "Python files (*.py)"
        )
        return Path(path) if path else None

    def save(self) -> bool:
        """Ask for a path and write the code there (atomically); return whether it saved."""
        path = self.ask_path()
        if path is None:
            return False
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text(self.code, encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            self.info.setText(f"Could not save {path}: {exc.strerror or exc}")
            self.info.setStyleSheet("color: #c62828;")
            return False
        self.saved_path = path
        self.info.setStyleSheet("")
        self.info.setText(f"Saved to {path}")
        return True
