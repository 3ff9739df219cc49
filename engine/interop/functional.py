"""Functional calls with parameters (``F.batch_norm(x, self.running_mean, …)``) as layers.

A module traced into (a subclass of a torch layer with its own ``forward``, such as timm's
``BatchNormAct2d``, or any user module) computes its layer with a functional call on its
own parameters, which fx records as ``get_attr`` nodes. :data:`WEIGHTED` maps such calls
to a node type, its parameters and its weights: ``{key: (target, tensor)}`` where ``key``
is the name in the node's built module (``running_mean``) and ``target`` the attribute's
path in the model (``bn1.running_mean``). A call whose weight is computed (not a plain
attribute) is refused, saying so.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import fx, nn

from engine.interop.fx_args import call_arg, int_or_pair


class Refused(Exception):
    """A functional call that has no node type as written (the text says why)."""


def fetch(root: nn.Module, target: str):
    """The attribute at dotted ``target`` under ``root``."""
    obj = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _tensor(n: fx.Node, i: int, name: str, root: nn.Module, what: str, optional: bool = False):
    """``(target, tensor)`` of a ``get_attr`` argument; ``None`` if absent and optional."""
    v = call_arg(n, i, name)
    if v is None:
        if optional:
            return None
        raise Refused(f"{what} without {name}")
    if not isinstance(v, fx.Node) or v.op != "get_attr":
        raise Refused(f"{what} with a {name} computed in forward (not a parameter as it is)")
    t = fetch(root, str(v.target))
    if not isinstance(t, torch.Tensor):
        raise Refused(f"{what} with a {name} that is not a tensor")
    return str(v.target), t.detach()


def _const(n: fx.Node, i: int, name: str, default, what: str):
    v = call_arg(n, i, name, default)
    if isinstance(v, fx.Node):
        raise Refused(f"{what} with {name} computed from a tensor")
    return v


def _batch_norm(n: fx.Node, root: nn.Module):
    what = "F.batch_norm"
    if _const(n, 5, "training", False, what):
        raise Refused(f"{what} with training=True (batch statistics at inference)")
    mean = _tensor(n, 1, "running_mean", root, what)
    var = _tensor(n, 2, "running_var", root, what)
    weight = _tensor(n, 3, "weight", root, what, optional=True)
    bias = _tensor(n, 4, "bias", root, what, optional=True)
    if (weight is None) != (bias is None):
        raise Refused(f"{what} with only one of weight and bias")
    momentum = _const(n, 6, "momentum", 0.1, what)
    eps = float(_const(n, 7, "eps", 1e-5, what))
    if mean[1].dim() != 1 or var[1].shape != mean[1].shape:
        raise Refused(f"{what} with running statistics that are not one value per channel")
    owner = mean[0].rpartition(".")[0]
    w = {"running_mean": mean, "running_var": var}
    if weight is not None:
        w["weight"], w["bias"] = weight, bias
    counted = f"{owner}.num_batches_tracked" if owner else "num_batches_tracked"
    try:
        nbt = fetch(root, counted)
    except AttributeError:
        nbt = None
    if isinstance(nbt, torch.Tensor):
        w["num_batches_tracked"] = (counted, nbt.detach())
    else:
        w["num_batches_tracked"] = (counted, torch.tensor(0, dtype=torch.long))
    momentum = 0.1 if momentum is None else float(momentum)
    params = {"eps": eps, "momentum": momentum, "affine": weight is not None}
    return "batchnorm", params, w


def _weight_bias(n: fx.Node, root: nn.Module, what: str, dims: int):
    """A call's weight (argument 1, of ``dims`` dimensions), optional bias, and their dict."""
    weight = _tensor(n, 1, "weight", root, what)
    bias = _tensor(n, 2, "bias", root, what, optional=True)
    if weight[1].dim() != dims:
        raise Refused(f"{what} with a weight of {weight[1].dim()} dimensions")
    w = {"weight": weight}
    if bias is not None:
        w["bias"] = bias
    return weight, bias, w


def _linear(n: fx.Node, root: nn.Module):
    what = "F.linear"
    weight, bias, w = _weight_bias(n, root, what, 2)
    return "linear", {"out_features": int(weight[1].shape[0]), "bias": bias is not None}, w


def _conv2d(n: fx.Node, root: nn.Module):
    what = "F.conv2d"
    weight, bias, w = _weight_bias(n, root, what, 4)
    stride = int_or_pair(_const(n, 3, "stride", 1, what))
    pad = _const(n, 4, "padding", 0, what)
    dil = int_or_pair(_const(n, 5, "dilation", 1, what))
    groups = int(_const(n, 6, "groups", 1, what))
    pad = 0 if pad == "valid" else pad
    k = int_or_pair(tuple(weight[1].shape[2:]))
    p = {"out_channels": int(weight[1].shape[0]), "stride": stride, "groups": groups}
    p["bias"] = bias is not None
    if k == 1 and pad != "same" and int_or_pair(pad) == 0 and dil == 1:
        return "conv1x1", p, w
    p["kernel_size"] = k
    p["padding"] = "same" if pad == "same" else int_or_pair(pad)
    p["dilation"] = dil
    return "conv", p, w


def _conv_transpose2d(n: fx.Node, root: nn.Module):
    what = "F.conv_transpose2d"
    weight, bias, w = _weight_bias(n, root, what, 4)
    groups = int(_const(n, 6, "groups", 1, what))
    p = {
        "out_channels": int(weight[1].shape[1]) * groups,
        "kernel_size": int_or_pair(tuple(weight[1].shape[2:])),
        "stride": int_or_pair(_const(n, 3, "stride", 1, what)),
        "padding": int_or_pair(_const(n, 4, "padding", 0, what)),
        "output_padding": int_or_pair(_const(n, 5, "output_padding", 0, what)),
        "groups": groups,
        "bias": bias is not None,
        "dilation": int_or_pair(_const(n, 7, "dilation", 1, what)),
    }
    return "conv_transpose", p, w


def _prelu(n: fx.Node, root: nn.Module):
    weight = _tensor(n, 1, "weight", root, "F.prelu")
    if weight[1].dim() != 1:
        raise Refused(f"F.prelu with a weight of {weight[1].dim()} dimensions")
    return "prelu", {"num_parameters": int(weight[1].numel())}, {"weight": weight}


#: Functional calls on parameters → ``rule(node, root) -> (type, params, weights)``.
WEIGHTED: dict = {
    F.batch_norm: _batch_norm,
    torch.batch_norm: _batch_norm,
    F.linear: _linear,
    torch._C._nn.linear: _linear,
    F.conv2d: _conv2d,
    torch.conv2d: _conv2d,
    F.conv_transpose2d: _conv_transpose2d,
    F.prelu: _prelu,
    torch.prelu: _prelu,
    torch.conv_transpose2d: _conv_transpose2d,
}


def owner(weights: dict) -> str | None:
    """The module path all of a node's weights live under (``bn1``), if there is one."""
    owners = {target.rpartition(".")[0] for target, _ in weights.values()}
    return owners.pop() if len(owners) == 1 else None


def weight_inputs(n: fx.Node) -> list[fx.Node]:
    """The ``get_attr`` arguments a weighted call reads (they become the node's weights)."""
    return [a for a in n.all_input_nodes if a.op == "get_attr"]


def layer_owners(weights: dict, modules: dict) -> dict:
    """Weighted calls that stand for the module owning their weights: ``{node: path}``.

    A module whose only parameters are those of one functional call (timm's
    ``BatchNormAct2d``, ``Conv2dSame``, ``LayerNorm2d``; a user's module calling
    ``F.conv2d`` on its own weight) is imported as that layer: the node takes the module's
    path, and what else its ``forward`` does (activation, padding) sits beside it.
    """
    by_owner: dict[str, list] = {}
    for n, w in weights.items():
        path = owner(w)
        if path:
            by_owner.setdefault(path, []).append(n)
    out = {}
    for path, ns in by_owner.items():
        m = modules.get(path)
        if m is None or len(ns) != 1:
            continue
        own = {k for k, _ in m.named_parameters(recurse=False)}
        if own != {k for k, _ in m.named_parameters()}:
            continue  # children with weights: the module is a block, not a layer
        out[ns[0]] = path
    return out


def relocate(n: fx.Node, nid: str, scope: str | None, owners: dict, paths: set):
    """The id and scope of a node, moved out of a module imported as one layer.

    The layer's own node gets the module's path as id (``bn1``) in its parent's scope;
    a node made inside that module (its activation ``bn1.act``) moves to the same parent
    scope with the module's path as prefix (``bn1_act``).
    """
    if n in owners:
        path = owners[n]
        return path.replace(".", "_"), path.rpartition(".")[0] or None
    s = scope or ""
    for path in paths:
        if s == path or s.startswith(path + "."):
            stem = path.replace(".", "_")
            new_id = nid if nid.startswith(stem + "_") else f"{stem}_{nid}"
            rest = s[len(path) + 1 :] if s != path else ""
            parent = path.rpartition(".")[0]
            new_scope = ".".join(p for p in (parent, rest) if p) or None
            return new_id, new_scope
    return nid, scope
