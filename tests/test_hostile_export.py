"""Exports that used to be written but not run: reserved names; engine errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli import main
from engine.blocks.library import BUILTIN_TYPES
from engine.blocks.types import BlockError, type_from_dict
from engine.core import fileformat as ff
from engine.core.errors import ParamError
from engine.templates import resnet18


def test_design_named_like_a_block_class_gets_its_own_class(tmp_path, capsys):
    """A design named 'BasicBlock' with basic blocks: its class is BasicBlockNet; it runs."""
    doc = ff.to_dict(resnet18())
    doc["name"] = BUILTIN_TYPES["basic_block"].class_name
    (tmp_path / "d.json").write_text(json.dumps(doc), encoding="utf-8")
    assert main(["export", str(tmp_path / "d.json"), "-o", str(tmp_path / "m.py")]) == 0
    src = (tmp_path / "m.py").read_text(encoding="utf-8")
    classes = [line for line in src.splitlines() if line.startswith("class ")]
    assert classes == ["class BasicBlock(nn.Module):", "class BasicBlockNet(nn.Module):"]
    proc = subprocess.run([sys.executable, str(tmp_path / "m.py")], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0 and "output shape: (1, 1000)" in proc.stdout


@pytest.mark.parametrize("name", ["super", "getattr", "int"])
def test_block_parameter_named_like_a_builtin_is_refused(name):
    """A block parameter named ``super`` (it shadowed the builtin in __init__): refused."""
    doc = {"key": "k", "class": "K", "params": {name: 1},
           "nodes": [{"id": "r", "type": "relu"}], "edges": [["in", "r"]], "output": "r"}  # fmt: skip
    with pytest.raises(BlockError, match=f"'{name}' cannot name a block parameter"):
        type_from_dict(doc)


def test_engine_error_during_export_is_one_line(tmp_path, capsys, monkeypatch):
    """A ParamError raised while exporting: exit 1 and one line, no traceback, no file."""
    import cli.export

    def broken(model):
        raise ParamError("node 'c': 'out_channels' must be at least 1, got -4", "c", "out_channels")

    monkeypatch.setattr(cli.export, "export_blocks", broken)
    ff.save(resnet18(), tmp_path / "d.json")
    assert main(["export", str(tmp_path / "d.json"), "-o", str(tmp_path / "m.py")]) == 1
    assert capsys.readouterr().err == (
        "export: d.json: node 'c': 'out_channels' must be at least 1, got -4\n"
    )
    assert not (tmp_path / "m.py").exists()


def test_compare_tells_designs_of_one_name_apart(tmp_path, capsys):
    """The same file twice and a namesake in another file: '(#1)', '(#2)', '(b.json)'."""
    from engine.analysis.compare import compare

    m = resnet18()
    comp = compare([m, m, m], [m.name] * 3, ["a.json", "a.json", "b.json"])
    assert [d.name for d in comp.designs] == [
        f"{m.name} (#1)",
        f"{m.name} (#2)",
        f"{m.name} (b.json)",
    ]
    ff.save(m, tmp_path / "a.json")
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert f"{m.name} (#1)" in header and f"{m.name} (#2)" in header
