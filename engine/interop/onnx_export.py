"""Export a design's torch model to ONNX with ``torch.onnx.export`` (the dynamo exporter).

The file reads like the design: the initialisers are the ``state_dict`` keys (the module
targets), BatchNorm stays a ``BatchNormalization`` node (``fold=True`` lets onnxscript's
optimiser fuse it into the convolution, for deployment), ``identity`` and ``dropout``
nodes stay ``Identity`` and ``Dropout`` nodes (no-ops at inference), the nodes of module
layers are named by their targets, and the batch dimension is dynamic. The opset is
chosen (default :data:`DEFAULT_OPSET`) and recorded in the file.

torch.onnx's exporter needs the ``onnx`` and ``onnxscript`` packages (the ``onnx`` extra);
:func:`missing_packages` names what is absent so the caller can say how to install it.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.core.fileformat import write_atomic
from engine.core.graph import GraphLike
from engine.interop.errors import ImportFailed

DEFAULT_OPSET = 18
MIN_OPSET, MAX_OPSET = 18, 23
INSTALL_HINT = "pip install 'onnx>=1.17' 'onnxscript>=0.2'  (or: pip install -e '.[onnx]')"


class OnnxExportError(ImportFailed):
    """The export cannot run (missing packages, an opset out of range, a failed export)."""


def missing_packages() -> list[str]:
    """The packages torch.onnx's exporter needs that are not installed."""
    return [p for p in ("onnx", "onnxscript") if importlib.util.find_spec(p) is None]


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote."""

    path: Path
    opset: int
    nodes: int
    initialisers: int
    parameters: int
    folded: bool


# --------------------------------------------------------------------------- marks
# nn.Identity and nn.Dropout vanish from an exported graph; a custom op keeps them as
# ONNX Identity / Dropout nodes so the file has one node per design node.
@torch.library.custom_op("convcanvas::keep", mutates_args=())
def _keep(x: torch.Tensor, ratio: float) -> torch.Tensor:
    return x.clone()


@_keep.register_fake
def _keep_fake(x: torch.Tensor, ratio: float) -> torch.Tensor:
    return torch.empty_like(x)


class _Keep(nn.Module):
    """Stands in for ``nn.Identity`` (ratio < 0) or an eval-mode ``nn.Dropout``."""

    def __init__(self, ratio: float) -> None:
        super().__init__()
        self.ratio = float(ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.convcanvas.keep(x, self.ratio)


def _translation(opset: int):
    import onnxscript

    op = onnxscript.values.Opset("", opset)

    def keep(x, ratio: float):
        if ratio < 0:
            return op.Identity(x)
        out, _mask = op.Dropout(x, op.Constant(value_float=ratio))  # training_mode: false
        return out

    return {torch.ops.convcanvas.keep.default: keep}


def _swap_keeps(module: nn.Module) -> None:
    for name, child in list(module.named_children()):
        if type(child) is nn.Identity:
            setattr(module, name, _Keep(-1.0))
        elif type(child) is nn.Dropout:
            setattr(module, name, _Keep(float(child.p)))
        else:
            _swap_keeps(child)


# --------------------------------------------------------------------------- export
def export_onnx(
    graph: GraphLike,
    path: str | os.PathLike,
    *,
    seed: int = 0,
    state: dict | None = None,
    opset: int = DEFAULT_OPSET,
    fold: bool = False,
    strict: bool = False,
) -> OnnxExport:
    """Write the torch model of ``graph`` as an ONNX file.

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        A design without analysis errors.
    path : str or PathLike
        The ``.onnx`` file (written atomically).
    seed : int
        Seed of the random weights (ignored for the tensors ``state`` gives).
    state : dict, optional
        Weights to use (``{key: tensor or array}``, every key of the model's state dict).
    opset : int
        The ONNX opset (:data:`MIN_OPSET` to :data:`MAX_OPSET`).
    fold : bool
        Let onnxscript's optimiser fuse BatchNorm into convolutions (and rewrite more).
    strict : bool
        ``state`` must hold every key of the model (else only the keys it has are used).

    Returns
    -------
    OnnxExport

    Raises
    ------
    OnnxExportError
        If onnx/onnxscript are missing, the opset is out of range or the export fails.
    InvalidGraphError
        If the graph cannot be built.
    """
    missing = missing_packages()
    if missing:
        raise OnnxExportError(
            f"ONNX export needs the {' and '.join(missing)} package(s), which are not "
            f"installed; install them with:\n  {INSTALL_HINT}"
        )
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise OnnxExportError(
            f"opset {opset} is not supported: choose {MIN_OPSET} to {MAX_OPSET} "
            f"(torch.onnx's exporter starts at {MIN_OPSET})"
        )
    from engine.runtime.build import build_with_plan
    from engine.runtime.weights import apply_partial, check_state_dict

    module, plan = build_with_plan(graph, seed)
    if state is not None:
        state = {k: torch.as_tensor(v) for k, v in state.items()}
        if strict:
            check_state_dict(module, state)
        apply_partial(module, state)
    _swap_keeps(module)
    module.eval()
    inputs = tuple(torch.randn(2, *plan.shapes[n]) for n in plan.input_nodes)
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    dynamic = tuple({0: batch} for _ in inputs)
    import logging
    import warnings

    quiet = logging.getLogger("torch.onnx")  # "torchvision is not installed" notes
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                module,
                inputs,
                dynamo=True,
                opset_version=opset,
                dynamic_shapes=dynamic,
                input_names=[str(plan.names[n]) for n in plan.input_nodes],
                output_names=[str(plan.names[n]) for n in plan.sinks],
                custom_translation_table=_translation(opset),
                optimize=False,
                verbose=False,
            )
        except Exception as exc:  # torch.onnx raises many kinds; one clear message
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OnnxExportError(f"torch.onnx.export failed: {first}") from None
        finally:
            quiet.setLevel(level)
    model = program.model
    _optimise(model, fold)
    _drop_zero_biases(model, set(module.state_dict()))
    _name_nodes(model)
    model.metadata_props["convcanvas.design"] = str(plan.model_name or "")
    import onnx_ir as ir

    proto = ir.serde.serialize_model(model)
    _constants_as_nodes(proto, set(module.state_dict()))
    data = proto.SerializeToString()
    out = Path(path)
    write_atomic(out, lambda fh: fh.write(data), binary=True)
    n_params = sum(int(p.numel()) for p in module.parameters())
    return OnnxExport(
        out, opset, len(proto.graph.node), len(proto.graph.initializer), n_params, fold
    )


def _optimise(model, fold: bool) -> None:
    """Fold constants; with ``fold``, also onnxscript's rewrites (BatchNorm into Conv)."""
    from onnxscript import optimizer

    if fold:
        optimizer.optimize_ir(model)
        return
    from onnx_ir.passes import PassManager, Sequential
    from onnx_ir.passes import common as common_passes
    from onnxscript.optimizer import _constant_folding

    # The folder turns Identity and Dropout into nothing: hide them in a private domain.
    kept = [n for n in model.graph if n.op_type in ("Identity", "Dropout") and n.domain == ""]
    for n in kept:
        n.domain = "convcanvas.keep"
    model.opset_imports["convcanvas.keep"] = 1
    passes = Sequential(
        PassManager(
            [
                _constant_folding.FoldConstantsPass(
                    shape_inference=True,
                    input_size_limit=8192,
                    output_size_limit=1 << 18,
                ),
                common_passes.RemoveUnusedNodesPass(),
            ],
            steps=2,
            early_stop=True,
        ),
        common_passes.RemoveUnusedNodesPass(),
        common_passes.RemoveUnusedOpsetsPass(),
    )
    passes(model)
    for n in kept:
        n.domain = ""
    model.opset_imports.pop("convcanvas.keep", None)


def _constants_as_nodes(proto, keys: set) -> None:
    """Initialisers that are no weights (axes, shapes) become ``Constant`` nodes, so the
    initialisers are exactly the state-dict keys."""
    import onnx

    g = proto.graph
    extra = [t for t in g.initializer if t.name not in keys]
    if not extra:
        return
    kept = [t for t in g.initializer if t.name in keys]
    nodes = [
        onnx.helper.make_node("Constant", [], [t.name], name=f"constant/{t.name}", value=t)
        for t in extra
    ]
    del g.initializer[:]
    g.initializer.extend(kept)
    rest = list(g.node)
    del g.node[:]
    g.node.extend(nodes + rest)


def _drop_zero_biases(model, keys: set) -> None:
    """Remove the all-zero bias torch.onnx gives a convolution without one."""
    for node in model.graph:
        if node.op_type not in ("Conv", "ConvTranspose") or len(node.inputs) < 3:
            continue
        bias = node.inputs[2]
        if bias is None or bias.name in keys or bias.const_value is None:
            continue
        if not bias.const_value.numpy().any():
            node.resize_inputs(2)
            if not bias.uses() and bias.name in model.graph.initializers:
                model.graph.initializers.pop(bias.name)


def _name_nodes(model) -> None:
    """Name nodes after the module target they belong to (``layer1.0.conv1``).

    The node giving a module's output gets the target itself, its helpers (a constant,
    the ``Sigmoid`` of a SiLU) ``target/OpType``; functional operations keep torch's
    value name (``cat``, ``add_3``); the operations of one line of ``forward``
    (``a + b + c``) share the first one's name.
    """
    import ast

    groups: dict[str, list] = {}
    lines: dict[str, str] = {}  # a forward line (its stack trace) → its group's name
    for node in model.graph:
        text = node.metadata_props.get("pkg.torch.onnx.name_scopes")
        try:
            scopes = ast.literal_eval(text) if text else None  # strings written by torch
        except (ValueError, SyntaxError):
            scopes = None
        if not isinstance(scopes, list) or len(scopes) < 2:
            continue
        path = ".".join(str(s) for s in scopes[1:-1])
        if not path:
            trace = node.metadata_props.get("pkg.torch.onnx.stack_trace") or str(scopes[-1])
            path = lines.setdefault(trace, str(scopes[-1]))
        groups.setdefault(path, []).append(node)
    taken: set[str] = set()
    for path, nodes in groups.items():
        members = set(map(id, nodes))
        outputs = {id(v) for v in model.graph.outputs}
        for node in nodes:
            leaves = any(
                id(v) in outputs or any(id(u) not in members for u, _ in v.uses())
                for v in node.outputs
            )
            name = path if leaves and path not in taken else f"{path}/{node.op_type}"
            k, base = 1, name
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            taken.add(name)
            node.name = name
