"""Hostile ``import`` sources: only model builders are called, names never reach the
terminal raw, nothing is written unless everything is."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cli import main

ROOT = Path(__file__).resolve().parent.parent

NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x)


def build():
    return Net()
"""


def files_of(folder: Path) -> dict:
    """Every file in ``folder`` and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("os:abort", "'os' is part of Python itself, not a model"),
        ("builtins:breakpoint", "'builtins' is part of Python itself, not a model"),
        ("subprocess:Popen", "'subprocess' is part of Python itself, not a model"),
    ],
)
def test_standard_library_callables_are_refused(tmp_path, capsys, source, says):
    """``os:abort``, ``builtins:breakpoint``: exit 2 naming the refusal; nothing imported or written."""
    assert main(["import", source, "-o", str(tmp_path / "d.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"import: {says}")
    assert files_of(tmp_path) == {}


def test_a_process_calling_os_abort_is_not_killed(tmp_path):
    """In a real process ``os:abort`` exits 2 with one message (it used to die with 134)."""
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "import",
            "os:abort",
            "-o",
            str(tmp_path / "d.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("import: 'os' is part of Python itself")


def test_a_standard_function_imported_into_the_file_is_refused(tmp_path, capsys):
    """``from os import abort as Net`` in the user's file: refused, not called."""
    (tmp_path / "m.py").write_text("from os import abort as Net\n", encoding="utf-8")
    assert main(["import", f"{tmp_path / 'm.py'}:Net", "-o", str(tmp_path / "d.json")]) == 2
    assert "m.py:Net is part of Python itself, not a model" in capsys.readouterr().err
    assert not (tmp_path / "d.json").exists()


def test_a_class_that_is_not_a_module_is_refused(tmp_path, capsys):
    """A plain class is not instantiated."""
    (tmp_path / "m.py").write_text(
        "class Net:\n    def __init__(self):\n        open('ran', 'w')\n", encoding="utf-8"
    )
    assert main(["import", f"{tmp_path / 'm.py'}:Net", "-o", str(tmp_path / "d.json")]) == 2
    assert "m.py:Net is the class Net, not an nn.Module subclass" in capsys.readouterr().err
    assert not (tmp_path / "ran").exists()


def test_a_function_and_a_class_of_the_source_are_imported(tmp_path, capsys):
    """The allowed cases: a function defined in the file, and an nn.Module subclass."""
    (tmp_path / "m.py").write_text(NET, encoding="utf-8")
    for name in ("build", "Net"):
        out = tmp_path / f"{name}.json"
        assert (
            main(["import", f"{tmp_path / 'm.py'}:{name}", "-o", str(out), "--input", "3x8x8"]) == 0
        )
        assert out.exists()


def test_error_text_from_the_module_is_escaped(tmp_path, capsys):
    """An exception message with ESC and BEL reaches the terminal as visible escapes."""
    (tmp_path / "m.py").write_text("raise ValueError('\\x1b]0;pwned\\x07')\n", encoding="utf-8")
    assert main(["import", f"{tmp_path / 'm.py'}:Net", "-o", str(tmp_path / "d.json")]) != 0
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "ValueError: \\x1b]0;pwned\\x07" in err


@pytest.mark.parametrize("kind", ["folder", "fifo", "device"])
def test_special_sources_are_named(tmp_path, capsys, kind):
    """A folder, a FIFO or /dev/zero as the source: named as such (not 'no such file'), no hang."""
    if kind == "folder":
        src, says = tmp_path / "m.py", "m.py: is a folder, not a Python file"
        src.mkdir()
    elif kind == "fifo":
        src, says = tmp_path / "m.py", "m.py: is a FIFO (named pipe), not a Python file"
        os.mkfifo(src)
    else:
        src, says = Path("/dev/zero"), "zero: is a device, not a Python file"
    done = []
    t = threading.Thread(
        target=lambda: done.append(main(["import", f"{src}:Net", "-o", str(tmp_path / "d.json")])),
        daemon=True,
    )
    t.start()
    t.join(30)
    assert done and done[0] != 0
    assert says in capsys.readouterr().err
    assert not (tmp_path / "d.json").exists()


def test_sys_exit_while_tracing_is_an_error(tmp_path, capsys):
    """``sys.exit(0)`` in forward: exit 1 saying so, nothing written (it used to exit 0)."""
    (tmp_path / "m.py").write_text(
        NET.replace("return self.conv(x)", "import sys; sys.exit(0)"), encoding="utf-8"
    )
    assert (
        main(
            [
                "import",
                f"{tmp_path / 'm.py'}:Net",
                "-o",
                str(tmp_path / "d.json"),
                "--input",
                "3x8x8",
            ]
        )
        == 1
    )
    assert (
        capsys.readouterr().err
        == "import: the model's code called sys.exit(0); nothing was written\n"
    )
    assert not (tmp_path / "d.json").exists()


def test_same_path_for_design_and_weights_is_refused(tmp_path, capsys):
    """``-o w.safetensors --weights w.safetensors``: exit 2 before anything runs."""
    (tmp_path / "m.py").write_text(NET, encoding="utf-8")
    (tmp_path / "w.safetensors").write_bytes(b"old")
    code = main(["import", f"{tmp_path / 'm.py'}:Net", "-o", str(tmp_path / "w.safetensors"),
                 "--weights", str(tmp_path / "w.safetensors")])  # fmt: skip
    assert code == 2
    assert (
        capsys.readouterr().err == "import: -o and --weights name the same file, 'w.safetensors'\n"
    )
    assert (tmp_path / "w.safetensors").read_bytes() == b"old"


def test_weights_failing_to_write_keep_the_old_design(tmp_path, capsys):
    """A folder in place of the weights: the old design file is byte-equal afterwards."""
    (tmp_path / "m.py").write_text(NET, encoding="utf-8")
    (tmp_path / "d.json").write_text("old design", encoding="utf-8")
    (tmp_path / "w.safetensors").mkdir()
    code = main(["import", f"{tmp_path / 'm.py'}:Net", "-o", str(tmp_path / "d.json"),
                 "--weights", str(tmp_path / "w.safetensors"), "--input", "3x8x8"])  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == (
        "import: cannot write: a folder is in the way; it is not replaced\n"
    )
    assert (tmp_path / "d.json").read_text(encoding="utf-8") == "old design"
