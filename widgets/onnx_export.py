"""File → Export ONNX…: write the current design, with the weights in use, as an ONNX file.

The export runs ``python main.py export DESIGN.json -o FILE.onnx [--weights W
--weights-partial] --seed S`` in a :class:`~PySide6.QtCore.QProcess` (as File → Import
does), so torch is never imported in the window's process and the window stays usable:
the status bar shows the elapsed time and Cancel stops it. The design and the weights in
use (trained or loaded; random ones are rebuilt from the seed) go to a temporary folder
that is removed when the command ends. A failure is shown with the command's message.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "main.py"


class OnnxExportHost(QObject):
    """The window's File → Export ONNX… action and its running export.

    Signals
    -------
    exported(str)
        The ONNX file was written (its path); the text is the command's summary in
        ``summary``.
    failed(str)
        The command failed; the text is what the window shows.
    """

    exported = Signal(str)
    failed = Signal(str)

    def __init__(self, window, python: str | None = None) -> None:
        super().__init__(window)
        self.window_ = window
        self.python = python or sys.executable
        self.process: QProcess | None = None
        self.summary = ""
        self._folder: Path | None = None
        self._target: Path | None = None
        self._cancelled = False
        self.progress: QProgressDialog | None = None
        self.action = QAction("Export &ONNX…", window)
        tip = "Write the design with its weights as an ONNX file (Netron, onnxruntime)"
        self.action.setStatusTip(tip)
        self.action.setToolTip(tip)
        self.action.triggered.connect(lambda _c=False: self.choose_and_export())
        self._elapsed = 0
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)

    @property
    def running(self) -> bool:
        """Whether an export is running."""
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def choose_and_export(self) -> bool:
        """Ask for the file name, then export; return whether an export started."""
        doc = self.window_.doc
        stem = (doc.path.stem if doc.path else doc.model.name or "design").strip() or "design"
        start = str((doc.path.parent if doc.path else Path.home()) / f"{stem}.onnx")
        path, _ = QFileDialog.getSaveFileName(
            self.window_, "Export ONNX", start, "ONNX files (*.onnx)"
        )
        if not path:
            return False
        if not path.lower().endswith(".onnx"):
            path += ".onnx"
        return self.export_to(Path(path))

    def arguments(self, design: Path, target: Path, weights: Path | None, seed: int) -> list[str]:
        """The ``main.py export`` command line."""
        args = [str(MAIN), "export", str(design), "-o", str(target), "--seed", str(seed)]
        if weights is not None:
            args += ["--weights", str(weights), "--weights-partial"]
        return args

    def export_to(self, target: Path) -> bool:
        """Export the current design to ``target``; return whether the command started."""
        from engine.analysis.analyzer import analyze
        from engine.core import fileformat
        from engine.weights.files import save_design_weights

        if self.running:
            return False
        doc = self.window_.doc
        analysis = analyze(doc.model)
        if not analysis.ok or not len(doc.model):
            why = "\n".join(msg for _, msg in analysis.errors[:10]) or "the design is empty"
            self._fail(f"The design cannot become a model yet:\n{why}")
            return False
        folder = Path(tempfile.mkdtemp(prefix="convcanvas-onnx-"))
        design = folder / "design.json"
        fileformat.save(doc.model, design)
        state = doc.weights.state(doc.model)
        weights = None
        if state:
            save_design_weights(state, {}, design)
            weights = design.with_suffix(".safetensors")
        self._folder, self._target, self._cancelled = folder, target, False
        proc = QProcess(self)
        proc.setProgram(self.python)
        proc.setArguments(self.arguments(design, target, weights, doc.weights.seed))
        proc.setWorkingDirectory(str(ROOT))
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)
        self.process = proc
        self._elapsed = 0
        self.progress = QProgressDialog(
            f"Exporting {target.name}… (torch.onnx runs in a separate process)",
            "Cancel",
            0,
            0,
            self.window_,
        )
        self.progress.setWindowTitle("Export ONNX")
        self.progress.setMinimumDuration(500)
        self.progress.canceled.connect(self.cancel)
        self._ticker.start()
        proc.start()
        return True

    def cancel(self) -> None:
        """Stop the running export (the target file is not written)."""
        if self.running:
            self._cancelled = True
            self.process.kill()

    def _tick(self) -> None:
        self._elapsed += 1
        self.window_.statusBar().showMessage(f"Exporting ONNX… {self._elapsed} s", 1500)

    def _read(self, channel: str) -> str:
        data = (
            self.process.readAllStandardError()
            if channel == "err"
            else self.process.readAllStandardOutput()
        )
        return bytes(data.data()).decode("utf-8", "replace").strip()

    def _done(self) -> None:
        self._ticker.stop()
        if self.progress is not None:
            self.progress.canceled.disconnect(self.cancel)
            self.progress.close()
            self.progress = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self.sender() is not self.process:
            return
        out, err = self._read("out"), self._read("err")
        self._done()
        if self._cancelled:
            self.window_.statusBar().showMessage("ONNX export cancelled", 5000)
            return
        if status == QProcess.ExitStatus.NormalExit and code == 0:
            self.summary = out.splitlines()[-1] if out else f"wrote {self._target}"
            self.window_.statusBar().showMessage(self.summary, 10000)
            self.exported.emit(str(self._target))
            return
        lines = [ln for ln in err.splitlines() if not ln.startswith(("W1", "I1"))]
        self._fail("\n".join(lines[-30:]) or f"the export process ended with status {code}")

    def _error(self, error: QProcess.ProcessError) -> None:
        if error != QProcess.ProcessError.FailedToStart or self.sender() is not self.process:
            return
        self._done()
        self._fail(f"cannot start {self.python}: {self.process.errorString()}")

    def _fail(self, text: str) -> None:
        self.failed.emit(text)
        show = getattr(self.window_, "show_error", None)
        if show is not None:
            show(self.window_, "ONNX export failed", text)
        else:  # pragma: no cover - every window has show_error
            QMessageBox.warning(self.window_, "ONNX export failed", text)
