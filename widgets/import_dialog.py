"""File → Import PyTorch model…: trace a user's ``nn.Module`` into a new design tab.

The import runs ``python main.py import SOURCE --input CxHxW -o TMP.json --weights
TMP.safetensors`` in a :class:`~PySide6.QtCore.QProcess`, so torch is never imported in
the window's process and the window stays responsive (a busy bar and Cancel while it
runs). A refused or unreadable source leaves the dialog open with the command's own
message (its standard error) and what its exit status means. On success the design
opens in a new tab with the imported weights in use (``imported from FILE:NAME``), and
the temporary files are removed.
"""

from __future__ import annotations

import ast
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QProcess, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.plaintext import plain_label
from engine.core.packages import is_installed, pip_command, timm_model_names

ROOT = Path(__file__).resolve().parent.parent
FROM_FILE, FROM_TIMM = "Python file or module", "timm model"
MAIN = ROOT / "main.py"
MAX_SCAN_BYTES = 2 << 20  # files larger than this are not scanned for names

#: What the ``import`` command's exit statuses mean (cli/import_.py).
EXIT_MEANINGS = {
    1: (
        "exit status 1: the model was refused (an operation outside the node types, code "
        "that cannot be traced, or an input size it does not fit); nothing was written"
    ),
    2: (
        "exit status 2: the source cannot be found, imported or called, does not give a "
        "module, is a pickled file, or the output cannot be written"
    ),
}


@dataclass(frozen=True)
class ImportedDesign:
    """What a finished import wrote: the design file, its weights and the command's summary."""

    source: str
    json_path: Path
    weights_path: Path
    summary: str
    folder: Path

    @property
    def label(self) -> str:
        """``tiny.py:Tiny`` (file name, not the whole path), ``package.module:Name`` or
        ``timm:resnet18d``."""
        if self.source.lower().endswith(".onnx"):
            return Path(self.source).name  # an ONNX file: "imported from model.onnx"
        where, _, name = self.source.rpartition(":")
        return f"{Path(where).name if where.endswith('.py') else where}:{name}"

    def remove(self) -> None:
        """Delete the temporary folder holding both files."""
        shutil.rmtree(self.folder, ignore_errors=True)


def exit_meaning(code: int) -> str:
    """The sentence the dialog adds under the command's message for exit status ``code``."""
    return EXIT_MEANINGS.get(code, f"exit status {code}: the import process failed")


def model_names(path: str | Path) -> list[str]:
    """Top-level classes and functions callable without arguments in a ``.py`` file.

    A class whose ``__init__`` needs arguments is left out (calling it would fail).

    The file is parsed, never run; ``[]`` when it cannot be read or parsed.

    Parameters
    ----------
    path : str or Path
        A Python source file.

    Returns
    -------
    list of str
        Classes first, then functions, each in file order.
    """
    try:
        p = Path(path)
        if not p.is_file() or p.stat().st_size > MAX_SCAN_BYTES:
            return []
        tree = ast.parse(p.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    classes, functions = [], []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            init = next(
                (f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"),
                None,
            )
            if init is None or _required_args(init) <= 1:  # self only
                classes.append(node.name)
        elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            if _required_args(node) == 0:
                functions.append(node.name)
    return classes + functions


def _required_args(fn: ast.FunctionDef) -> int:
    """How many arguments a call of ``fn`` must give (``self`` counted)."""
    a = fn.args
    return (
        len(a.posonlyargs) + len(a.args) - len(a.defaults) + sum(d is None for d in a.kw_defaults)
    )


class ImportDialog(QDialog):
    """Pick a ``.py`` file or module path, the model's name and input size; import it.

    Signals
    -------
    imported(ImportedDesign)
        The command succeeded; the receiver owns (and removes) the files.
    failed(str)
        The command failed; the text is what the dialog shows.
    cancelled()
        Cancel stopped the command.
    """

    imported = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None, python: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import PyTorch model")
        self.setObjectName("import_dialog")
        self.python = python or sys.executable
        self.process: QProcess | None = None
        self._folder: Path | None = None
        self.folder_used: Path | None = None  # the last import's temporary folder
        self._source = ""
        self._cancelling = False
        self._build()
        self._update_size_fields()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        intro = QLabel(
            "Traces an <code>nn.Module</code> with torch.fx into a design, with its weights. "
            "Give a Python file (or an installed module) and the class or the function "
            "(called with no arguments) that makes the model, or the name of a timm model "
            "(built with <code>pretrained=False</code>: nothing is downloaded)."
        )
        intro.setWordWrap(True)
        self.from_combo = QComboBox(self)
        self.from_combo.setObjectName("import_from")
        self.from_combo.addItems([FROM_FILE, FROM_TIMM])
        self.from_combo.setToolTip("Where the model comes from")
        self.from_combo.currentTextChanged.connect(self._from_changed)
        self._timm_names: list[str] | None = None
        self.source_edit = QLineEdit(self)
        self.source_edit.setObjectName("import_source")
        self.source_edit.setPlaceholderText("path/to/model.py  or  package.module")
        self.source_edit.textChanged.connect(self._source_edited)
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self.browse)
        src_row = QHBoxLayout()
        src_row.setContentsMargins(0, 0, 0, 0)
        src_row.addWidget(self.source_edit, 1)
        src_row.addWidget(self.browse_button)
        self.name_combo = QComboBox(self)
        self.name_combo.setObjectName("import_name")
        self.name_combo.setEditable(True)
        self.name_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.name_combo.lineEdit().setPlaceholderText("class or zero-argument function")
        self.size_boxes = []
        self._size_marks: list[QLabel] = []
        size_row = QHBoxLayout()
        size_row.setContentsMargins(0, 0, 0, 0)
        fields = (("C", 3, 1 << 20), ("H", 224, 1 << 16), ("W", 224, 1 << 16))
        for i, (label, value, top) in enumerate(fields):
            box = QSpinBox(self)
            box.setRange(1, top)
            box.setValue(value)
            box.setAccessibleName(f"input {label}")
            box.setToolTip({"C": "channels", "H": "height", "W": "width"}[label])
            self.size_boxes.append(box)
            if i:
                mark = QLabel("×", self)
                self._size_marks.append(mark)
                size_row.addWidget(mark)
            size_row.addWidget(box)
        # An ONNX file declares its input size: taken from it unless the user gives one
        # (needed when the file leaves C, H or W open).
        self.size_from_file = QCheckBox("from the file", self)
        self.size_from_file.setChecked(True)
        self.size_from_file.setToolTip(
            "Use the input size the ONNX file declares; untick to give it (the file may "
            "leave it open)"
        )
        self.size_from_file.toggled.connect(self._update_size_fields)
        size_row.addWidget(self.size_from_file)
        size_row.addStretch(1)
        self.completer = QCompleter(QStringListModel([], self), self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        form = QFormLayout()
        self.form = form
        form.addRow("From:", self.from_combo)
        form.addRow("Source:", src_row)
        self._src_row = src_row
        form.addRow("Name:", self.name_combo)
        form.addRow("Input (C × H × W):", size_row)

        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)  # indeterminate: the command reports no progress
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(10)
        self.busy.hide()
        self.status = plain_label(QLabel("", self))
        self.status.setObjectName("import_status")
        self.status.setWordWrap(True)
        self.message = QLabel("", self)
        self.message.setObjectName("import_message")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("color: #b00020;")
        self.message.hide()

        self.import_button = QPushButton("Import", self)
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the import")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close", self)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.import_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)

        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.busy)
        lay.addWidget(self.status)
        lay.addWidget(self.message)
        lay.addStretch(1)
        lay.addLayout(buttons)
        self.resize(560, 300)
        self._elapsed = 0
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)

    # ------------------------------------------------------------------ inputs
    def set_source(self, source: str, name: str = "") -> None:
        """Fill the source field (and the name, if given)."""
        self.source_edit.setText(source)
        if name:
            self.name_combo.setCurrentText(name)

    def set_input_size(self, c: int, h: int, w: int) -> None:
        """Set the input size fields."""
        for box, v in zip(self.size_boxes, (c, h, w)):
            box.setValue(v)

    def input_size(self) -> tuple[int, int, int]:
        """The input size (C, H, W) in the fields."""
        c, h, w = (b.value() for b in self.size_boxes)
        return c, h, w

    def browse(self) -> None:
        """Choose a ``.py`` file."""
        start = self.source_edit.text().strip()
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Python or ONNX file with the model",
            start,
            "Models (*.py *.onnx);;Python files (*.py);;ONNX files (*.onnx);;All files (*)",
        )
        if path:
            self.source_edit.setText(path)

    def _source_edited(self, text: str) -> None:
        # A new source: the names are its own (the old name belonged to the old source).
        names = model_names(text.strip()) if text.strip().endswith(".py") else []
        self.name_combo.clear()
        self.name_combo.addItems(names)
        self.name_combo.setCurrentText(names[0] if names else "")
        self._update_size_fields()

    @property
    def is_onnx(self) -> bool:
        """Whether the source is an ONNX file."""
        return not self.from_timm and self.source_edit.text().strip().lower().endswith(".onnx")

    def size_given(self) -> bool:
        """Whether the import passes the size fields as ``--input`` (not for an ONNX file
        whose own input size is used)."""
        return not (self.is_onnx and self.size_from_file.isChecked())

    def _update_size_fields(self, *_args) -> None:
        self.size_from_file.setVisible(self.is_onnx)
        if not self.from_timm:  # an ONNX file holds one model: no name to give
            self.name_combo.setEnabled(not self.is_onnx)
            self.name_combo.lineEdit().setPlaceholderText(
                "not needed for an ONNX file" if self.is_onnx else "class or zero-argument function"
            )
        busy = getattr(self, "process", None) is not None and self.running
        for box in self.size_boxes:  # hidden while the file's own size is used
            box.setEnabled(self.size_given() and not busy)
            box.setVisible(self.size_given())
        for mark in self._size_marks:
            mark.setVisible(self.size_given())

    @property
    def from_timm(self) -> bool:
        """Whether the dialog imports a timm model by name."""
        return self.from_combo.currentText() == FROM_TIMM

    def set_from(self, kind: str) -> None:
        """Choose where the model comes from: :data:`FROM_FILE` or :data:`FROM_TIMM`."""
        self.from_combo.setCurrentText(kind)

    def _from_changed(self, kind: str) -> None:
        timm = kind == FROM_TIMM
        self.form.setRowVisible(self._src_row, not timm)
        self._update_size_fields()
        self.name_combo.clear()
        self.name_combo.setCurrentText("")
        self.message.hide()
        edit = self.name_combo.lineEdit()
        if not timm:
            edit.setPlaceholderText("class or zero-argument function")
            self.name_combo.setCompleter(None)
            self._source_edited(self.source_edit.text())
            self.import_button.setEnabled(True)
            return
        if not is_installed("timm"):
            edit.setPlaceholderText("timm is not installed")
            self.import_button.setEnabled(False)
            self._show_message(
                f"timm is not installed in the environment ConvCanvas runs in "
                f"({sys.prefix}). Install it with:\n{pip_command('timm')}"
            )
            return
        if self._timm_names is None:
            self._timm_names = timm_model_names()
        edit.setPlaceholderText(f"one of timm's {len(self._timm_names)} models, e.g. resnet18d")
        self.completer.model().setStringList(self._timm_names)
        self.name_combo.setCompleter(self.completer)
        self.import_button.setEnabled(True)

    def command_source(self) -> str | None:
        """``FILE.py:NAME`` (absolute path) or ``module:NAME``; ``None`` after saying what is
        missing."""
        where = self.source_edit.text().strip()
        name = self.name_combo.currentText().strip()
        if self.from_timm:
            if not name:
                self._show_message("Give the name of a timm model, e.g. resnet18d.")
                return None
            if self._timm_names and name not in self._timm_names:
                self._show_message(f"timm has no model '{name}'; pick one from the list.")
                return None
            return f"timm:{name}"
        if where.lower().endswith(".onnx"):  # an ONNX file needs no name (engine.onnx)
            return str(Path(where).expanduser().absolute())
        if not name and ":" in where and not Path(where).is_file():
            where, _, name = where.rpartition(":")
        if not where:
            self._show_message("Give a Python file (path/to/model.py) or a module path.")
            return None
        if not name:
            self._show_message("Give the name of the model's class or of a function making it.")
            return None
        if where.endswith(".py") or "/" in where or "\\" in where:
            where = str(Path(where).expanduser().absolute())
        return f"{where}:{name}"

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        """Whether the import command is running."""
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def arguments(self, source: str, folder: Path) -> list[str]:
        """The ``main.py import`` command line for ``source``, writing into ``folder``."""
        c, h, w = self.input_size()
        size = ["--input", f"{c}x{h}x{w}"] if self.size_given() else []
        return [
            str(MAIN),
            "import",
            source,
            *size,
            "-o",
            str(folder / "design.json"),
            "--weights",
            str(folder / "weights.safetensors"),
        ]

    def start(self) -> bool:
        """Run the import command; return whether it started."""
        if self.running:
            return False
        source = self.command_source()
        if source is None:
            return False
        self._source = source
        self._folder = Path(tempfile.mkdtemp(prefix="convcanvas-import-"))
        self.folder_used = self._folder
        self._cancelling = False
        proc = QProcess(self)
        proc.setProgram(self.python)
        proc.setArguments(self.arguments(source, self._folder))
        proc.setWorkingDirectory(str(ROOT))
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)
        self.process = proc
        self.message.hide()
        self._set_busy(True)
        self._elapsed = 0
        self.status.setText("Importing… (loading torch in a separate process)")
        proc.start()
        return True

    def cancel(self) -> None:
        """Stop the running import (nothing is written; ``cancelled`` follows)."""
        if not self.running:
            return
        self._cancelling = True
        self.status.setText("Cancelling…")
        self.process.kill()

    def _tick(self) -> None:
        self._elapsed += 1
        self.status.setText(f"Importing… {self._elapsed} s")

    def _set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        self.import_button.setEnabled(not busy)
        widgets = (self.from_combo, self.source_edit, self.browse_button, self.name_combo)
        for w in (*widgets, self.size_from_file, *self.size_boxes):
            w.setEnabled(not busy)
        if busy:
            self._ticker.start()
        else:
            self._ticker.stop()
            self._update_size_fields()  # (the name and the size as the source wants)

    def _read(self, channel: str) -> str:
        proc = self.process
        data = proc.readAllStandardError() if channel == "err" else proc.readAllStandardOutput()
        return bytes(data.data()).decode("utf-8", "replace").rstrip("\n")

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        proc = self.process
        if proc is None or self.sender() is not proc:
            return
        self._set_busy(False)
        out, err = self._read("out"), self._read("err")
        folder = self._folder
        self._folder = None
        if self._cancelling:
            self._cancelling = False
            self._remove(folder)
            self.status.setText("Import cancelled: nothing was imported.")
            self.cancelled.emit()
            return
        if status == QProcess.ExitStatus.NormalExit and code == 0:
            self.status.setText(out)
            design = ImportedDesign(
                self._source, folder / "design.json", folder / "weights.safetensors", out, folder
            )
            self.imported.emit(design)
            self.accept()
            return
        self._remove(folder)
        if status == QProcess.ExitStatus.CrashExit:
            text = (err + "\n" if err else "") + "the import process crashed"
        else:
            text = (err + "\n" if err else "") + exit_meaning(code)
        self.status.setText("Import failed.")
        self._show_message(text)
        self.failed.emit(text)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error != QProcess.ProcessError.FailedToStart or self.sender() is not self.process:
            return  # crashes and kills arrive through finished()
        self._set_busy(False)
        self._remove(self._folder)
        self._folder = None
        text = f"cannot start {self.python}: {self.process.errorString()}"
        self.status.setText("Import failed.")
        self._show_message(text)
        self.failed.emit(text)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    @property
    def message_text(self) -> str:
        """The error shown (empty when none)."""
        return self.message.text() if self.message.isVisible() else ""

    @staticmethod
    def _remove(folder: Path | None) -> None:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def reject(self) -> None:
        """Close (stopping a running import first)."""
        if self.running:
            self.cancel()
            self.process.waitForFinished(3000)
        super().reject()


# ---------------------------------------------------------------------- the window's side
def open_imported(window, design: ImportedDesign):
    """Open ``design`` in a new tab of ``window`` with its weights in use; remove its files.

    Returns the new tab, or ``None`` (after telling the user why) if the files cannot be
    read.
    """
    from engine.core import fileformat
    from engine.core.errors import FormatError
    from engine.weights.weightset import names_for, split_state

    try:
        model = fileformat.load(design.json_path)
        state = _read_state(design.weights_path)
    except (FormatError, OSError, ValueError) as exc:
        design.remove()
        why = getattr(exc, "message", None) or str(exc)
        window.show_error(window, "Cannot open the imported design", why)
        return None
    design.remove()
    tab = window.new_tab(model)
    tab.doc.undo_stack.resetClean()  # an import is unsaved work until the user saves it
    unmatched = split_state(state, names_for(tab.doc.model))[1]
    tab.doc.set_weights(state, "loaded", f"imported from {design.label}", {"source": design.source})
    train = getattr(window, "train_host", None)
    if train is not None and hasattr(train, "follow_tab"):
        train.follow_tab(tab)
    lines = design.summary.splitlines()
    notes = [line.removeprefix("note: ") for line in lines if line.startswith("note: ")]
    head = next((line for line in lines if not line.startswith("note: ")), "")
    if unmatched:
        notes.append(f"{len(unmatched)} tensor(s) matched no node")
    window.statusBar().showMessage("; ".join([head.split(" -> ")[0], *notes]), 8000)
    return tab


def _read_state(path: Path) -> dict:
    """The safetensors file the command wrote, as numpy arrays (no torch here)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise ValueError(f"{path.name}: {exc}") from None


class ImportHost:
    """The window's File → Import PyTorch model… action and its (re-used) dialog."""

    def __init__(self, window) -> None:
        self.window_ = window
        self.dialog: ImportDialog | None = None
        self.action = QAction("&Import PyTorch Model…", window)
        tip = "Trace a PyTorch nn.Module (a .py file or module) into a new design tab"
        self.action.setStatusTip(tip)
        self.action.setToolTip(tip)
        self.action.setShortcut("Ctrl+Shift+I")
        self.action.triggered.connect(lambda _c=False: self.show_dialog())
        self.opened = None  # the last tab an import opened

    def show_dialog(self) -> ImportDialog:
        """Open (or raise) the import dialog (window-modal, not blocking)."""
        if self.dialog is None:
            self.dialog = ImportDialog(self.window_)
            self.dialog.imported.connect(self._on_imported)
        self.dialog.open()
        self.dialog.raise_()
        return self.dialog

    def _on_imported(self, design: ImportedDesign) -> None:
        self.opened = open_imported(self.window_, design)
