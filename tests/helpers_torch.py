"""An independent torch reference for the engine's analysis (tests only).

It instantiates one ``torch.nn`` layer per node straight from the node's parameters and
runs the graph in a topological order computed here with networkx. It shares no code
with ``engine.analysis.analyzer`` or ``engine.runtime.build``: it is the oracle the analysis is
checked against.

Where the design is stricter than torch, the oracle enforces the design explicitly and
says so: ``add`` needs equal shapes (no broadcasting), ``mul`` inputs of one rank, ``concat`` needs C×H×W inputs, and
the spatial layers refuse 2-D ``(1, F)`` tensors (torch would read them as unbatched).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import networkx as nx
import torch
from torch import nn


class OracleError(Exception):
    """A node the oracle could not run (torch raised, or a design rule refused it)."""


class Waiting(Exception):
    """A node whose input failed."""


@dataclass
class OracleNode:
    """What the oracle found for one node."""

    shape: tuple | None
    weights: int = 0
    biases: int = 0
    other: int = 0
    macs: int = 0
    error: str | None = None
    waiting: bool = False

    @property
    def params(self) -> int:
        """All learnable parameters, as ``module.parameters()`` counts them."""
        return self.weights + self.biases + self.other


def _as_tuple(v):
    return tuple(v) if isinstance(v, list) else v


def _spatial(x: torch.Tensor) -> None:
    if x.dim() != 4:
        raise OracleError(f"needs a 4-D tensor, got {tuple(x.shape)}")


def make_module(type_name: str, p: dict, x: torch.Tensor) -> nn.Module | None:
    """The torch layer for a node of ``type_name`` with params ``p`` fed by ``x``."""
    if type_name in ("conv", "conv1x1"):
        _spatial(x)
        kernel = 1 if type_name == "conv1x1" else _as_tuple(p["kernel_size"])
        extra = {}
        if type_name == "conv":
            pad = p["padding"]
            extra = {
                "padding": pad if pad == "same" else _as_tuple(pad),
                "dilation": _as_tuple(p["dilation"]),
            }
        return nn.Conv2d(
            x.shape[1],
            p["out_channels"],
            kernel,
            stride=_as_tuple(p["stride"]),
            groups=p["groups"],
            bias=p["bias"],
            dtype=x.dtype,
            **extra,
        )
    if type_name in ("maxpool", "avgpool"):
        _spatial(x)
        cls = nn.MaxPool2d if type_name == "maxpool" else nn.AvgPool2d
        extra = {}
        if type_name == "avgpool":
            extra = {
                "count_include_pad": p.get("count_include_pad", True),
                "divisor_override": p.get("divisor_override"),
            }
        return cls(
            _as_tuple(p["kernel_size"]),
            stride=_as_tuple(p["stride"]),
            padding=_as_tuple(p["padding"]),
            ceil_mode=p["ceil_mode"],
            **extra,
        )
    if type_name == "global_avgpool":
        _spatial(x)
        return nn.AdaptiveAvgPool2d(1)
    if type_name == "relu":
        return nn.ReLU()
    if type_name == "batchnorm":
        _spatial(x)
        return nn.BatchNorm2d(
            x.shape[1], eps=p["eps"], momentum=p["momentum"], affine=p["affine"], dtype=x.dtype
        )
    if type_name == "flatten":
        return nn.Flatten()
    if type_name == "linear":
        if x.dim() != 2:
            raise OracleError(f"linear needs a 2-D tensor, got {tuple(x.shape)}")
        return nn.Linear(x.shape[1], p["out_features"], bias=p["bias"], dtype=x.dtype)
    if type_name == "dropout":
        return nn.Dropout(p["p"])
    if type_name == "conv_transpose":
        _spatial(x)
        module = nn.ConvTranspose2d(
            x.shape[1],
            p["out_channels"],
            _as_tuple(p["kernel_size"]),
            stride=_as_tuple(p["stride"]),
            padding=_as_tuple(p["padding"]),
            output_padding=_as_tuple(p["output_padding"]),
            groups=p["groups"],
            bias=p["bias"],
            dilation=_as_tuple(p["dilation"]),
            dtype=x.dtype,
        )
        module.oracle_in_pixels = x.shape[2] * x.shape[3]
        return module
    if type_name == "upsample":
        _spatial(x)
        extra = {"align_corners": p["align_corners"]} if p["mode"] == "bilinear" else {}
        if p["size"] is not None:  # the design's rule: size, when set, wins
            return nn.Upsample(size=_as_tuple(p["size"]), mode=p["mode"], **extra)
        return nn.Upsample(scale_factor=p["scale_factor"], mode=p["mode"], **extra)
    if type_name == "layernorm2d":
        _spatial(x)
        return _ChannelsLayerNorm(x.shape[1], p["eps"], p["elementwise_affine"], x.dtype)
    if type_name == "grn":
        _spatial(x)
        return _GlobalResponseNorm(x.shape[1], p["eps"], x.dtype)
    if type_name == "channel_slice":
        if p["stop"] > x.shape[1]:  # torch would silently return fewer channels
            raise OracleError(f"stop {p['stop']} is beyond {x.shape[1]} channels")
        return _Lambda(lambda t: t[:, p["start"] : p["stop"]])
    if type_name == "channel_shuffle":
        _spatial(x)
        return nn.ChannelShuffle(p["groups"])
    if type_name == "pad":
        _spatial(x)
        sides = (p["left"], p["right"], p["top"], p["bottom"])
        if p["mode"] == "constant":
            return _Lambda(lambda t: nn.functional.pad(t, sides, value=p["value"]))
        return _Lambda(lambda t: nn.functional.pad(t, sides, mode=p["mode"]))
    if type_name == "prelu":
        return nn.PReLU(p["num_parameters"], p["init"], dtype=x.dtype)
    if type_name == "clamp":
        return _Lambda(lambda t: torch.clamp(t, p["min"], p["max"]))
    if type_name == "scale_shift":
        return _Lambda(lambda t: t * p["scale"] + p["shift"])
    if type_name == "hardsigmoid":
        return _HardsigmoidAB(p["alpha"], p["beta"])
    if type_name == "gelu":
        return nn.GELU(approximate=p["approximate"])
    if type_name == "leaky_relu":
        return nn.LeakyReLU(p["negative_slope"])
    if type_name == "elu":
        return nn.ELU(p["alpha"])
    if type_name == "softmax":
        return nn.Softmax(dim=1)
    if type_name in _ACTIVATIONS:
        return _ACTIVATIONS[type_name]()
    if type_name == "adaptive_avgpool":
        _spatial(x)
        return nn.AdaptiveAvgPool2d(_as_tuple(p["output_size"]))
    raise AssertionError(type_name)


class _Lambda(nn.Module):
    """A parameterless function as a module."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class _ChannelsLayerNorm(nn.LayerNorm):
    """LayerNorm over dim 1 of N×C×H×W, written out with mean and variance (as timm's)."""

    def __init__(self, c: int, eps: float, affine: bool, dtype) -> None:
        super().__init__(c, eps=eps, elementwise_affine=affine, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight[:, None, None] + self.bias[:, None, None]
        return y


class _GlobalResponseNorm(nn.Module):
    """ConvNeXt V2's GRN on N×C×H×W, as the paper writes it (γ, β zero at start)."""

    def __init__(self, c: int, eps: float, dtype) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(c, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(c, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.sqrt((x * x).sum(dim=(2, 3), keepdim=True))
        nx = gx / (gx.mean(dim=1, keepdim=True) + self.eps)
        w = self.weight.view(1, -1, 1, 1)
        b = self.bias.view(1, -1, 1, 1)
        return w * (x * nx) + b + x


class _HardsigmoidAB(nn.Module):
    """ONNX's HardSigmoid, ``clamp(alpha*x + beta, 0, 1)``; torch's for 1/6 and 1/2."""

    def __init__(self, alpha: float, beta: float) -> None:
        super().__init__()
        self.alpha, self.beta = alpha, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.alpha == 1 / 6 and self.beta == 0.5:
            return nn.functional.hardsigmoid(x)
        return torch.clamp(self.alpha * x + self.beta, min=0.0, max=1.0)


_ACTIVATIONS = {
    "relu6": nn.ReLU6,
    "hardswish": nn.Hardswish,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
    "mish": nn.Mish,
    "tanh": nn.Tanh,
}


def count(module: nn.Module | None) -> tuple[int, int, int]:
    """``(weights, biases, other)`` learnable parameters of a conv/linear/BN module."""
    if module is None:
        return 0, 0, 0
    total = sum(t.numel() for t in module.parameters())
    if isinstance(module, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)):
        w = module.weight.numel()
        b = module.bias.numel() if module.bias is not None else 0
        assert w + b == total
        return w, b, 0
    return 0, 0, total


def macs_of(module: nn.Module | None, out: torch.Tensor) -> int:
    """Multiply-accumulates: one per weight of the kernel slice, per output value."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return out.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    if isinstance(module, nn.ConvTranspose2d):
        # every input value meets each weight of its group's output channels once
        return module.oracle_in_pixels * module.weight.numel()
    return 0


def ordered_inputs(g: nx.MultiDiGraph, n: str) -> list[str]:
    """Inputs of ``n`` sorted by port (the edge key)."""
    return [u for u, _, k in sorted(g.in_edges(n, keys=True), key=lambda e: e[2])]


def run_graph(
    model,
    dtype=torch.float32,
    positive: bool = False,
    x: torch.Tensor | None = None,
    seed: int = 0,
    keep_modules: bool = False,
    init=None,
):
    """Run every node of ``model`` (a GraphModel) with fresh torch layers.

    Parameters
    ----------
    positive : bool
        Fill conv/linear/BN weights with positive values (for gradient measurements).
    x : Tensor, optional
        The input tensor (one input node); random otherwise.
    init : callable, optional
        Called as ``init(node, module)`` on each new layer before it runs (to set weights).

    Returns
    -------
    results : dict[str, OracleNode]
    tensors : dict[str, Tensor]
        Outputs of the nodes that ran.
    """
    torch.manual_seed(seed)
    g = model.graph
    results: dict[str, OracleNode] = {}
    tensors: dict[str, torch.Tensor] = {}
    modules: dict[str, nn.Module] = {}
    for n in nx.topological_sort(g):
        data = g.nodes[n]
        t, p = data["type"], data["params"]
        if t == "input":
            if x is None:
                x_in = torch.rand(1, p["channels"], p["height"], p["width"], dtype=dtype) + 0.1
            else:
                x_in = x
            tensors[n] = x_in
            results[n] = OracleNode(tuple(x_in.shape[1:]))
            continue
        ins = ordered_inputs(g, n)
        need = 2 if t in ("concat", "add", "mul") else 1
        if len(ins) < need or any(u not in tensors for u in ins):
            if len(ins) < need:
                results[n] = OracleNode(None, error="too few inputs")
            else:
                results[n] = OracleNode(None, waiting=True)
            continue
        xs = [tensors[u] for u in ins]
        try:
            module = None
            if t == "concat":
                for v in xs:
                    _spatial(v)
                out = torch.cat(xs, dim=1)
            elif t == "mul":
                # The design broadcasts only between inputs of the same kind (C×H×W or F).
                if any(v.dim() != xs[0].dim() for v in xs):
                    raise OracleError("mul needs inputs of the same number of dimensions")
                out = xs[0]
                for v in xs[1:]:
                    out = out * v
            elif t == "add":
                if any(v.shape != xs[0].shape for v in xs):
                    raise OracleError("add needs equal shapes")
                out = xs[0]
                for v in xs[1:]:
                    out = out + v
            else:
                module = make_module(t, p, xs[0])
                if positive:
                    with torch.no_grad():
                        for prm in module.parameters():
                            prm.uniform_(0.2, 1.0)
                if init is not None:
                    init(n, module)
                module.eval()
                with warnings.catch_warnings():
                    # torch warns that even "same" kernels copy the input; not a failure.
                    warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
                    out = module(xs[0])
        except (RuntimeError, ValueError, OracleError) as exc:
            results[n] = OracleNode(None, error=str(exc))
            continue
        tensors[n] = out
        if keep_modules and module is not None:
            modules[n] = module
        w, b, o = count(module)
        results[n] = OracleNode(tuple(out.shape[1:]), w, b, o, macs_of(module, out))
    if keep_modules:
        return results, tensors, modules
    return results, tensors


def gradient_extents(
    model, targets: list[tuple[str, tuple[int, int] | None]], input_node: str, seed: int = 0
) -> list:
    """Rows and columns of the input that single output values depend on.

    Runs in float64 with positive weights and inputs (no gradient vanishes by chance),
    backpropagates from the sum over all channels of ``node`` at ``pixel`` (the receptive
    field is the union over channels: after a concat, channel 0 sees one input only;
    feature 0 of a feature vector; the sum of every output value if ``pixel`` is ``None``)
    for each ``(node, pixel)`` of ``targets``, and returns for each the extent
    ``((top, bottom), (left, right))`` of the non-zero input gradient (inclusive), or
    ``None`` if it is all zero.
    """
    p = model.params(input_node)
    gen = torch.Generator().manual_seed(seed)
    x = (
        torch.rand(1, p["channels"], p["height"], p["width"], dtype=torch.float64, generator=gen)
        + 0.5
    ).requires_grad_(True)
    _, tensors = run_graph(model, dtype=torch.float64, positive=True, x=x, seed=seed)
    found = []
    for node, pixel in targets:
        out = tensors[node]
        if pixel is None:
            target = out.sum()
        else:
            target = out[0, :, pixel[0], pixel[1]].sum() if out.dim() == 4 else out[0, 0]
        (grad,) = torch.autograd.grad(target, x, retain_graph=True)
        nz = grad[0].abs().sum(0) > 0
        rows = torch.nonzero(nz.any(1)).flatten()
        cols = torch.nonzero(nz.any(0)).flatten()
        if rows.numel() == 0:
            found.append(None)
        else:
            found.append(((int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))))
    return found


def gradient_extent(
    model, node: str, pixel: tuple[int, int] | None, input_node: str, seed: int = 0
):
    """:func:`gradient_extents` for one target."""
    return gradient_extents(model, [(node, pixel)], input_node, seed)[0]
