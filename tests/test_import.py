"""PyTorch import (engine/interop, main.py import): hand-written modules in the app's torch.

Every new op in its functional and module form, refusals (control flow, unsupported ops,
bad sources, pickles), tuples and two inputs, weights keyed as the export, and the round
trip import(export(design)) for every template and for random graphs.
"""

from __future__ import annotations

import os
import pickle
import random
import textwrap

import pytest
import torch
import torch.nn.functional as F
from random_graphs import random_graph
from torch import nn

from cli import main as cli_main
from engine.codegen.emit import export_code, make_plan
from engine.codegen.emit_blocks import export_blocks
from engine.core import fileformat
from engine.interop.convert import import_module
from engine.interop.errors import SourceError, TraceError
from engine.interop.source import load_source
from engine.nodes import pair
from engine.runtime.build import build_module
from engine.runtime.weights import read_state_dict
from engine.templates import TEMPLATES, build


def _types(imp) -> dict:
    return {n: imp.model.node_type(n) for n in imp.model.nodes}


def _same_outputs(model: nn.Module, imp, size=(3, 16, 16), n_inputs: int = 1) -> None:
    built = build_module(imp.model)
    built.load_state_dict(imp.state)
    torch.manual_seed(1)
    xs = [torch.randn(1, *size) for _ in range(n_inputs)]
    with torch.no_grad():
        want, got = model.eval()(*xs), built(*xs)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(want) == len(got)
    for a, b in zip(want, got):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


class _Wrap(nn.Module):
    """conv → op → output, op given as a callable or a module."""

    def __init__(self, op):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.op = op

    def forward(self, x):
        return self.op(self.conv(x))


OPS = [
    # (functional form, module form, node type)
    (F.relu, nn.ReLU(), "relu"),
    (lambda x: F.relu(x, inplace=True), nn.ReLU(inplace=True), "relu"),
    (F.relu6, nn.ReLU6(), "relu6"),
    (F.hardswish, nn.Hardswish(), "hardswish"),
    (F.hardsigmoid, nn.Hardsigmoid(), "hardsigmoid"),
    (F.silu, nn.SiLU(), "silu"),
    (torch.sigmoid, nn.Sigmoid(), "sigmoid"),
    (lambda x: F.max_pool2d(x, 3, 2, 1), nn.MaxPool2d(3, 2, 1), "maxpool"),
    (lambda x: F.avg_pool2d(x, 2, ceil_mode=True), nn.AvgPool2d(2, ceil_mode=True), "avgpool"),
    (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), nn.AdaptiveAvgPool2d((3, 2)), "adaptive_avgpool"),
    (lambda x: F.adaptive_avg_pool2d(x, 1), nn.AdaptiveAvgPool2d((1, 1)), "global_avgpool"),
    (lambda x: x.mean((2, 3), keepdim=True), nn.AdaptiveAvgPool2d(1), "global_avgpool"),
    (lambda x: torch.flatten(x, 1), nn.Flatten(), "flatten"),
    (lambda x: torch.cat([x], 1), nn.Identity(), "identity"),  # cat of one (DenseNet)
    (lambda x: F.dropout(x, 0.3, training=False), nn.Dropout(0.3), "dropout"),
]


@pytest.mark.parametrize("form", ["functional", "module"])
@pytest.mark.parametrize("case", range(len(OPS)), ids=[f"{o[2]}{i}" for i, o in enumerate(OPS)])
def test_each_op_imports_to_its_node_type_with_equal_outputs(case, form):
    """Every op, functional or module, becomes its node type; outputs equal torch's."""
    fn, mod, want = OPS[case]
    model = _Wrap(fn if form == "functional" else mod)
    imp = import_module(model, (3, 16, 16))
    kinds = [t for n, t in _types(imp).items() if n not in ("x", "conv")]
    assert kinds == [want]
    _same_outputs(model, imp)


class _Merges(nn.Module):
    def __init__(self, how: str):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)
        self.how = how

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        if self.how == "+":
            return a + b
        if self.how == "+=":
            a += b
            return a
        if self.how == "torch.add":
            return torch.add(a, b)
        if self.how == "cat":
            return torch.cat([a, b], 1)
        if self.how == "*":
            return a * b
        if self.how == "se":  # squeeze-and-excitation: C×1×1 times C×H×W
            return a * torch.sigmoid(F.adaptive_avg_pool2d(b, 1))
        if self.how == "mean":
            return a.mean((2, 3)) + b.mean([-2, -1])
        raise AssertionError(self.how)


@pytest.mark.parametrize(
    "how,kind",
    [("+", "add"), ("+=", "add"), ("torch.add", "add"), ("cat", "concat"), ("*", "mul"),
     ("se", "mul"), ("mean", "add")],
)  # fmt: skip
def test_merges_import_with_equal_outputs(how, kind):
    """+, +=, torch.add, torch.cat, * and an SE-style C×1×1 product: one merge node each."""
    model = _Merges(how)
    imp = import_module(model, (3, 8, 8))
    sinks = [n for n in imp.model.nodes if not imp.model.graph.out_degree(n)]
    assert [imp.model.node_type(s) for s in sinks] == [kind]
    _same_outputs(model, imp, (3, 8, 8))


def test_mean_without_keepdim_is_global_pool_then_flatten():
    """x.mean((2, 3)) becomes global_avgpool 'mean' → flatten 'mean_flatten'."""
    model = _Wrap(lambda x: x.mean((2, 3)))
    imp = import_module(model, (3, 8, 8))
    assert _types(imp) == {
        "x": "input",
        "conv": "conv",
        "mean": "global_avgpool",
        "mean_flatten": "flatten",
    }
    _same_outputs(model, imp, (3, 8, 8))


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layer1(x), 1), 1))


def test_ids_are_fx_names_and_scopes_are_module_paths(tmp_path):
    """Ids are fx names (layer1_0); each node keeps its module path as scope in the file."""
    imp = import_module(_Tiny(), (3, 8, 8))
    assert imp.model.nodes == ["x", "layer1_0", "layer1_1", "layer1_2", "adaptive_avg_pool2d",
                               "flatten", "fc"]  # fmt: skip
    path = tmp_path / "d.json"
    fileformat.save(imp.model, path)
    back = fileformat.load(path)
    assert back.graph.nodes["layer1_1"]["scope"] == "layer1"
    assert "scope" not in back.graph.nodes["fc"]


def test_weights_keys_are_the_exported_modules_and_reproduce_outputs(tmp_path):
    """The default export plus the imported weights (strict) gives the original outputs."""
    model = _Tiny().eval()
    with torch.no_grad():
        model.layer1[1].running_mean.uniform_(-1, 1)
    imp = import_module(model, (3, 8, 8))
    ns: dict = {}
    exec(compile(export_blocks(imp.model), "exported.py", "exec"), ns)  # noqa: S102 - our export
    exported = ns[make_plan(imp.model).class_name]().eval()
    assert set(exported.state_dict()) == set(imp.state) == set(model.state_dict())
    exported.load_state_dict(imp.state, strict=True)
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x), rtol=1e-5, atol=1e-6)


def test_control_flow_on_values_is_refused_naming_the_line(tmp_path):
    """`if x.sum() > 0` cannot be traced: TraceError naming file, line and the code."""
    src = tmp_path / "branchy.py"
    src.write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn

            class Net(nn.Module):
                def forward(self, x):
                    if x.sum() > 0:
                        return torch.relu(x)
                    return x
            """
        )
    )
    with pytest.raises(TraceError) as err:
        import_module(load_source(f"{src}:Net"))
    assert "branchy.py:7" in err.value.message
    assert "`if x.sum() > 0:`" in err.value.message


class _TwoIn(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x, y):
        return self.a(x) + self.b(y)


class _TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.head1 = nn.Conv2d(4, 2, 1)
        self.head2 = nn.Conv2d(4, 3, 1)

    def forward(self, x):
        h = torch.relu(self.a(x))
        return self.head1(h), self.head2(h)


def test_two_inputs_become_two_input_nodes():
    """forward(x, y): two input nodes of the --input size; outputs equal torch's."""
    model = _TwoIn()
    imp = import_module(model, (3, 8, 8))
    assert [n for n in imp.model.nodes if imp.model.node_type(n) == "input"] == ["x", "y"]
    _same_outputs(model, imp, (3, 8, 8), n_inputs=2)


def test_tuple_output_becomes_two_sinks():
    """A tuple of two heads: two sinks in order; the built model returns the same tuple."""
    model = _TupleOut()
    imp = import_module(model, (3, 8, 8))
    _same_outputs(model, imp, (3, 8, 8))


def test_output_that_feeds_other_layers_is_refused():
    """Returning an intermediate value too cannot be a design: a clear refusal."""

    class Net(_TupleOut):
        def forward(self, x):
            h = self.a(x)
            return h, self.head1(h)

    with pytest.raises(Exception, match="also feeds other layers"):
        import_module(Net(), (3, 8, 8))


def test_cli_writes_design_and_safetensors_weights(tmp_path, capsys):
    """Exit 0; the JSON loads; the safetensors file holds the model's own keys (targets)."""
    src = tmp_path / "tiny.py"
    src.write_text(
        "from torch import nn\n"
        "def make():\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))\n"
    )
    out, w = tmp_path / "t.json", tmp_path / "t.safetensors"
    rc = cli_main(
        ["import", f"{src}:make", "--input", "3x6x6", "-o", str(out), "--weights", str(w)]
    )
    assert rc == 0
    model = fileformat.load(out)
    state = read_state_dict(w)
    assert set(state) == set(build_module(model).state_dict())
    assert state["0.weight"].shape == (4, 3, 3, 3)  # nn.Sequential's index, as in torch


@pytest.mark.parametrize(
    "source,needle",
    [
        ("{tmp}/missing.py:Net", "no such file"),
        ("{tmp}/raises.py:Net", "importing it raised ZeroDivisionError"),
        ("{tmp}/raises_ok.py:make", "make() returned int, not a torch.nn.Module"),
        ("{tmp}/raises_ok.py:Absent", "has no 'Absent'"),
        ("{tmp}/raises_ok.py:Needs", "calling Needs() raised TypeError"),
        ("no_such_package_xyz.models:Net", "no module named 'no_such_package_xyz'"),
        ("justtext", "give the model as path/to/file.py:NAME"),
    ],
)
def test_bad_sources_exit_2_with_a_message(tmp_path, capsys, source, needle):
    """Missing file or module, import error, non-module, bad call: exit 2, named cause."""
    (tmp_path / "raises.py").write_text("x = 1 / 0\n")
    (tmp_path / "raises_ok.py").write_text(
        "from torch import nn\n"
        "def make():\n    return 3\n"
        "class Needs(nn.Module):\n    def __init__(self, width):\n        super().__init__()\n"
    )
    out = tmp_path / "o.json"
    assert cli_main(["import", source.format(tmp=tmp_path), "-o", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_pickled_model_is_refused_without_unpickling(tmp_path):
    """A .pt holding a pickled model: refused naming its class; nothing is unpickled."""
    path = tmp_path / "model.pt"
    torch.save(nn.Sequential(nn.ReLU()), path)
    with pytest.raises(SourceError) as err:
        load_source(str(path))
    msg = err.value.message
    assert "a whole model" in msg and "torch.nn.modules.container.Sequential" in msg
    assert "never unpickles" in msg
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps(os.getcwd))  # would call nothing, but is not a model either
    with pytest.raises(SourceError, match=r"evil.pkl holds pickled Python objects .*getcwd"):
        load_source(f"{raw}:Net")


# --------------------------------------------------------------------------- round trip
def _canonical(model) -> dict:
    """Design content up to the importer's canonical forms (documented in convert.py)."""
    nodes = {}
    for n in model.nodes:
        t, p = model.node_type(n), dict(model.params(n))
        if t == "conv" and pair(p["kernel_size"]) == (1, 1) and pair(p["dilation"]) == (1, 1):
            if p["padding"] in ("same",) or pair(p["padding"]) == (0, 0):
                t, p = "conv1x1", {k: p[k] for k in ("out_channels", "stride", "groups", "bias")}
        if t == "adaptive_avgpool" and pair(p["output_size"]) == (1, 1):
            t, p = "global_avgpool", {}
        if t in ("maxpool", "avgpool") and p["stride"] is not None:
            if pair(p["stride"]) == pair(p["kernel_size"]):
                p["stride"] = None
        for k, v in p.items():
            if isinstance(v, list):
                p[k] = pair(v)
            elif k in ("stride", "padding", "dilation", "kernel_size") and isinstance(v, int):
                p[k] = (v, v)
        nodes[n] = (t, p, tuple(model.inputs(n)))
    return nodes


def _round_trip(model, tmp_path) -> None:
    path = tmp_path / "exported_design.py"
    path.write_text(export_code(model))
    inp = next(n for n in model.nodes if model.node_type(n) == "input")
    p = model.params(inp)
    back = import_module(load_source(f"{path}:" + _class_of(path)),
                         (p["channels"], p["height"], p["width"])).model  # fmt: skip
    assert _canonical(back) == _canonical(model)  # ids, types, params, inputs in port order
    assert sorted(back.edges()) == sorted(model.edges())


def _class_of(path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("class "):
            return line[6:].split("(")[0]
    raise AssertionError("no class")


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_round_trip_of_every_template(key, tmp_path):
    """import(export(template)) gives the same ids, types, params, edges and port order."""
    _round_trip(build(key), tmp_path)


def test_round_trip_of_random_graphs(tmp_path):
    """30 seeded random graphs: import(export(g)) equals g."""
    for seed in range(30):
        rng = random.Random(seed)
        g = random_graph(rng.randint)
        _round_trip(g, tmp_path)
