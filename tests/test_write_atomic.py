"""Atomic saves: a symbolic link's target is written, the folder is flushed after the rename."""

from __future__ import annotations

import os
import stat

from engine.core import fileformat
from engine.templates import build


def test_save_through_symlink_writes_the_target(tmp_path):
    """Saving through a link replaces the target's content and leaves the link a link."""
    real = tmp_path / "real" / "design.json"
    real.parent.mkdir()
    real.write_text("old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    fileformat.save(build("resnet_bottleneck"), link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert len(fileformat.load(real)) == len(build("resnet_bottleneck"))
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real"]
    assert [p.name for p in real.parent.iterdir()] == ["design.json"]


def test_save_through_relative_symlink_chain(tmp_path):
    """A relative link to a link is followed to the final file."""
    real = tmp_path / "design.json"
    real.write_text("old")
    (tmp_path / "a.json").symlink_to("design.json")
    (tmp_path / "b.json").symlink_to("a.json")
    fileformat.write_atomic(tmp_path / "b.json", lambda fh: fh.write("new"))
    assert real.read_text() == "new"
    assert (tmp_path / "a.json").is_symlink() and (tmp_path / "b.json").is_symlink()


def test_folder_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    """The file is flushed before the rename and its folder after it."""
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        return real_fsync(fd)

    def replace(src, dst):
        events.append("rename")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    fileformat.write_atomic(tmp_path / "x.json", lambda fh: fh.write("{}"))
    assert events == ["fsync file", "rename", "fsync folder"]
    assert (tmp_path / "x.json").read_text() == "{}"
