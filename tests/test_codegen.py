"""engine.codegen.emit / engine.codegen.naming / export CLI: exported code runs alone and equals the built model."""

from __future__ import annotations

import ast
import json
import keyword
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from random_graphs import seeded_graph
from small_graphs import input_of, small_template
from torch import nn

from cli import main as cli_main
from engine import GraphModel, analyze
from engine.codegen.emit import export_code, make_plan
from engine.codegen.emit_blocks import export_blocks
from engine.codegen.naming import (
    CODE_NAMES,
    FORWARD_BUILTINS,
    MODULE_ATTRS,
    class_name,
    module_names,
)
from engine.core.fileformat import save
from engine.runtime.build import build_module
from engine.templates import TEMPLATES, deep_resnet, resnet50

RUNNER = textwrap.dedent("""
    import importlib.util, json, sys
    import torch
    assert "engine" not in sys.modules
    results = []
    for job in json.load(open(sys.argv[1])):
        spec = importlib.util.spec_from_file_location(job["module"], job["code"])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        torch.manual_seed(job["seed"])
        model = getattr(mod, job["cls"])()
        res = {"keys": [[k, list(v.shape)] for k, v in model.state_dict().items()]}
        if job["init"]:
            init = torch.load(job["init"], weights_only=True)
            res["same_init"] = all(torch.equal(init[k], v) for k, v in model.state_dict().items())
        if job["state"]:
            model.load_state_dict(torch.load(job["state"], weights_only=True))
        model.eval()
        with torch.inference_mode():
            out = model(*torch.load(job["x"], weights_only=True))
        out = out if isinstance(out, tuple) else (out,)
        want = torch.load(job["y"], weights_only=True)
        res["diff"] = max(float((a - b).abs().max()) for a, b in zip(out, want))
        res["n_out"] = len(out)
        results.append(res)
    json.dump(results, open(sys.argv[2], "w"))
    assert "engine" not in sys.modules
""")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _randomise(module: nn.Module) -> dict:
    """A state dict of random values (positive running variances) for ``module``."""
    gen = torch.Generator().manual_seed(0)
    sd = {}
    for k, v in module.state_dict().items():
        if v.is_floating_point():
            r = (
                torch.rand(v.shape, generator=gen) + 0.5
                if k.endswith("running_var")
                else torch.randn(v.shape, generator=gen) * 0.3
            )
            sd[k] = r
        else:
            sd[k] = v.clone()
    return sd


def _parity_graphs() -> list[GraphModel]:
    return (
        [small_template(k) for k in TEMPLATES]
        + [deep_resnet(6, 4, 6), hostile_graph()]
        + [seeded_graph(s) for s in range(14)]
    )


def test_exported_code_equals_built_model_in_fresh_interpreter(tmp_path):
    """Both printings in a fresh interpreter equal build_module (<= 1e-6); the default one
    also in its keys (same order) and seeded initial weights; the flat one loads strictly."""
    jobs, expected = [], []
    for i, g in enumerate(_parity_graphs()):
        plan = make_plan(g)
        m = build_module(g, seed=i)
        # Small models: check the seeded initial weights, then compare with random weights
        # (random BatchNorm statistics too). Big ones: the seeded initial weights only, so
        # that no large file is written.
        small = sum(p.numel() for p in m.parameters()) < 2_000_000
        init_path = state_path = ""
        if small:
            init_path = str(tmp_path / f"init{i}.pt")
            torch.save(m.state_dict(), init_path)
            state_path = str(tmp_path / f"state{i}.pt")
            sd = _randomise(m)
            m.load_state_dict(sd)
            torch.save(sd, state_path)
        xs = [torch.randn(2, *plan.shapes[n]) for n in plan.input_nodes]
        with torch.inference_mode():
            y = m(*xs)
        y = list(y) if isinstance(y, tuple) else [y]
        (tmp_path / f"m{i}.py").write_text(export_blocks(g), encoding="utf-8")
        (tmp_path / f"f{i}.py").write_text(export_code(g), encoding="utf-8")
        for name, obj in (("x", xs), ("y", y)):
            torch.save(obj, tmp_path / f"{name}{i}.pt")
        keys = [[k, list(v.shape)] for k, v in m.state_dict().items()]
        for prefix in ("m", "f") if small else ("m",):
            jobs.append(
                {
                    "module": f"{prefix}{i}",
                    "code": str(tmp_path / f"{prefix}{i}.py"),
                    "cls": plan.class_name,
                    "seed": i,
                    "init": init_path if prefix == "m" else "",
                    "state": state_path,
                    "x": str(tmp_path / f"x{i}.pt"),
                    "y": str(tmp_path / f"y{i}.pt"),
                }
            )
            want = keys if prefix == "m" else sorted(keys)
            expected.append((want, len(y), bool(init_path) and prefix == "m"))
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    (tmp_path / "runner.py").write_text(RUNNER)
    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            str(tmp_path / "runner.py"),
            str(tmp_path / "jobs.json"),
            str(tmp_path / "out.json"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (tmp_path / MARKER).exists()
    results = json.loads((tmp_path / "out.json").read_text())
    assert len(results) == len(jobs)
    for job, res, (keys, n_out, has_init) in zip(jobs, results, expected):
        got = res["keys"] if job["module"].startswith("m") else sorted(res["keys"])
        assert got == keys, job["module"]
        assert res["n_out"] == n_out, job["module"]
        assert res["diff"] <= 1e-6, job["module"]
        if has_init:
            assert res["same_init"], job["module"]


META_RUNNER = textwrap.dedent("""
    import importlib.util, json, sys
    import torch
    out = {}
    for key, path, cls in json.load(open(sys.argv[1])):
        spec = importlib.util.spec_from_file_location(key, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        with torch.device("meta"):  # full-size networks: shapes only, no memory
            model = getattr(mod, cls)()
        out[key] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    json.dump(out, open(sys.argv[2], "w"))
    assert "engine" not in sys.modules
""")


def test_full_size_templates_export_build_module_keys_in_fresh_interpreter(tmp_path):
    """Full-size templates exported and built in a fresh interpreter have build_module's keys."""
    jobs, expected = [], {}
    for key in TEMPLATES:
        g = TEMPLATES[key].builder()
        with torch.device("meta"):
            expected[key] = [[k, list(v.shape)] for k, v in build_module(g).state_dict().items()]
        path = tmp_path / f"{key}.py"
        path.write_text(export_blocks(g), encoding="utf-8")
        jobs.append([key, str(path), make_plan(g).class_name])
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    (tmp_path / "runner.py").write_text(META_RUNNER)
    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            str(tmp_path / "runner.py"),
            str(tmp_path / "jobs.json"),
            str(tmp_path / "out.json"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads((tmp_path / "out.json").read_text())
    assert got == expected
    assert [4096, 512 * 7 * 7] in [shape for _, shape in got["vgg16"]]  # the real-size fc6


MARKER = "PWNED_MARKER"
HOSTILE_IDS = [
    f"__import__('os').system('touch {MARKER}')",
    f'"""\nimport os\nopen("{MARKER}", "w")\n"""',
    f"x\n# c\r\nopen('{MARKER}','w')\n",
    "class",
    "forward",
    "self",
    "torch",
    "nn",
    "input",
    "__init__",
    "_modules",
    "training",
    "model",
    "inputs",
    "result",
    "tensor",
    "p",
    "x",
    "conv-1",
    "conv_1",
    "conv 1",
    "卷积层",
    "ｆｏｒｗａｒｄ",
    "é",
    "1abc",
    "a\x00b",
    "\\",
    "a\\",
    "'",
    "\\N{",
    "\u2028line\u2029sep",
    "conv3×3",
    "ResNet",
]
HOSTILE_NAME = f'"""\nimport os; os.system("touch {MARKER}")\n"""\\'


def hostile_graph() -> GraphModel:
    """A valid graph whose every id (and the name) is hostile: a chain plus concat and add."""
    g = GraphModel(HOSTILE_NAME)
    ids = HOSTILE_IDS
    g.add_node("input", {"channels": 2, "height": 6, "width": 6}, ids[0])
    prev = ids[0]
    kinds = ["conv", "relu", "batchnorm", "conv1x1", "maxpool", "dropout", "avgpool"]
    for i, nid in enumerate(ids[1:-3]):
        t = kinds[i % len(kinds)]
        params = (
            {"out_channels": 2, "kernel_size": 3, "padding": 1}
            if t == "conv"
            else {"out_channels": 2}
            if t == "conv1x1"
            else {"kernel_size": 3, "stride": 1, "padding": 1}
            if t.endswith("pool")
            else {}
        )
        g.add_node(t, params, nid)
        g.connect(prev, nid)
        prev = nid
    g.add_node("concat", {}, ids[-3])
    g.connect(prev, ids[-3])
    g.connect(ids[1], ids[-3])
    g.add_node("conv1x1", {"out_channels": 2}, ids[-2])
    g.connect(ids[-3], ids[-2])
    g.add_node("add", {}, ids[-1])
    g.connect(ids[-2], ids[-1])
    g.connect(prev, ids[-1])
    assert analyze(g).ok
    return g


def test_hostile_ids_export_runs_harmlessly(tmp_path):
    """Hostile ids (quotes, code, keywords, unicode, clashes) export to harmless code that runs."""
    g = hostile_graph()
    code = export_code(g)
    assert all(line.isprintable() for line in code.splitlines())
    assert "'卷积层'" in code  # readable in its comment
    path = tmp_path / "model.py"
    path.write_text(code, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-I", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    params = analyze(g).totals.params
    assert proc.stdout.splitlines() == ["output shape: (1, 2, 6, 6)", f"parameters: {params}"]
    assert not (tmp_path / MARKER).exists()


def test_hostile_ids_build_in_process(tmp_path, monkeypatch):
    """build_module compiles the hostile graph's code without side effects."""
    monkeypatch.chdir(tmp_path)
    g = hostile_graph()
    m = build_module(g, capture=True)
    out = m(torch.randn(1, 2, 6, 6))
    assert set(out) == set(HOSTILE_IDS)
    assert sum(p.numel() for p in m.parameters()) == analyze(g).totals.params
    assert not (tmp_path / MARKER).exists()


def test_hostile_code_parses_to_expected_structure():
    """The hostile export has exactly: imports, one class with __init__/forward, the main block."""
    tree = ast.parse(export_code(hostile_graph()))
    kinds = [type(n).__name__ for n in tree.body]
    assert kinds == ["Expr", "Import", "ImportFrom", "ClassDef", "If"]
    cls = tree.body[3]
    assert [type(n).__name__ for n in cls.body] == ["Expr", "FunctionDef", "FunctionDef"]
    calls = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    cls_name = make_plan(hostile_graph()).class_name
    assert cls.name == cls_name == "ImportOsOsSystemTouchPWNEDMARKER"
    assert calls == {"super", "print", "tuple", "sum", "isinstance", "model", cls_name}


def test_names_keep_plain_ids_and_sanitise_the_rest():
    """Plain ids are kept; others become safe, unique identifiers."""
    names = module_names(hostile_graph())
    assert names["conv_1"] == "conv_1"
    assert names["conv-1"] == "conv_2" and names["conv 1"] == "conv_3"
    assert names["class"] == "class_" and names["forward"] == "forward_"
    assert names["ｆｏｒｗａｒｄ"] == "forward__1"
    assert names["卷积层"] == "u5377_u79ef_u5c42"
    assert names["1abc"] == "n1abc" and names["é"] == "e" and names["__init__"] == "init"
    assert names["_modules"] == "modules_" and names["training"] == "training_"
    assert names["conv3×3"] == "conv3x3" and names["\u2028line\u2029sep"] == "line_sep"
    assert len(set(names.values())) == len(names)


def test_numbering_leaves_natural_names_alone():
    """A numbered duplicate never takes the name another id sanitises to."""
    g = GraphModel()
    for nid in ("conv_1", "conv-1", "conv-2", "a b", "a-b"):
        g.add_node("relu", {}, nid)
    assert module_names(g) == {
        "conv_1": "conv_1",
        "conv-1": "conv_3",
        "conv-2": "conv_2",
        "a b": "a_b",
        "a-b": "a_b_1",
    }


def test_name_never_shadows_the_class():
    """A node id equal to the generated class name is renamed."""
    g = GraphModel("Res Net")
    g.add_node("input", {"channels": 1, "height": 2, "width": 2}, "ResNet")
    plan = make_plan(g)
    assert plan.class_name == "ResNet" and plan.names["ResNet"] == "ResNet_"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=12, unique=True))
def test_names_are_unique_safe_identifiers(ids):
    """Any ids: unique ASCII identifiers, never keywords, Module attributes or forward's names."""
    g = GraphModel()
    for nid in ids:
        g.add_node("relu", {}, nid)
    names = module_names(g)
    assert len(set(names.values())) == len(ids)
    for nid, name in names.items():
        assert name.isascii() and name.isidentifier() and not keyword.iskeyword(name)
        assert name not in MODULE_ATTRS | FORWARD_BUILTINS | CODE_NAMES
        assert not name.startswith("__")
        if (
            nid.isascii()
            and nid.isidentifier()
            and not keyword.iskeyword(nid)
            and not nid.startswith("__")
            and nid not in MODULE_ATTRS
            and nid not in CODE_NAMES | FORWARD_BUILTINS
            and not keyword.issoftkeyword(nid)
        ):
            assert name == nid


def test_module_attrs_cover_installed_torch():
    """MODULE_ATTRS holds every non-dunder attribute of an nn.Module instance."""
    assert {a for a in dir(nn.Module()) if not a.startswith("__")} <= MODULE_ATTRS


@pytest.mark.parametrize(
    "name,expected",
    [
        ("ResNet-50", "ResNet50"),
        ("inception 3a (naive)", "Inception3aNaive"),
        ("", "ConvCanvasNet"),
        ("Untitled", "ConvCanvasNet"),
        ("3a block", "Net3aBlock"),
        ("none", "NoneNet"),
        ("Exception", "ExceptionNet"),
        ("卷积", "U5377U79ef"),
        ("!!!", "ConvCanvasNet"),
        ("café net", "CafeNet"),
        ("Inception 3a (1×1 reductions)", "Inception3a1x1Reductions"),
        ("a→b", "AB"),
    ],
)
def test_class_name(name, expected):
    """Class names are CamelCase identifiers from the design name, with a fallback."""
    assert class_name(name) == expected


def test_docstring_has_totals():
    """The class docstring states params, weights, biases, MACs and input shape."""
    code = export_code(resnet50())
    assert "class ResNet50(nn.Module):" in code
    for text in (
        "Input shape: 3x224x224",
        "Output shape: 1000",
        "Parameters: 25,557,032 (weights 25,502,912, biases 1,000, batch-norm 53,120)",
        "Multiply-accumulates (MACs) per image: 4,089,184,256",
    ):
        assert text in code


def test_forward_has_one_line_per_node_with_shape_comment():
    """forward: one assignment per non-input node, in topological order, each with its shape."""
    g = small_template("inception3a_googlenet")
    plan = make_plan(g)
    code = export_code(g)
    body = code.split("def forward(")[1].split("\n\n")[0].splitlines()[1:]
    assigns = [ln.strip() for ln in body if " = " in ln]
    layers = [n for n in plan.order if plan.types[n] != "input"]
    assert [ln.split(" = ")[0] for ln in assigns] == [plan.names[n] for n in layers]
    for ln, n in zip(assigns, layers):
        assert ln.split("  # ")[1].split()[0] == "x".join(map(str, plan.shapes[n]))


def test_only_torch_is_imported():
    """The exported file imports torch and nothing else."""
    tree = ast.parse(export_code(small_template("googlenet")))
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    mods = {a.name for n in imports if isinstance(n, ast.Import) for a in n.names} | {
        n.module for n in imports if isinstance(n, ast.ImportFrom)
    }
    assert mods == {"torch"}


def test_codegen_does_not_import_torch():
    """engine.codegen.emit, engine.codegen.naming and cli.export load without torch."""
    code = (
        "import sys; import engine.codegen.emit, engine.codegen.naming, cli.export; "
        "print('torch' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )
    assert proc.stdout.strip() == "False", proc.stderr


def test_cli_export_writes_runnable_file(tmp_path, capsys):
    """`export FILE -o OUT` exits 0 and writes the exported code."""
    g = small_template("resnet_basic_64")
    save(g, tmp_path / "g.convcanvas")
    out = tmp_path / "model.py"
    assert cli_main(["export", str(tmp_path / "g.convcanvas"), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == export_blocks(g)
    assert "wrote" in capsys.readouterr().out


def test_cli_export_invalid_graph_exits_1(tmp_path, capsys):
    """An invalid graph: exit 1, the errors on stderr, no output file."""
    g = GraphModel("bad")
    g.add_node("input", {"channels": 1, "height": 4, "width": 4}, "in")
    g.add_node("conv", {"out_channels": 2, "kernel_size": 9}, "big")
    g.connect("in", "big")
    save(g, tmp_path / "g.convcanvas")
    out = tmp_path / "model.py"
    assert cli_main(["export", str(tmp_path / "g.convcanvas"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "conv 'big' kernel 9 is larger" in err and not out.exists()


@pytest.mark.parametrize("content", [None, b"not json {"])
def test_cli_export_unreadable_file_exits_2(tmp_path, capsys, content):
    """A missing or malformed graph file: exit 2 with a message naming the file."""
    src = tmp_path / "g.convcanvas"
    if content is not None:
        src.write_bytes(content)
    assert cli_main(["export", str(src), "-o", str(tmp_path / "m.py")]) == 2
    assert "g.convcanvas" in capsys.readouterr().err


def test_cli_export_to_stdout(tmp_path, capsys):
    """Without -o the code goes to standard output."""
    g = small_template("resnet_bottleneck")
    save(g, tmp_path / "g.convcanvas")
    assert cli_main(["export", str(tmp_path / "g.convcanvas")]) == 0
    assert capsys.readouterr().out == export_blocks(g)


def test_cli_export_flat_keeps_del_lines(tmp_path, capsys):
    """`export --flat` writes the flat form with its del lines."""
    g = small_template("resnet_bottleneck")
    save(g, tmp_path / "g.convcanvas")
    assert cli_main(["export", str(tmp_path / "g.convcanvas"), "--flat"]) == 0
    assert capsys.readouterr().out == export_code(g)


def test_cli_export_template_writes_its_blocks_code(tmp_path, capsys):
    """`export --template resnet18 -o OUT` writes the template's default export, which
    builds ResNet-18's 11,689,512 parameters."""
    from engine.templates import build

    out = tmp_path / "resnet18.py"
    assert cli_main(["export", "--template", "resnet18", "-o", str(out)]) == 0
    code = out.read_text(encoding="utf-8")
    assert code == export_blocks(build("resnet18"))
    space: dict = {}
    exec(compile(code, str(out), "exec"), space)  # noqa: S102 - our own generated file
    model = space["ResNet18"]()
    assert sum(p.numel() for p in model.parameters()) == 11_689_512


def test_cli_export_template_and_file_together_exit_2(tmp_path, capsys):
    """A FILE and --template together, or an unknown template: exit 2 saying why."""
    save(small_template("resnet_basic_64"), tmp_path / "g.convcanvas")
    assert cli_main(["export", str(tmp_path / "g.convcanvas"), "--template", "resnet18"]) == 2
    assert "either a FILE or --template" in capsys.readouterr().err
    assert cli_main(["export", "--template", "resnet19"]) == 2
    assert "unknown template 'resnet19'" in capsys.readouterr().err


def test_input_named_in_forward_signature():
    """forward takes the input node's tensor under its sanitised name."""
    g = small_template("resnet_basic_64")
    assert f"def forward(self, {make_plan(g).names[input_of(g)]}):" in export_code(g)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=10), min_size=2, max_size=6, unique=True),
    st.text(max_size=30),
)
def test_any_ids_and_name_give_code_of_fixed_shape(ids, name):
    """Arbitrary ids and design name: the code parses to the fixed layout with one line per node."""
    g = GraphModel(name)
    g.add_node("input", {"channels": 1, "height": 2, "width": 2}, ids[0])
    for a, b in zip(ids, ids[1:]):
        g.add_node("relu", {}, b)
        g.connect(a, b)
    tree = ast.parse(export_code(g))
    assert [type(n).__name__ for n in tree.body] == [
        "Expr",
        "Import",
        "ImportFrom",
        "ClassDef",
        "If",
    ]
    init, forward = tree.body[3].body[1:]
    assert len(init.body) == len(ids)  # super().__init__() + one per relu
    assigns = [n for n in forward.body if isinstance(n, ast.Assign)]
    assert len(assigns) == len(ids) - 1


def test_builtin_named_ids_are_used_as_is():
    """Valid non-keyword ids that name builtins (input, max) keep their names in state_dict keys."""
    g = GraphModel("b")
    g.add_node("input", {"channels": 1, "height": 4, "width": 4}, "input")
    g.add_node("conv", {"out_channels": 2, "kernel_size": 3}, "max")
    g.connect("input", "max")
    assert module_names(g) == {"input": "input", "max": "max"}
    src = export_code(g)
    namespace: dict = {}
    exec(compile(src, "<export>", "exec"), namespace)  # our own generated code
    model = namespace[make_plan(g).class_name]()
    assert sorted(model.state_dict()) == ["max.bias", "max.weight"]
