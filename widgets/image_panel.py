"""The image to run and how to preprocess it: open (button, drop), resize/crop, normalisation."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from designer.plaintext import plain_label
from designer.plaintext import tip as plain_tip

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
MODES = (("resize", "Resize"), ("crop", "Centre crop"))
MODE_TIPS = {
    "resize": "Resize the photo to the input size",
    "crop": "Scale the short side to the input size, then crop the centre",
}
NORMALIZE = (("imagenet", "ImageNet mean/std"), ("unit", "Pixels in [0, 1]"))


def image_path_from_mime(mime) -> Path | None:
    """The first local image file in a drag's data, or None."""
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile():
            p = Path(url.toLocalFile())
            if p.suffix.lower() in IMAGE_SUFFIXES:
                return p
    return None


class ImagePanel(QWidget):
    """A thumbnail, the file name, *Open image…*, and the preprocessing choices.

    Signals
    -------
    image_changed(str)      the new image's path
    options_changed(dict)   ``{"mode": …, "normalize": …}``
    """

    image_changed = Signal(str)
    options_changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.setAcceptDrops(True)
        self.thumb = QLabel()
        self.thumb.setFixedSize(48, 36)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setStyleSheet("border: 1px solid #999; background: #eee;")
        self.name = plain_label(QLabel("no image"))
        self.name.setMinimumWidth(70)
        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Choose a photo to run (or drop one on the window)")
        self.open_button.clicked.connect(self.choose)
        self.mode = QComboBox()
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.mode.setToolTip(
            "How the photo becomes the network's input size:\n"
            + "\n".join(f"{t}: {MODE_TIPS[k]}" for k, t in MODES)
        )
        self.normalize = QComboBox()
        for key, text in NORMALIZE:
            self.normalize.addItem(text, key)
        self.normalize.setToolTip("Pixel scaling fed to the network")
        self.mode.currentIndexChanged.connect(self._options)
        self.normalize.currentIndexChanged.connect(self._options)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        lay.addWidget(self.thumb)
        lay.addWidget(self.name)
        self.name.hide()  # the thumbnail's tooltip and the status line name the file
        lay.addWidget(self.open_button)
        lay.addWidget(self.mode)
        lay.addWidget(self.normalize)

    def set_compact(self, on: bool) -> None:
        """Only the preprocessing choices (the window shows the photo and has Open image)."""
        for w in (self.thumb, self.open_button):
            w.setVisible(not on)

    def options(self) -> dict:
        """The preprocessing options for :func:`engine.runtime.features.run_features`."""
        return {"mode": self.mode.currentData(), "normalize": self.normalize.currentData()}

    def set_image(self, path: str | Path, emit: bool = True) -> None:
        """Use the image at ``path`` (shows its thumbnail)."""
        self.path = Path(path)
        pix = QPixmap(str(self.path))
        if not pix.isNull():
            self.thumb.setPixmap(
                pix.scaled(
                    self.thumb.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        else:
            self.thumb.clear()
        self.name.setText(self.path.name)
        self.name.setToolTip(plain_tip(str(self.path)))
        self.thumb.setToolTip(plain_tip(f"{self.path.name}\n{self.path}"))
        if emit:
            self.image_changed.emit(str(self.path))

    def choose(self) -> None:
        """Ask for an image file."""
        start = str(self.path.parent) if self.path is not None else ""
        name, _ = QFileDialog.getOpenFileName(self, "Open image", start, IMAGE_FILTER)
        if name:
            self.set_image(name)

    def _options(self, *_args) -> None:
        self.options_changed.emit(self.options())

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if image_path_from_mime(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt API)
        path = image_path_from_mime(event.mimeData())
        if path is not None:
            self.set_image(path)
            event.acceptProposedAction()
