"""Guards on the environment and on the package boundaries."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _major_minor(text: str) -> tuple[int, int]:
    parts = text.split(".")
    return int(parts[0]), int(parts[1])


def test_pyside6_below_6_12():
    """PySide6 6.12.0 aborts on Python 3.11 (none_dealloc); the pin must keep us below it."""
    assert (6, 8) <= _major_minor(version("PySide6-Essentials")) < (6, 12)


def test_pyproject_pins_pyside6_below_6_12():
    """pyproject.toml keeps the upper bound that avoids the 6.12 abort."""
    text = (ROOT / "pyproject.toml").read_text()
    assert '"PySide6-Essentials>=6.8,<6.12"' in text


def test_pyqtgraph_updates_do_not_abort():
    """Many void Qt calls through pyqtgraph in a fresh process exit cleanly (6.12 aborted)."""
    code = (
        "import os; os.environ['QT_QPA_PLATFORM']='offscreen'\n"
        "import numpy as np, pyqtgraph as pg\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "w = pg.PlotWidget(); c = w.plot(); img = pg.ImageItem(); w.addItem(img)\n"
        "for i in range(3000):\n"
        "    c.setData(np.random.rand(50)); img.setImage(np.random.rand(8, 8)); w.update()\n"
        "    app.processEvents()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_import_contracts_hold():
    """import-linter's contracts in pyproject.toml (no Qt in engine, no torch in its pure parts) hold."""
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe)], capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_import_contracts_cover_the_layers():
    """pyproject.toml declares the four layer contracts of docs/architecture.md."""
    import tomllib

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]

    def forbidden_for(module: str) -> set[str]:
        found: set[str] = set()
        for c in conf["contracts"]:
            if c["type"] != "forbidden":
                continue
            if module in c["source_modules"] and not c.get("allow_indirect_imports"):
                found |= set(c["forbidden_modules"])
        return found

    assert {"PySide6", "pyqtgraph"} <= forbidden_for("engine")
    for pure in (
        "engine.core",
        "engine.nodes",
        "engine.analysis",
        "engine.codegen",
        "engine.templates",
        "engine.formatting",
    ):
        assert "torch" in forbidden_for(pure), pure
    assert "widgets" in forbidden_for("designer")
    assert "PySide6" in forbidden_for("engine.runtime")
    assert "PySide6" in forbidden_for("engine.worker")


def test_import_contracts_layer_the_engine_and_keep_the_ui_off_the_runtime():
    """A layers contract orders engine's packages; designer/widgets never import the runtime."""
    import tomllib

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = [c for c in conf["contracts"] if c["type"] == "layers"]
    assert [c["containers"] for c in layers] == [["engine"]]
    assert layers[0]["layers"][:2] == ["worker | training | interop | onnx", "runtime"]
    ui = [
        c
        for c in conf["contracts"]
        if c["type"] == "forbidden" and c["source_modules"] == ["designer", "widgets"]
    ]
    assert {"engine.runtime", "engine.interop", "engine.training"} <= set(
        ui[0]["forbidden_modules"]
    )


def test_import_engine_loads_no_torch_or_qt():
    """`import engine` and a full analysis load neither torch nor Qt."""
    code = (
        "import sys, engine\n"
        "from engine import GraphModel, analyze\n"
        "m = GraphModel(); m.add_node('input', {}, 'x'); analyze(m)\n"
        "print(sorted(k for k in ('torch', 'PySide6', 'pyqtgraph') if k in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_torch_imported_at_module_level_only_where_models_are_built():
    """Only runtime/build.py, weights.py and features.py may import torch at module level."""
    import ast

    allowed = {"runtime/build.py", "runtime/weights.py", "runtime/features.py"}
    # The PyTorch importer (engine/interop) runs only when a model is imported.
    allowed |= {
        p.relative_to(ROOT / "engine").as_posix()
        for p in (ROOT / "engine" / "interop").glob("*.py")
    }
    # Training (engine/training) and the input gradient run only when a model is trained/run.
    allowed |= {"runtime/effective_rf.py", "training/loop.py"}
    eager = set()
    for path in sorted((ROOT / "engine").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only; TYPE_CHECKING blocks are not imports
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] == "torch" for n in names):
                eager.add(path.relative_to(ROOT / "engine").as_posix())
    assert eager - allowed == set()
    assert {"runtime/build.py", "runtime/weights.py"} <= eager  # the check sees real imports


def test_pyproject_bounds_torch_to_the_cpu_build():
    """torch is asked for as >=2.2,<2.14: an open range would pull a multi-GB CUDA build."""
    text = (ROOT / "pyproject.toml").read_text()
    assert '"torch>=2.2,<2.14"' in text
    assert (2, 2) <= _major_minor(version("torch")) < (2, 14)


def test_make_install_recipe_with_a_torch_index():
    """`make` with TORCH_INDEX_URL installs the pinned torch range from it, then the app."""
    out = subprocess.run(
        ["make", "-n", "-B", ".venv/.installed", "TORCH_INDEX_URL=https://example.invalid/cpu"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    torch_line = ".venv/bin/python -m pip install --quiet 'torch>=2.2,<2.14' --index-url https://example.invalid/cpu"
    assert torch_line in lines
    assert lines.index(torch_line) < lines.index(
        ".venv/bin/python -m pip install --quiet -e '.[test]'"
    )
