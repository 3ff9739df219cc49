"""Structure: block types change through the model with their own event; block edits are
planned in the engine without Qt; receptive-field boxes are geometry without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.core.graph import GraphModel

ROOT = Path(__file__).resolve().parents[1]

DOC = {
    "key": "pair",
    "title": "Pair",
    "params": {"width": 8},
    "nodes": [{"id": "c", "type": "conv1x1", "params": {"out_channels": {"expr": "width"}}}],
    "edges": [["in", "c", 0]],
    "output": "c",
}


def run_python(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.split("\n")


def test_set_block_types_emits_its_own_event_and_returns_the_old_types():
    """set_block_types replaces the documents, emits block_types_changed, returns the old ones."""
    m = GraphModel("t")
    events = []
    m.subscribe(events.append)
    assert m.set_block_types({"pair": DOC}) == {}
    assert m.set_block_types({}) == {"pair": DOC}
    assert [(e.kind, e.extra["old"]) for e in events] == [
        ("block_types_changed", {}),
        ("block_types_changed", {"pair": DOC}),
    ]
    assert m.block_types() == {}


def test_block_edits_are_planned_and_undone_without_qt():
    """engine.blocks.edits groups three nodes and undoes it exactly, Qt never imported."""
    code = (
        "import sys\n"
        "from engine.blocks.edits import apply_step, plan_group\n"
        "from engine.core.fileformat import to_dict\n"
        "from engine.templates import build\n"
        "m = build('resnet_basic_64'); before = to_dict(m)\n"
        "nodes = [n for n in m.nodes if n not in ('input',)][:3]\n"
        "edit = plan_group(m, nodes, 'stem')\n"
        "for s in edit.steps: apply_step(m, s, True)\n"
        "print(sorted(m.graph.graph['blocks']), edit.text)\n"
        "for s in reversed(edit.steps): apply_step(m, s, False)\n"
        "print(to_dict(m) == before, 'PySide6' in sys.modules)\n"
    )
    lines = run_python(code)
    assert lines[0] == "['stem'] Group 3 nodes into 'stem'"
    assert lines[1] == "True False"


def test_receptive_field_boxes_are_geometry_without_torch():
    """engine.analysis.rf_boxes maps a feature pixel to original pixels, torch never imported."""
    code = (
        "import sys\n"
        "from engine.analysis.analyzer import analyze\n"
        "from engine.analysis.rf_boxes import Preprocess, rf_box\n"
        "from engine.core.graph import GraphModel\n"
        "g = GraphModel('t')\n"
        "g.add_node('input', {'channels': 3, 'height': 8, 'width': 8}, 'x')\n"
        "g.add_node('conv', {'out_channels': 2, 'kernel_size': 3}, 'c')\n"
        "g.connect('x', 'c')\n"
        "pre = Preprocess('resize', 'unit', (16, 32), (8, 8), 3, (2.0, 4.0), (0.0, 0.0))\n"
        "b = rf_box(analyze(g), 'c', 1, 2, pre)\n"
        "print(b.x0, b.y0, b.x1, b.y1, 'torch' in sys.modules)\n"
    )
    assert run_python(code)[0] == "8 2 20 8 False"
