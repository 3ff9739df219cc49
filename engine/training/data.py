"""Training data: the built-in ``shapes`` set and a folder of images (numpy + Pillow, no torch).

:func:`load_data` returns a :class:`Dataset`: a training and a held-out split of uint8
images already at the network's input size (in the channel layout the input node asks
for) and their labels. :func:`normalise` turns a batch into the float32 input exactly as
:func:`engine.runtime.images.preprocess` does with ``normalize="imagenet"`` (divide by 255,
subtract the ImageNet mean, divide by its std, repeat channels cyclically), so trained
weights and the feature views see the same numbers.

Folder data follows the ImageFolder convention: one subfolder per class (sorted by name),
PNG/JPEG/BMP/WebP files inside. Every image goes through
:func:`engine.runtime.images.preprocess` (``resize`` mode, the same loading and checks as the
features); unreadable ones are skipped and counted. The held-out split is seeded and
stratified: ``round(fraction × n)`` images of each class (at least one when a class has
two or more).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.core.errors import EngineError
from engine.recipes.defaults import HELD_OUT_START, SHAPES_HELD_OUT, SHAPES_TRAIN
from engine.recipes.shapes import CLASSES as SHAPE_CLASSES
from engine.recipes.shapes import shape_batch
from engine.runtime.images import (
    IMAGENET_MEAN,
    IMAGENET_MEAN_GRAY,
    IMAGENET_STD,
    IMAGENET_STD_GRAY,
    ImageError,
    load_image,
    preprocess,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
#: Largest folder data set kept in memory (bytes of uint8 images).
MAX_DATA_BYTES = 2 * 1024**3


class DataError(EngineError):
    """The training data cannot be used (empty folder, a class without images, ...)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message, None, "data")
        self.path = path


@dataclass
class Dataset:
    """Images at the input size, split into training and held-out sets.

    Attributes
    ----------
    name : str
        ``"shapes"`` or the folder's path.
    classes : tuple of str
    train_x, held_x : numpy.ndarray
        uint8 ``(N, H, W, K)``, ``K`` 1 (grayscale) or 3 (RGB).
    train_y, held_y : numpy.ndarray
        int64 labels.
    channels : int
        The network input's channels (1, 3, or any count: RGB repeated cyclically).
    skipped : list of (str, str)
        Files left out and why.
    """

    name: str
    classes: tuple[str, ...]
    train_x: np.ndarray
    train_y: np.ndarray
    held_x: np.ndarray
    held_y: np.ndarray
    channels: int
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        """One line: where the data comes from and how much of it there is."""
        skipped = f", {len(self.skipped)} unreadable image(s) skipped" if self.skipped else ""
        return (
            f"{self.name}: {len(self.classes)} classes, {len(self.train_y)} training and "
            f"{len(self.held_y)} held-out images{skipped}"
        )


def normalise(batch: np.ndarray, channels: int) -> np.ndarray:
    """uint8 ``(N, H, W, K)`` → float32 ``(N, channels, H, W)``, as ``preprocess`` does.

    Parameters
    ----------
    batch : numpy.ndarray
        Images from a :class:`Dataset`.
    channels : int
        The input node's channels.
    """
    x = batch.astype(np.float32).transpose(0, 3, 1, 2) / np.float32(255)
    if channels == 1:
        x -= np.float32(IMAGENET_MEAN_GRAY)
        x /= np.float32(IMAGENET_STD_GRAY)
        return np.ascontiguousarray(x)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    x -= np.array(IMAGENET_MEAN, np.float32)[None, :, None, None]
    x /= np.array(IMAGENET_STD, np.float32)[None, :, None, None]
    if channels != 3:
        x = x[:, np.arange(channels) % 3]
    return np.ascontiguousarray(x)


def _gray(images: np.ndarray) -> np.ndarray:
    """RGB uint8 ``(N, H, W, 3)`` → ``(N, H, W, 1)`` with Pillow's ``convert("L")``."""
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(im, "RGB").convert("L")) for im in images])[
        ..., None
    ]


def shapes_data(
    size: tuple[int, int],
    channels: int,
    seed: int = 0,
    train: int = SHAPES_TRAIN,
    held_out: int = SHAPES_HELD_OUT,
) -> Dataset:
    """The ``shapes`` set at ``size`` (h, w): ``train`` images from index 0, ``held_out``
    images from :data:`HELD_OUT_START` (never seen in training), both from ``seed``.
    """
    if min(size) < 16:
        raise DataError(
            f"the shapes data needs an input of at least 16×16 pixels, the input is "
            f"{size[0]}×{size[1]}"
        )
    tx, ty, _ = shape_batch(seed, 0, train, size)
    hx, hy, _ = shape_batch(seed, HELD_OUT_START, held_out, size)
    if channels == 1:
        tx, hx = _gray(tx), _gray(hx)
    return Dataset("shapes", SHAPE_CLASSES, tx, ty, hx, hy, channels)


def _inside(path: Path, real_root: str) -> bool:
    """Whether ``path``, links followed, lies inside the folder ``real_root``."""
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _class_files(root: Path) -> list[tuple[str, list[Path]]]:
    """Class subfolders and their images; links are followed only inside ``root`` (an
    image linking outside is left out, a class folder linking outside is refused)."""
    if not root.exists():
        raise DataError(f"the data folder '{root}' does not exist", str(root))
    if not root.is_dir():
        raise DataError(
            f"'{root}' is not a folder: give 'shapes' or a folder with one subfolder per class",
            str(root),
        )
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"the data folder '{root}' has no class subfolders: put each class's images "
            f"in a subfolder named after the class (e.g. {root}/cat/1.png)",
            str(root),
        )
    real_root = os.path.realpath(root)
    outside = [c for c in classes if not _inside(c, real_root)]
    if outside:
        c = outside[0]
        raise DataError(
            f"class folder '{c.name}' in '{root}' is a link to '{os.path.realpath(c)}', outside "
            f"the data folder; links are followed only inside it (copy the images in, or "
            f"link a folder that lies inside)",
            str(root),
        )
    out = []
    for c in classes:
        files = sorted(
            f
            for f in c.rglob("*")
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and _inside(f, real_root)
        )
        out.append((c.name, files))
    empty = [name for name, files in out if not files]
    if empty:
        names = ", ".join(f"'{n}'" for n in empty)
        raise DataError(
            f"class folder(s) {names} in '{root}' hold no images "
            f"({', '.join(IMAGE_SUFFIXES)}); add images or remove the folder",
            str(root),
        )
    if len(out) < 2:
        raise DataError(
            f"the data folder '{root}' has a single class ('{out[0][0]}'); training a "
            f"classifier needs at least two class subfolders",
            str(root),
        )
    return out


def folder_data(
    root: str | os.PathLike,
    size: tuple[int, int],
    channels: int,
    seed: int = 0,
    held_out: float = 0.2,
    input_node: str = "input",
) -> Dataset:
    """Load a folder of class subfolders, resized to ``size`` as the features are.

    Raises
    ------
    DataError
        No such folder, no class subfolders, a class without images, a single class,
        no readable image in a class, colour images for a 1-channel input, too much data,
        or a held-out fraction outside [0, 0.9].
    """
    root = Path(root)
    if not 0.0 <= held_out <= 0.9:
        raise DataError(f"the held-out fraction must be between 0 and 0.9, got {held_out}")
    h, w = size
    per_image = h * w * (1 if channels == 1 else 3)
    groups = _class_files(root)
    total = sum(len(f) for _, f in groups)
    if total * per_image > MAX_DATA_BYTES:
        raise DataError(
            f"'{root}' has {total:,} images; at {h}×{w} they need "
            f"{total * per_image / 1024**3:.1f} GB, over the {MAX_DATA_BYTES / 1024**3:.0f} GB "
            f"limit: use fewer images or a smaller input",
            str(root),
        )
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[tuple[str, str]] = []
    for label, (name, files) in enumerate(groups):
        kept = 0
        for f in files:
            try:
                img = load_image(f)
            except ImageError as exc:
                skipped.append((str(f), exc.message))
                continue
            except OSError as exc:  # e.g. a link to a file this user may not read
                skipped.append((str(f), f"cannot read: {exc.strerror or exc}"))
                continue
            if channels == 1 and img.ndim == 3:
                raise DataError(
                    f"the input node '{input_node}' takes 1 channel (grayscale) but "
                    f"'{f}' is a colour (RGB) image; set the input to 3 channels, or "
                    f"use grayscale images",
                    str(f),
                )
            x, _ = preprocess(img, 1 if img.ndim == 2 else 3, (h, w), "resize", "unit")
            u8 = np.clip(np.rint(x * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)
            images.append(u8)
            labels.append(label)
            kept += 1
        if kept == 0:
            raise DataError(
                f"class '{name}' in '{root}' has no readable image ({len(files)} file(s), "
                f"all unreadable)",
                str(root),
            )
    # Mixed gray and colour images: gray ones become RGB (as preprocess does for them).
    if any(im.shape[2] == 3 for im in images):
        images = [np.repeat(im, 3, axis=2) if im.shape[2] == 1 else im for im in images]
    x = np.stack(images)
    y = np.asarray(labels, np.int64)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(y), bool)
    for c in range(len(groups)):
        idx = np.flatnonzero(y == c)
        n = len(idx)
        k = min(n - 1, max(1, round(held_out * n))) if n >= 2 and held_out > 0 else 0
        held[rng.permutation(idx)[:k]] = True
    train_idx = rng.permutation(np.flatnonzero(~held))
    held_idx = np.flatnonzero(held)
    return Dataset(
        str(root),
        tuple(name for name, _ in groups),
        x[train_idx],
        y[train_idx],
        x[held_idx],
        y[held_idx],
        channels,
        skipped,
    )


def load_data(
    spec: str,
    size: tuple[int, int],
    channels: int,
    seed: int = 0,
    held_out: float = 0.2,
    input_node: str = "input",
    shapes: tuple[int, int] = (SHAPES_TRAIN, SHAPES_HELD_OUT),
) -> Dataset:
    """``"shapes"`` or a folder path → :class:`Dataset` (see :func:`shapes_data`, :func:`folder_data`).

    ``shapes`` is ``(training, held-out)`` image counts of the shapes set.
    """
    if spec == "shapes":
        return shapes_data(size, channels, seed, *shapes)
    return folder_data(spec, size, channels, seed, held_out, input_node)
