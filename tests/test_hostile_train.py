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


# --------------------------------------------------------------------------- the train command
@pytest.fixture
def tiny_file(tmp_path):
    """A 32×32 Tiny CNN design file."""
    from engine.core.fileformat import save
    from engine.templates.tiny import tiny_cnn

    save(tiny_cnn(size=32), tmp_path / "tiny.json")
    return tmp_path / "tiny.json"


def train(tiny_file, out, *extra):
    """``main.py train TINY --data shapes -o OUT EXTRA`` (small and seeded)."""
    from cli import main

    return main(["train", str(tiny_file), "--data", "shapes", "-o", str(out), *extra])


def test_train_refuses_a_json_output(tiny_file, tmp_path, capsys):
    """``-o x.json`` (a design's name): exit 2 before training, nothing written."""
    assert train(tiny_file, tmp_path / "x.json", "--steps", "1") == 2
    assert capsys.readouterr().err == (
        "train: -o 'x.json' must end in .safetensors, .pt or .pth (the weights file; the design "
        "is not written)\n"
    )
    assert not (tmp_path / "x.json").exists()


def test_train_checks_the_output_before_training(tiny_file, tmp_path, capsys):
    """A FIFO in place of the output: refused at once (not after training), FIFO kept."""
    os.mkfifo(tmp_path / "w.safetensors")
    assert train(tiny_file, tmp_path / "w.safetensors", "--steps", "1000000") == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"train: cannot write '{tmp_path / 'w.safetensors'}': it is not a regular"
    )
    assert "training" not in capsys.readouterr().out
    assert not (tmp_path / "w.safetensors").is_file()


def test_train_with_no_step_writes_nothing(tiny_file, tmp_path, capsys, monkeypatch):
    """``--seconds 1e-9``: no step fits; exit 1, the old weights file byte-equal."""
    (tmp_path / "w.safetensors").write_bytes(b"old weights")
    assert train(tiny_file, tmp_path / "w.safetensors", "--seconds", "1e-9") == 1
    assert (
        "train: no optimiser step fitted in 1e-09 s; no weights written" in capsys.readouterr().err
    )
    assert (tmp_path / "w.safetensors").read_bytes() == b"old weights"


def test_train_keeps_the_mode_and_removes_stale_temporaries(tiny_file, tmp_path, capsys):
    """An existing 0644 output stays 0644; a .tmp left by kill -9 is removed and said."""
    out = tmp_path / "w.safetensors"
    out.write_bytes(b"old")
    os.chmod(out, 0o644)
    (tmp_path / ".w.safetensors.abc123.tmp").write_bytes(b"partial")
    assert train(tiny_file, out, "--steps", "2", "--batch", "4") == 0
    assert out.stat().st_mode & 0o777 == 0o644 and out.read_bytes() != b"old"
    assert (
        "train: removed a stale temporary file .w.safetensors.abc123.tmp" in capsys.readouterr().err
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json", "w.safetensors"]


def test_train_with_no_held_out_images_says_so(tiny_file, tmp_path, capsys):
    """A folder with ``--held-out 0``: 'not measured', not 'nan'."""
    from cli import main

    data = make_folder(tmp_path / "data", {c: 2 for c in "abcdef"})  # the head has 6 outputs
    code = main(["train", str(tiny_file), "--data", str(data), "--held-out", "0", "--steps", "2",
                 "--batch", "4", "-o", str(tmp_path / "w.pt")])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "held-out accuracy: not measured (no held-out images; --held-out 0)" in out
    assert "nan" not in out
