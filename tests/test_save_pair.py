"""A design and its weights file are saved as one unit; nothing the user made is replaced
without asking (Save As over another weights file, a .safetensors name, special files)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from engine.core import fileformat
from engine.runtime.build import build_module
from engine.templates.tiny import tiny_cnn
from engine.weights.files import sha256_of


@pytest.fixture
def tiny(win):
    """The window on a 32×32 Tiny CNN with trained weights; errors and questions recorded."""
    win.set_model(tiny_cnn(size=32))
    m = build_module(tiny_cnn(size=32), seed=3)
    state = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
    win.doc.set_weights(state, "trained", "trained on shapes, 97.3%", {"data": "shapes"})
    win.shown = []
    win.asked = []
    win.show_error = lambda parent, title, text: win.shown.append((title, text))
    return win


def files_of(folder) -> dict:
    """Every file in ``folder`` (hidden ones too) and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_save_as_asks_before_replacing_another_weights_file(tiny, tmp_path):
    """An unrelated d.safetensors exists: Save As d.json asks; 'Cancel' writes nothing."""
    (tmp_path / "d.safetensors").write_bytes(b"someone else's weights")
    before = files_of(tmp_path)
    tiny.ask_replace = lambda parent, title, text: tiny.asked.append(text) or False
    assert tiny.save_as(tmp_path / "d.json") is False
    assert tiny.asked == [
        "d.safetensors already exists beside d.json and is not this design's weights file. "
        "Saving the design with its weights replaces it. Replace it?"
    ]
    assert files_of(tmp_path) == before
    assert tiny.doc.path is None


def test_save_as_replaces_another_weights_file_when_told(tiny, tmp_path):
    """Answering 'Replace' writes the pair, the JSON naming the new file's hash."""
    (tmp_path / "d.safetensors").write_bytes(b"someone else's weights")
    tiny.ask_replace = lambda parent, title, text: True
    assert tiny.save_as(tmp_path / "d.json")
    ref = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))["weights"]
    assert ref == {"file": "d.safetensors", "sha256": sha256_of(tmp_path / "d.safetensors")}


def test_failed_design_write_keeps_the_old_pair(tiny, tmp_path, monkeypatch):
    """A full disk while the JSON is written: old d.json and d.safetensors byte-equal, and the
    old design still reopens with its weights."""
    assert tiny.save_as(tmp_path / "d.json")
    before = files_of(tmp_path)
    other = build_module(tiny_cnn(size=32), seed=4)
    tiny.doc.set_weights(
        {k: v.detach().numpy().copy() for k, v in other.state_dict().items()}, "trained", "t2"
    )
    written = []
    real_temp = fileformat._temp_for

    def failing_temp(path, write, binary, mode):
        if path.suffix == ".json":
            raise OSError(28, "No space left on device")
        written.append(path.name)
        return real_temp(path, write, binary, mode)

    monkeypatch.setattr(fileformat, "_temp_for", failing_temp)
    assert tiny.save() is False
    assert written == ["d.safetensors"]  # its temporary file was written, then removed
    assert tiny.shown == [
        ("Cannot save design", f"{tmp_path / 'd.json'}: cannot write: No space left on device")
    ]
    assert files_of(tmp_path) == before
    monkeypatch.undo()
    tiny.new_design()
    assert tiny.open_file(tmp_path / "d.json")
    assert tiny.doc.weights.kind != "random"


def test_folder_in_place_of_the_design_keeps_the_weights(tiny, tmp_path):
    """A folder named d.json: refused before anything is written; the old weights stay."""
    (tmp_path / "d.json").mkdir()
    (tmp_path / "d.safetensors").write_bytes(b"old weights")
    tiny.ask_replace = lambda parent, title, text: True
    assert tiny.save_as(tmp_path / "d.json") is False
    assert tiny.shown == [
        (
            "Cannot save design",
            f"{tmp_path / 'd.json'}: cannot write: a folder is in the way; it is not replaced",
        )
    ]
    assert (tmp_path / "d.safetensors").read_bytes() == b"old weights"
    assert files_of(tmp_path) == {"d.safetensors": b"old weights"}
    assert (tmp_path / "d.json").is_dir()


def test_save_as_a_safetensors_name_is_refused(tiny, tmp_path):
    """Save As x.safetensors would put the JSON over the weights: refused, file unchanged."""
    (tmp_path / "x.safetensors").write_bytes(b"weights")
    assert tiny.save_as(tmp_path / "x.safetensors") is False
    assert tiny.shown == [
        (
            "Cannot save design",
            f"{tmp_path / 'x.safetensors'}: cannot write: a design is saved as .json; "
            f"'x.safetensors' is the name of a weights file",
        )
    ]
    assert files_of(tmp_path) == {"x.safetensors": b"weights"}


def test_write_atomic_refuses_a_fifo(tmp_path):
    """A FIFO in the file's place is not replaced by a regular file."""
    os.mkfifo(tmp_path / "out.json")
    with pytest.raises(PermissionError, match="not a regular file"):
        fileformat.write_atomic(tmp_path / "out.json", lambda fh: fh.write("{}"))
    assert os.path.exists(tmp_path / "out.json") and not (tmp_path / "out.json").is_file()
    assert os.listdir(tmp_path) == ["out.json"]


def test_write_atomic_keeps_an_existing_files_mode(tmp_path):
    """Replacing a 0644 file keeps 0644 (it used to become 0600)."""
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    fileformat.write_atomic(path, lambda fh: fh.write(b"new"), binary=True)
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o644


def test_second_rename_failing_restores_the_first(tmp_path, monkeypatch):
    """The group's second rename fails: the first file is put back byte-equal."""
    (tmp_path / "a").write_bytes(b"old a")
    (tmp_path / "b").write_bytes(b"old b")
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if str(dst).endswith("/b"):
            raise OSError(5, "I/O error")
        return real(src, dst)

    monkeypatch.setattr(fileformat.os, "replace", flaky)
    with pytest.raises(OSError, match="I/O error"):
        fileformat.write_atomic_many(
            [
                (tmp_path / "a", lambda fh: fh.write(b"new a"), True, None),
                (tmp_path / "b", lambda fh: fh.write(b"new b"), True, None),
            ]
        )
    monkeypatch.undo()
    assert files_of(tmp_path) == {"a": b"old a", "b": b"old b"}
    assert np.array_equal(len(calls), 3)  # a, b (failed), then a put back


def test_export_training_script_asks_before_replacing(tiny, tmp_path):
    """An existing train.py: Export Training Script asks; 'Cancel' leaves it byte-equal."""
    (tmp_path / "train.py").write_text("# my own training loop\n", encoding="utf-8")
    tiny.ask_replace = lambda parent, title, text: tiny.asked.append(text) or False
    assert tiny.train_host.export_script(str(tmp_path)) == []
    assert tiny.asked == [
        f"train.py already exists in {tmp_path}. Replace it with the exported training script?"
    ]
    assert files_of(tmp_path) == {"train.py": b"# my own training loop\n"}
    tiny.ask_replace = lambda parent, title, text: True
    paths = tiny.train_host.export_script(str(tmp_path))
    assert [p.name for p in paths][1:] == ["train.py"]
    assert (tmp_path / "train.py").read_text(encoding="utf-8") != "# my own training loop\n"


def test_fifo_weights_in_the_gui_fail_naming_it_and_the_worker_stays_free(tiny, qtbot, tmp_path):
    """Run → Load weights… on a FIFO: refused naming the file; the next load works."""
    from engine.runtime.weights import save_weights

    os.mkfifo(tmp_path / "w.safetensors")
    host = tiny.train_host
    with qtbot.waitSignal(host.controller.failed, timeout=120_000):
        assert host.load_weights(str(tmp_path / "w.safetensors"))
    assert tiny.statusBar().currentMessage() == (
        "w.safetensors: is a FIFO (named pipe), not a weights file; only regular files are read"
    )
    save_weights(build_module(tiny_cnn(size=32), seed=9), tmp_path / "ok.pt")
    with qtbot.waitSignal(host.controller.loaded, timeout=120_000):
        assert host.load_weights(str(tmp_path / "ok.pt"))
    assert tiny.doc.weights.text() == "loaded from ok.pt"
