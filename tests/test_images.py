"""Image loading, preprocessing geometry and refusals (engine/images.py)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.analysis.rf_boxes import input_to_original
from engine.core.errors import EngineError
from engine.runtime.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MAX_PIXELS,
    ImageError,
    load_image,
    preprocess,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "resources" / "sample.png"


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares ``width``×``height`` but that holds no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def _rgb(h: int = 6, w: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- loading
def test_sample_image_loads_as_rgb():
    """The bundled sample photograph is a 300×451 RGB image under 300 KB."""
    img = load_image(SAMPLE)
    assert img.shape == (300, 451, 3) and img.dtype == np.uint8
    assert SAMPLE.stat().st_size < 300 * 1024


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "WEBP"])
def test_lossless_formats_round_trip(tmp_path, fmt):
    """PNG, BMP and lossless WebP files load back to exactly the saved pixels."""
    arr = _rgb()
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(arr).save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    np.testing.assert_array_equal(load_image(path), arr)


def test_jpeg_loads(tmp_path):
    """A JPEG loads with its size and close to its colours."""
    arr = np.full((16, 24, 3), (200, 100, 50), np.uint8)
    Image.fromarray(arr).save(tmp_path / "x.jpg", quality=95)
    img = load_image(tmp_path / "x.jpg")
    assert img.shape == (16, 24, 3)
    assert np.abs(img.astype(int) - arr).max() <= 3


def test_grayscale_file_loads_2d(tmp_path):
    """A grayscale PNG loads as an H×W array."""
    arr = _rgb()[:, :, 0]
    Image.fromarray(arr, "L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(load_image(tmp_path / "g.png"), arr)


def test_16_bit_gray_file_scales_to_8_bits(tmp_path):
    """A 16-bit grayscale PNG loads as 8 bits: v·255/65535, rounded."""
    arr = np.array([[0, 257 * 100, 65535], [128, 129, 32896]], np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    np.testing.assert_array_equal(load_image(tmp_path / "g16.png"), [[0, 100, 255], [0, 1, 128]])


def test_exif_orientation_applied(tmp_path):
    """A JPEG whose EXIF says "rotated 90°" loads upright (width and height swapped)."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    Image.fromarray(np.zeros((10, 30, 3), np.uint8)).save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (30, 10, 3)


def test_rgba_file_drops_alpha(tmp_path):
    """An RGBA PNG loads as its RGB channels, alpha dropped (not composited)."""
    rgba = np.dstack([_rgb(), np.full((6, 5), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), rgba[:, :, :3])


def test_palette_file_loads_rgb(tmp_path):
    """A palette PNG loads as RGB."""
    im = Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    im.save(tmp_path / "p.png")
    np.testing.assert_array_equal(load_image(tmp_path / "p.png"), np.asarray(im.convert("RGB")))


@pytest.mark.parametrize(
    "shape,expected",
    [((6, 5), (6, 5)), ((6, 5, 1), (6, 5)), ((6, 5, 3), (6, 5, 3)), ((6, 5, 4), (6, 5, 3))],
)
def test_array_shapes(shape, expected):
    """Arrays H×W, H×W×1, H×W×3 and H×W×4 load as gray or RGB (alpha dropped)."""
    arr = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    out = load_image(arr)
    assert out.shape == expected
    np.testing.assert_array_equal(out, arr.reshape(6, 5, -1)[:, :, :3].reshape(expected))


def test_float_array_rounds_to_uint8():
    """Float arrays in [0, 1] become uint8 by rounding v·255."""
    arr = np.array([[0.0, 0.5], [1.0, 0.2]], np.float32)
    np.testing.assert_array_equal(load_image(arr), [[0, 128], [255, 51]])


def test_float_array_out_of_range_refused():
    """Float values outside [0, 1] are refused, saying what range they have."""
    with pytest.raises(ImageError, match=r"\[0, 1\], got \[0, 255\]"):
        load_image(np.array([[0.0, 255.0]]))


def test_other_dtype_refused():
    """Integer arrays other than uint8 are refused, naming the dtype."""
    with pytest.raises(ImageError, match="uint8 or float.*int16"):
        load_image(np.zeros((4, 4), np.int16))


def test_bad_array_shape_refused():
    """An array with 2 channels is refused, naming its shape."""
    with pytest.raises(ImageError, match=r"shape \(4, 4, 2\)"):
        load_image(np.zeros((4, 4, 2), np.uint8))


# --------------------------------------------------------------------------- refusals
def test_text_file_named_png_refused(tmp_path):
    """A text file named .png is refused as not an image, naming the file."""
    path = tmp_path / "notes.png"
    path.write_text("hello, I am not a picture\n")
    with pytest.raises(ImageError, match=r"notes\.png' is not an image") as info:
        load_image(path)
    assert isinstance(info.value, EngineError) and info.value.path == str(path)


def test_missing_file_refused(tmp_path):
    """A missing file is refused, naming it."""
    with pytest.raises(ImageError, match=r"nothing\.png' does not exist"):
        load_image(tmp_path / "nothing.png")


def test_huge_header_refused_before_decoding(tmp_path):
    """A header declaring 30000×30000 pixels is refused from the header alone."""
    path = _png_header(tmp_path / "huge.png", 30000, 30000)
    with pytest.raises(
        ImageError,
        match=r"huge\.png' is 30000×30000 = 900,000,000 pixels, "
        r"over the limit of 89,478,485",
    ):
        load_image(path)
    assert MAX_PIXELS == Image.MAX_IMAGE_PIXELS == 89_478_485


def test_pillow_bomb_warning_replaced_by_our_limit(tmp_path):
    """Between Pillow's warning and error sizes, our limit refuses (no Pillow warning)."""
    path = _png_header(tmp_path / "big.png", 12000, 10000)  # 120 Mpx > Pillow's 89 Mpx
    with pytest.raises(ImageError, match="120,000,000 pixels, over the limit of 100,000,000"):
        load_image(path, max_pixels=100_000_000)
    path = _png_header(tmp_path / "bigger.png", 20000, 15000)  # > Pillow's error at 179 Mpx
    with pytest.raises(ImageError, match="300,000,000 pixels, over the limit of 250,000,000"):
        load_image(path, max_pixels=250_000_000)
    assert Image.MAX_IMAGE_PIXELS is not None  # Pillow's own guard is restored


def test_truncated_file_refused(tmp_path):
    """A PNG cut in half is refused as truncated, naming the file."""
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (64, 64, 3), np.uint8)).save(good)
    data = good.read_bytes()
    bad = tmp_path / "cut.png"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cannot decode image .*cut\.png' \(truncated"):
        load_image(bad)


def test_array_over_pixel_limit_refused():
    """An array with more pixels than the limit is refused."""
    with pytest.raises(ImageError, match="20×10 = 200 pixels, over the limit of 100"):
        load_image(np.zeros((10, 20), np.uint8), max_pixels=100)


# --------------------------------------------------------------------------- preprocessing
def test_resize_geometry():
    """Resize records per-axis scales (original pixels per input pixel) and no offset."""
    x, pre = preprocess(load_image(SAMPLE), 3, (100, 50), mode="resize")
    assert x.shape == (3, 100, 50) and x.dtype == np.float32
    assert pre.scale == (3.0, 9.02) and pre.offset == (0.0, 0.0)
    assert pre.original_size == (300, 451) and pre.input_size == (100, 50)


def test_crop_geometry():
    """Crop scales the short side to fit and centres: 300×451 → 224×224 drops 75.5 px a side."""
    _, pre = preprocess(SAMPLE, 3, 224, mode="crop")
    assert pre.scale == (300 / 224, 300 / 224)
    assert pre.offset == (0.0, 75.5)


def test_crop_keeps_the_centre_exactly():
    """Centre-cropping a 100×300 image with three coloured thirds keeps the middle third."""
    arr = np.zeros((100, 300, 3), np.uint8)
    arr[:, :100] = (255, 0, 0)
    arr[:, 100:200] = (10, 200, 30)
    arr[:, 200:] = (0, 0, 255)
    x, pre = preprocess(arr, 3, 100, mode="crop", normalize="unit")
    assert pre.offset == (0.0, 100.0) and pre.scale == (1.0, 1.0)
    np.testing.assert_allclose(
        x,
        np.broadcast_to((np.array([10, 200, 30], np.float32) / 255)[:, None, None], (3, 100, 100)),
        atol=1e-7,
    )


def test_imagenet_normalisation_of_constant_image():
    """A constant image normalises to (v/255 - mean)/std per channel."""
    arr = np.full((8, 8, 3), (51, 102, 204), np.uint8)
    x, _ = preprocess(arr, 3, 4, normalize="imagenet")
    want = (np.array([51, 102, 204]) / 255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(x[:, 0, 0], want, rtol=1e-5)
    assert np.ptp(x, axis=(1, 2)).max() == 0


def test_grayscale_imagenet_uses_mean_of_means():
    """One-channel imagenet normalisation uses the means' mean 0.449 and stds' mean 0.226."""
    x, pre = preprocess(np.full((4, 4), 255, np.uint8), 1, 4, normalize="imagenet")
    assert x.shape == (1, 4, 4) and pre.channels == 1
    np.testing.assert_allclose(x, (1.0 - 0.449) / 0.226, rtol=1e-5)


def test_rgb_to_gray_uses_luma():
    """An RGB image fed to a 1-channel input becomes ITU-R 601 luma."""
    arr = np.full((4, 4, 3), (255, 0, 0), np.uint8)
    x, _ = preprocess(arr, 1, 4, normalize="unit")
    np.testing.assert_allclose(x, 76 / 255, atol=1e-6)  # 0.299·255 = 76.2 → 76


def test_gray_to_rgb_repeats():
    """A grayscale image fed to a 3-channel input is repeated into three equal channels."""
    arr = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
    x, _ = preprocess(arr, 3, 4, normalize="unit")
    np.testing.assert_allclose(x, np.stack([arr / 255] * 3), atol=1e-6)


def test_float_input_keeps_precision():
    """A float array at the input size passes through unchanged with unit normalisation."""
    arr = np.random.default_rng(3).random((5, 7, 3)).astype(np.float32)
    x, _ = preprocess(arr, 3, (5, 7), normalize="unit")
    np.testing.assert_allclose(x, arr.transpose(2, 0, 1), atol=1e-6)


@pytest.mark.parametrize("channels", [2, 4, 192])
def test_other_channel_counts_repeat_rgb(channels):
    """Inputs with other channel counts get R, G, B repeated cyclically, each normalised."""
    arr = np.full((4, 4, 3), (51, 102, 204), np.uint8)
    rgb, _ = preprocess(arr, 3, 4)
    x, pre = preprocess(arr, channels, 4)
    assert x.shape == (channels, 4, 4) and pre.channels == channels
    np.testing.assert_array_equal(x, rgb[np.arange(channels) % 3])


def test_zero_channels_refused():
    """A channel count below 1 is refused."""
    with pytest.raises(ImageError, match="at least 1 channel, got 0"):
        preprocess(np.zeros((4, 4, 3), np.uint8), 0, 4)


def test_unknown_mode_refused():
    """An unknown preprocessing mode is refused, listing the known ones."""
    with pytest.raises(ImageError, match="resize, crop"):
        preprocess(np.zeros((4, 4, 3), np.uint8), 3, 4, mode="stretch")


def test_input_to_original_resize_and_crop():
    """Input rectangles map back to original pixels through both geometries."""
    _, pre = preprocess(np.zeros((20, 30), np.uint8), 1, 10, mode="resize")
    assert input_to_original(pre, 0, 0, 3, 3) == (0, 0, 9, 6)
    _, pre = preprocess(np.zeros((20, 40), np.uint8), 1, 10, mode="crop")
    assert input_to_original(pre, 0, 0, 3, 3) == (10, 0, 16, 6)
    assert input_to_original(pre, 9, 9, 10, 10) == (28, 18, 30, 20)
