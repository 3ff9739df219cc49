"""Inspector editors of the newer parameter kinds: choices, optional numbers, fine floats."""

from __future__ import annotations

import pytest

from designer.document import Document
from engine import GraphModel
from widgets.inspector import Inspector


def _doc(type_name: str, params: dict) -> Document:
    m = GraphModel("one")
    m.add_node("input", {"channels": 4, "height": 8, "width": 8}, "x")
    m.add_node(type_name, params, "n")
    m.connect("x", "n")
    d = Document()
    d.replace_model(m)
    return d


@pytest.fixture
def open_inspector(qtbot):
    docs = []

    def make(type_name: str, params: dict) -> tuple[Inspector, Document]:
        doc = _doc(type_name, params)
        docs.append(doc)
        w = Inspector(doc)
        qtbot.addWidget(w)
        w.resize(380, 600)
        w.show()
        w.set_node("n")
        return w, doc

    yield make
    for d in docs:
        d.undo_stack.cleanChanged.disconnect()


def test_choice_editor_sets_gelu_approximation(open_inspector):
    """Picking "tanh" in GELU's drop-down is one undo step; undo shows "none" again."""
    w, doc = open_inspector("gelu", {})
    combo = w.editors["approximate"].combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["none", "tanh"]
    combo.setCurrentIndex(1)
    assert doc.model.params("n")["approximate"] == "tanh"
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert combo.currentText() == "none"


def test_optional_int_editor_sets_and_clears_divisor_override(open_inspector):
    """Ticking "set" gives divisor_override a number; unticking it returns to null."""
    w, doc = open_inspector("avgpool", {"kernel_size": 2})
    ed = w.editors["divisor_override"]
    assert not ed.on.isChecked() and not ed.spin.isEnabled()
    ed.spin.setValue(3)
    ed.on.setChecked(True)
    assert doc.model.params("n")["divisor_override"] == 3
    ed.on.setChecked(False)
    assert doc.model.params("n")["divisor_override"] is None


def test_hardsigmoid_alpha_shows_one_sixth_with_six_decimals(open_inspector):
    """torch's alpha 1/6 reads 0.166667 (not 0.167); typing 0.2 sets ONNX's alpha."""
    w, doc = open_inspector("hardsigmoid", {})
    spin = w.editors["alpha"].spin
    assert spin.text() == "0.166667"
    assert w.editors["beta"].spin.text() == "0.5"
    spin.setValue(0.2)
    assert doc.model.params("n")["alpha"] == 0.2


def test_transposed_conv_readouts_show_their_factors(open_inspector):
    """Weights 4·4·4·8 and MACs weights · input H · W (each input pixel meets every weight)."""
    w, _ = open_inspector(
        "conv_transpose", {"out_channels": 8, "kernel_size": 4, "stride": 2, "padding": 1}
    )
    assert w.readout("weights") == "4·4·4·8 = 512"
    assert w.readout("macs") == "512·8·8 = 32,768 (32.8\u00a0k)"
    assert w.readout("bias") == "8"


def test_layernorm_readout_shows_weight_and_bias(open_inspector):
    """LayerNorm over channels shows its 2·C affine parameters in the "other" row."""
    w, _ = open_inspector("layernorm2d", {})
    assert w.readout("other") == "8 (γ, β: 2·4)"
    assert w.readouts["other"].isVisibleTo(w)


def test_upsample_size_editor_says_unset(open_inspector):
    """Upsample's optional size reads "unset" (not pooling's "= kernel") until it is set."""
    w, doc = open_inspector("upsample", {"scale_factor": 2.0})
    ed = w.editors["size"]
    assert ed.auto.text() == "unset" and ed.auto.isChecked()
    ed.auto.setChecked(False)
    assert doc.model.params("n")["size"] == 1
    assert doc.analysis.nodes["n"].shape == (4, 1, 1)
