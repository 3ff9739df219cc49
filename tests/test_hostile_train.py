"""Hostile training input: links out of the data folder, unreadable images, bad options;
the old weights file is never lost."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.training import data as data_mod
from engine.training.data import DataError, folder_data


def make_folder(root: Path, classes: dict[str, int]) -> Path:
    """``root/<class>/<i>.png``: ``n`` random 20×24 RGB images per class."""
    rng = np.random.default_rng(0)
    for name, n in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(
                root / name / f"{i}.png"
            )
    return root


def test_class_folder_linking_outside_is_refused(tmp_path):
    """A class folder that is a link to another place: refused naming it, nothing read there."""
    data = make_folder(tmp_path / "data", {"cat": 2, "dog": 2})
    elsewhere = make_folder(tmp_path / "elsewhere", {"x": 3}) / "x"
    os.symlink(elsewhere, data / "usr")
    with pytest.raises(DataError) as info:
        folder_data(data, (16, 16), 3)
    assert info.value.message.startswith(
        f"class folder 'usr' in '{data}' is a link to '{elsewhere}', outside the data folder"
    )


def test_image_linking_outside_is_left_out(tmp_path):
    """An image link to a file outside the data folder is not read; links inside are."""
    data = make_folder(tmp_path / "data", {"cat": 2, "dog": 2})
    make_folder(tmp_path / "out", {"x": 1})
    os.symlink(tmp_path / "out" / "x" / "0.png", data / "cat" / "outside.png")
    os.symlink(data / "dog" / "0.png", data / "cat" / "inside.png")
    d = folder_data(data, (16, 16), 3, held_out=0.0)
    assert len(d.train_y) == 5  # 2 + 2 + the inside link


def test_link_to_a_class_folder_inside_is_followed(tmp_path):
    """A class folder that links to a folder inside the data folder is used."""
    data = make_folder(tmp_path / "data", {"cat": 2, "dog": 2, ".store/bird": 2})
    os.symlink(data / ".store" / "bird", data / "bird")
    d = folder_data(data, (16, 16), 3, held_out=0.0)
    assert d.classes == ("bird", "cat", "dog") and len(d.train_y) == 6


def test_unreadable_image_is_skipped_not_a_traceback(tmp_path, monkeypatch):
    """An image that raises PermissionError is skipped with its reason."""
    data = make_folder(tmp_path / "data", {"cat": 2, "dog": 2})
    real = data_mod.load_image

    def guarded(path):
        if Path(path).name == "1.png" and Path(path).parent.name == "cat":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(data_mod, "load_image", guarded)
    d = folder_data(data, (16, 16), 3, held_out=0.0)
    assert len(d.train_y) == 3
    assert d.skipped == [(str(data / "cat" / "1.png"), "cannot read: Permission denied")]
