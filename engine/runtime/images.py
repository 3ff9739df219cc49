"""Loading an image and turning it into the network's input tensor (numpy + Pillow, no torch).

:func:`load_image` reads a PNG, JPEG, BMP or WebP file (or takes a numpy array) and
returns it as 8-bit RGB ``(h, w, 3)`` or grayscale ``(h, w)``. :func:`preprocess` makes the
float32 ``(C, H, W)`` input and a :class:`~engine.runtime.feature_types.Preprocess` that records
how a network-input pixel maps back onto the original image.

Refusals raise :class:`ImageError` naming the file, and happen *before* the pixels are
decoded: the header is read first (Pillow's ``Image.open`` is lazy) and images over
``max_pixels`` are refused from their declared size. The default, :data:`MAX_PIXELS`, is
Pillow's decompression-bomb limit (89,478,485 pixels); Pillow's own guard (a warning
above it, which our pytest turns into an error, and an error above twice it) is replaced
by this explicit limit while the header is read, so a caller may raise it. Decoding
stays lean: a palette image goes straight to RGB (through RGBA only when it has
transparency), so an image at the default limit stays under about 1 GB
(``tests/test_hostile_features.py`` checks the bytes per pixel). A stream
(``/dev/zero``, a FIFO) is read up to :data:`MAX_FILE_BYTES` and then refused; a FIFO
without a writer reads as empty.

Channels: a network input with 1 channel gets the grayscale image (ITU-R 601 luma, as
Pillow's ``convert("L")``), one with 3 channels gets RGB (a grayscale image is repeated
into 3 channels). Any other count C repeats the RGB channels cyclically (channel ``i`` is
R, G or B for ``i % 3`` = 0, 1, 2, each with its own normalisation): the teaching blocks
(Inception 3a takes 192 channels, the ResNet blocks 64 or 256) can then be run on a real
photograph, whose structure every channel carries, instead of being refused. Alpha is
dropped (not composited).
"""

from __future__ import annotations

import io
import os
import stat
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from engine.core.errors import EngineError
from engine.core.fileformat import read_limited
from engine.recipes.defaults import IMAGENET_MEAN, IMAGENET_STD
from engine.runtime.feature_types import Preprocess

#: Default limit on an image's total pixels: Pillow's decompression-bomb limit
#: (``PIL.Image.MAX_IMAGE_PIXELS``, about 9,459 × 9,459).
MAX_PIXELS = 89_478_485

#: Largest image stream read (a file that is not a regular file, e.g. a FIFO).
MAX_FILE_BYTES = 256 * 1024 * 1024

#: File formats :func:`load_image` accepts (Pillow format names).
FORMATS = ("PNG", "JPEG", "BMP", "WEBP")

#: Grayscale ImageNet normalisation: the mean of the three means and of the three stds.
IMAGENET_MEAN_GRAY = sum(IMAGENET_MEAN) / 3
IMAGENET_STD_GRAY = sum(IMAGENET_STD) / 3

MODES = ("resize", "crop")
NORMALIZATIONS = ("imagenet", "unit")

_PIL_GUARD_LOCK = threading.Lock()


class ImageError(EngineError):
    """An image cannot be used: not an image, too large, unreadable, or unsuitable."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message, None, "image")
        self.path = path


# --------------------------------------------------------------------------- loading
def _name(path: Path) -> str:
    return f"'{path}'"


def _open_checked(path: Path, max_pixels: int) -> Image.Image:
    """Open lazily (header only) and refuse unsupported formats and oversized images."""
    if not path.exists():
        raise ImageError(f"image {_name(path)} does not exist", str(path))
    if path.is_dir():
        raise ImageError(f"image {_name(path)} is a folder, not an image file", str(path))
    source: Path | io.BytesIO = path
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a stream: read a bounded amount
            data = read_limited(path, MAX_FILE_BYTES)
            if data is None:
                raise ImageError(
                    f"image {_name(path)} is a stream of more than {MAX_FILE_BYTES:,} bytes; "
                    f"choose an image file",
                    str(path),
                )
            source = io.BytesIO(data)
    except OSError as exc:
        raise ImageError(
            f"cannot read image {_name(path)}: {exc.strerror or exc}", str(path)
        ) from None
    # Pillow checks its own bomb limit inside open(); we check ours right after, from the
    # declared size, so switch Pillow's off for the header read only.
    with _PIL_GUARD_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(source, formats=FORMATS)
        except Image.UnidentifiedImageError:
            raise ImageError(
                f"{_name(path)} is not an image Pillow can read as "
                f"{', '.join(FORMATS)}; choose a PNG, JPEG, BMP or WebP file",
                str(path),
            ) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"cannot read image {_name(path)}: {exc}", str(path)) from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    w, h = im.size
    if w <= 0 or h <= 0:
        im.close()
        raise ImageError(f"image {_name(path)} declares an empty size {w}×{h}", str(path))
    if w * h > max_pixels:
        im.close()
        raise ImageError(
            f"image {_name(path)} is {w}×{h} = {w * h:,} pixels, over the limit "
            f"of {max_pixels:,}; use a smaller image or raise the pixel limit",
            str(path),
        )
    return im


def _pil_to_array(im: Image.Image, path: Path) -> np.ndarray:
    """Decode fully and return uint8 ``(h, w, 3)`` or ``(h, w)``."""
    try:
        im.load()
        ImageOps.exif_transpose(im, in_place=True)  # camera orientation, without a copy
        mode = im.mode
        if mode.startswith("I"):  # 16/32-bit gray: 0..65535 → 0..255 when it goes above 255
            wide = np.asarray(im).astype(np.uint32)
            if wide.max() > 255:
                wide = (wide.clip(0, 65535) * 255 + 32767) // 65535
            return wide.astype(np.uint8)
        if mode in ("1", "L", "LA", "F"):
            return np.asarray(im.convert("L"), dtype=np.uint8)
        if mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")  # Pillow warns on P → RGB with transparency
        if mode != "RGB":
            im = im.convert("RGB")
        return np.asarray(im, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(
            f"cannot decode image {_name(path)} (truncated or damaged?): {exc}", str(path)
        ) from None
    finally:
        im.close()


def _check_array(arr: np.ndarray, max_pixels: int) -> np.ndarray:
    """Validate an array image; return it as (h, w) or (h, w, 3), uint8 or float in [0, 1]."""
    if not isinstance(arr, np.ndarray):
        raise ImageError(f"an image must be a file path or a numpy array, got {type(arr).__name__}")
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        pass
    elif arr.ndim != 2:
        raise ImageError(f"an image array must be H×W or H×W×1/3/4, got shape {arr.shape}")
    h, w = arr.shape[:2]
    if h == 0 or w == 0:
        raise ImageError(f"the image array is empty (shape {arr.shape})")
    if h * w > max_pixels:
        raise ImageError(
            f"the image array is {w}×{h} = {h * w:,} pixels, over the limit of "
            f"{max_pixels:,}; use a smaller image"
        )
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ImageError("the float image array holds NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ImageError(
                f"a float image array must hold values in [0, 1], got "
                f"[{lo:g}, {hi:g}]; divide by 255 if it holds 8-bit values"
            )
    else:
        raise ImageError(f"an image array must be uint8 or float in [0, 1], got {arr.dtype}")
    if arr.ndim == 3:
        c = arr.shape[2]
        arr = arr[:, :, 0] if c == 1 else arr[:, :, :3]
    return arr


def _source_array(source, max_pixels: int) -> np.ndarray:
    """A path or array as a checked array (uint8, or float in [0, 1] for float arrays)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return _pil_to_array(_open_checked(path, max_pixels), path)
    return _check_array(source, max_pixels)


def load_image(source: str | os.PathLike | np.ndarray, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Load an image as 8-bit RGB ``(h, w, 3)`` or grayscale ``(h, w)``.

    Parameters
    ----------
    source : str, os.PathLike or numpy.ndarray
        A PNG, JPEG, BMP or WebP file, or an array H×W / H×W×1 / H×W×3 / H×W×4 of uint8
        or of floats in [0, 1] (floats are rounded to 8 bits; alpha is dropped).
    max_pixels : int
        Refuse images with more pixels than this (checked from the file header).

    Returns
    -------
    numpy.ndarray
        uint8, ``(h, w, 3)`` for colour and ``(h, w)`` for grayscale images; read-only when
        decoded from a file (it shares Pillow's decoded buffer instead of copying it).

    Raises
    ------
    ImageError
        Naming the file: missing, not an image, too large, or truncated.
    """
    arr = _source_array(source, max_pixels)
    if arr.dtype != np.uint8:
        arr = np.rint(arr * 255.0).astype(np.uint8)
    elif not arr.flags.c_contiguous:  # e.g. the RGB of an RGBA array
        arr = np.ascontiguousarray(arr)
    return arr


# --------------------------------------------------------------------------- preprocessing
def _pair(size) -> tuple[int, int]:
    if isinstance(size, (tuple, list)):
        h, w = int(size[0]), int(size[1])
    else:
        h = w = int(size)
    if h < 1 or w < 1:
        raise ImageError(f"the network input size must be positive, got {h}×{w}")
    return h, w


def _geometry(mode: str, h: int, w: int, out_h: int, out_w: int):
    """``scale`` (original pixels per input pixel) and ``offset`` (y, x) of the input grid."""
    if mode == "resize":
        return (h / out_h, w / out_w), (0.0, 0.0)
    # Centre crop: scale so that the image covers the target, then crop the middle.
    s = min(h / out_h, w / out_w)  # original pixels per input pixel
    return (s, s), ((h - out_h * s) / 2.0, (w - out_w * s) / 2.0)


def _resample(plane: Image.Image, out_h: int, out_w: int, scale, offset) -> Image.Image:
    oy, ox = offset
    box = (ox, oy, ox + out_w * scale[1], oy + out_h * scale[0])
    return plane.resize((out_w, out_h), Image.Resampling.BILINEAR, box=box)


def preprocess(
    image: str | os.PathLike | np.ndarray,
    channels: int,
    size: int | tuple[int, int],
    mode: str = "resize",
    normalize: str = "imagenet",
    max_pixels: int = MAX_PIXELS,
) -> tuple[np.ndarray, Preprocess]:
    """Turn an image into the float32 ``(C, H, W)`` network input.

    Parameters
    ----------
    image : str, os.PathLike or numpy.ndarray
        A file or an array (see :func:`load_image`; float arrays keep their precision).
    channels : int
        The input node's channels: 1 (grayscale), 3 (RGB) or any other count (RGB repeated
        cyclically: R, G, B, R, G, B, ...).
    size : int or (int, int)
        The input node's ``(H, W)``.
    mode : {"resize", "crop"}
        ``"resize"`` stretches the whole image to H×W; ``"crop"`` scales it so that its
        short side fits (the image covers H×W) and keeps the centre.
    normalize : {"imagenet", "unit"}
        ``"unit"`` leaves values in [0, 1]; ``"imagenet"`` subtracts the ImageNet mean and
        divides by its std per channel (grayscale: the mean of the three means and stds).
    max_pixels : int
        Refuse larger images (see :func:`load_image`).

    Returns
    -------
    numpy.ndarray
        float32 ``(channels, H, W)``.
    Preprocess
        The geometry: input pixel ``(y, x)`` covers original pixels
        ``[offset_y + y*scale_y, offset_y + (y+1)*scale_y)`` and likewise along x.

    Raises
    ------
    ImageError
        For bad images, unknown options or a channel count below 1.
    """
    if mode not in MODES:
        raise ImageError(f"preprocessing mode must be one of {', '.join(MODES)}, got {mode!r}")
    if normalize not in NORMALIZATIONS:
        raise ImageError(
            f"normalisation must be one of {', '.join(NORMALIZATIONS)}, got {normalize!r}"
        )
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ImageError(f"the network's input must take at least 1 channel, got {channels!r}")
    out_h, out_w = _pair(size)
    arr = _source_array(image, max_pixels)
    h, w = arr.shape[:2]
    scale, offset = _geometry(mode, h, w, out_h, out_w)

    # Colour conversions that shrink the data happen before resampling, those that grow it
    # (gray → RGB, a plain repeat that commutes with resampling) after.
    if arr.dtype == np.uint8:
        if channels == 1 and arr.ndim == 3:
            pil = Image.fromarray(arr, "RGB").convert("L")
        else:
            pil = Image.fromarray(np.ascontiguousarray(arr), "RGB" if arr.ndim == 3 else "L")
        out = np.asarray(_resample(pil, out_h, out_w, scale, offset), dtype=np.float32)
        out = out.reshape(out_h, out_w, -1).transpose(2, 0, 1) / np.float32(255)
    else:
        f = arr.astype(np.float32, copy=False)
        if channels == 1 and f.ndim == 3:
            f = f[:, :, 0] * 0.299 + f[:, :, 1] * 0.587 + f[:, :, 2] * 0.114
        planes = [f] if f.ndim == 2 else [f[:, :, i] for i in range(3)]
        out = np.stack(
            [
                np.asarray(
                    _resample(
                        Image.fromarray(np.ascontiguousarray(p), "F"), out_h, out_w, scale, offset
                    ),
                    dtype=np.float32,
                )
                for p in planes
            ]
        )
        np.clip(out, 0.0, 1.0, out=out)
    if channels != 1 and out.shape[0] == 1:
        out = np.repeat(out, 3, axis=0)
    if normalize == "imagenet":
        if channels == 1:
            out -= np.float32(IMAGENET_MEAN_GRAY)
            out /= np.float32(IMAGENET_STD_GRAY)
        else:
            out -= np.array(IMAGENET_MEAN, np.float32)[:, None, None]
            out /= np.array(IMAGENET_STD, np.float32)[:, None, None]
    if channels not in (1, 3):
        out = out[np.arange(channels) % 3]  # R, G, B, R, G, B, ...
    out = np.ascontiguousarray(out, dtype=np.float32)
    pre = Preprocess(
        mode=mode,
        normalize=normalize,
        original_size=(h, w),
        input_size=(out_h, out_w),
        channels=channels,
        scale=scale,
        offset=offset,
    )
    return out, pre
