"""`main.py export DESIGN -o model.onnx`: the default path, --format, the missing-package message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx_helpers import fixed_size_onnx, run_onnx
from small_graphs import conv_chain

import cli
import engine.interop.onnx_export as onnx_export
from engine.core.fileformat import save

ROOT = Path(__file__).resolve().parent.parent


def test_export_by_suffix_writes_a_runnable_file(tmp_path):
    """The command line (a subprocess, as a user runs it) writes ONNX for an .onnx output."""
    design = tmp_path / "chain.json"
    save(conv_chain(), design)
    out = tmp_path / "chain.onnx"
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "export", str(design), "-o", str(out), "--opset", "19"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ONNX opset 19" in done.stdout and "random weights, seed 0" in done.stdout
    assert "torchvision" not in done.stderr  # torch.onnx's registration notes are quiet
    (y,) = run_onnx(out, [np.ones((3, 3, 8, 8), np.float32)])
    assert y.shape == (3, 5)
    assert {o.version for o in onnx.load(str(out)).opset_import if o.domain == ""} == {19}


def test_format_onnx_and_missing_packages_message(tmp_path, monkeypatch, capsys):
    """--format onnx picks ONNX for any name; without onnxscript the message says how to
    install it (exit 1) and nothing is written."""
    design = tmp_path / "chain.json"
    save(conv_chain(), design)
    monkeypatch.setattr(onnx_export, "missing_packages", lambda: ["onnxscript"])
    out = tmp_path / "model.bin"
    assert cli.main(["export", str(design), "-o", str(out), "--format", "onnx"]) == 1
    err = capsys.readouterr().err
    assert "needs the onnxscript package(s)" in err and "pip install" in err
    assert not out.exists()


def test_import_at_another_size_than_declared_says_so(tmp_path, capsys):
    """`import fixed.onnx --input 3x224x224` on a file declaring 3×32×32 imports at the
    given size and says that the file declared another; the declared size needs no note."""
    src = fixed_size_onnx(tmp_path / "fixed.onnx")
    assert (
        cli.main(["import", str(src), "--input", "3x224x224", "-o", str(tmp_path / "a.json")]) == 0
    )
    out = capsys.readouterr().out
    assert "note: input 'x' is declared 3×32×32 in the file; imported at the given 3×224×224" in out
    assert cli.main(["import", str(src), "--input", "3x32x32", "-o", str(tmp_path / "b.json")]) == 0
    assert "note:" not in capsys.readouterr().out
