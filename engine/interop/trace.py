"""Tracing a model with torch.fx at a concrete input size, keeping module paths and lines.

:class:`ScopeTracer` is ``torch.fx.Tracer`` with three additions:

- each created node records, in ``node.meta``, ``"cc_scope"`` (the dotted path of the
  module whose ``forward`` made it, ``"layer1.0"``) and ``"cc_where"`` (the user source
  location: the first frame outside torch);
- shapes are concrete: ``x.shape``, ``x.size()``, ``x.ndim``, ``len(x)`` … of a traced
  value are computed from the ``--input`` size (by running the graph so far on "meta"
  tensors, which hold shapes and no data), so Python control flow that depends only on
  shapes (timm's "same" padding, a size check) follows the path of that input size;
- a subclass of a ``torch.nn`` layer that keeps its base class's ``forward`` is a leaf,
  like the base; one with its own ``forward`` is traced into (see :func:`torch_base`).

:func:`trace` turns fx's failures into a :class:`~engine.interop.errors.TraceError`
naming the line.
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys
import traceback
from dataclasses import dataclass

import torch
from torch import fx, nn

from engine.interop.errors import TraceError

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep

# Modules outside torch.nn that are leaves: their inference behaviour is one node type.
LEAF_CLASS_NAMES = frozenset({"StochasticDepth"})

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
# Attributes and methods of a traced tensor answered with the concrete input size's value.
_SHAPE_ATTRS = frozenset({"shape", "ndim", "dtype", "is_cuda", "device"})
_SHAPE_METHODS = frozenset({"size", "dim", "ndimension", "numel", "nelement"})


@dataclass(frozen=True)
class Where:
    """A user source location: file, line and the line's text."""

    filename: str
    lineno: int

    @property
    def short(self) -> str:
        """``resnet.py:92``."""
        return f"{os.path.basename(self.filename)}:{self.lineno}"

    @property
    def text(self) -> str:
        """The source line, stripped (empty when unknown)."""
        return linecache.getline(self.filename, self.lineno).strip()


def _user_frame() -> Where | None:
    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if not name.startswith(_TORCH_DIR) and name != __file__:
            return Where(name, f.f_lineno)
        f = f.f_back
    return None


def torch_base(cls: type) -> type | None:
    """The first ``torch.nn`` layer class in ``cls``'s MRO (``None``: not a torch layer).

    Containers (``Sequential``, ``ModuleList``, ``ModuleDict``) and ``nn.Module`` itself do
    not count: ``torch_base(timm.layers.BatchNormAct2d)`` is ``nn.BatchNorm2d``.
    """
    for c in cls.__mro__:
        if c is nn.Module or c in _CONTAINERS:
            return None
        if c.__module__.startswith(("torch.nn.", "torch.ao.nn.")):
            return c
    return None


def is_grn(m: nn.Module) -> bool:
    """Whether ``m`` is ConvNeXt V2's GlobalResponseNorm over N×C×H×W (timm's class)."""
    if type(m).__name__ != "GlobalResponseNorm":
        return False
    # _parameters, not m.weight: while tracing, fx answers parameter reads with proxies.
    w, b = m._parameters.get("weight"), m._parameters.get("bias")
    return (
        tuple(getattr(m, "spatial_dim", ())) == (2, 3)
        and w is not None
        and b is not None
        and w.dim() == 1
    )


def has_own_forward(cls: type) -> bool:
    """Whether ``cls`` (a subclass of a torch layer) replaces its base class's ``forward``."""
    base = torch_base(cls)
    return base is not None and cls is not base and cls.forward is not base.forward


class ShapeProxy(fx.Proxy):
    """An fx proxy whose shape questions get the values of the concrete input size."""

    def __getattr__(self, k):
        if k in _SHAPE_ATTRS or k in _SHAPE_METHODS:
            value = self.tracer.concrete(self.node)
            if isinstance(value, torch.Tensor):
                if k == "device":
                    return torch.device("cpu")  # the model runs on the CPU; meta is ours
                return getattr(value, k)
        return super().__getattr__(k)

    def __len__(self) -> int:
        value = self.tracer.concrete(self.node)
        if isinstance(value, torch.Tensor):
            return len(value)
        if isinstance(value, (tuple, list)):
            return len(value)
        raise TypeError(f"len() of a traced {type(value).__name__}")

    def __iter__(self):
        value = self.tracer.concrete(self.node)
        if isinstance(value, (tuple, list)):
            return iter([self[i] for i in range(len(value))])
        raise TraceError("a traced tensor is iterated over (for ... in tensor)")


class ScopeTracer(fx.Tracer):
    """fx's tracer with module paths, source lines and concrete shapes.

    Parameters
    ----------
    input_size : (C, H, W), optional
        The size of every input (batch 1); without it, shape questions cannot be answered
        and fx's own error follows.
    """

    def __init__(self, input_size: tuple[int, int, int] | None = None) -> None:
        super().__init__()
        self.input_size = input_size
        self._values: dict = {}
        self._meta: dict = {}
        self._root: nn.Module | None = None
        self._evaluating = False
        self._paths: dict | None = None

    def trace(self, root, concrete_args=None):  # noqa: D102
        self._root = root if isinstance(root, nn.Module) else None
        self._values.clear()
        self._paths = None
        return super().trace(root, concrete_args)

    def proxy(self, node: fx.Node) -> fx.Proxy:  # noqa: D102
        return ShapeProxy(node, self)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        """torch.nn's layers, their subclasses that keep the base ``forward``, the modules
        of :data:`LEAF_CLASS_NAMES` and channels-first global response norms (timm's)."""
        cls = type(m)
        if cls.__name__ in LEAF_CLASS_NAMES or is_grn(m):
            return True
        base = torch_base(cls)
        if base is not None and cls is not base:
            return not has_own_forward(cls)
        return super().is_leaf_module(m, module_qualified_name)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):  # noqa: D102
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        node.meta["cc_scope"] = self.scope.module_path
        node.meta["cc_where"] = _user_frame()
        return node

    def to_bool(self, obj: fx.Proxy) -> bool:  # noqa: D102
        raise TraceError(_values_message(obj.node))

    # ------------------------------------------------------------------ concrete values
    def concrete(self, node: fx.Node):
        """The value of ``node`` for the concrete input size (meta tensors: shapes only)."""
        memo = self._values
        if node in memo:
            return memo[node]
        stack = [(node, False)]
        self._evaluating = True  # fx's patched Module.__call__/__getattr__ record nothing
        try:
            while stack:
                n, ready = stack.pop()
                if n in memo:
                    continue
                if ready:
                    memo[n] = self._evaluate(n)
                    continue
                stack.append((n, True))
                stack.extend((a, False) for a in n.all_input_nodes if a not in memo)
        finally:
            self._evaluating = False
        return memo[node]

    def call_module(self, m, forward, args, kwargs):  # noqa: D102
        if self._evaluating:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):  # noqa: D102
        if self._evaluating:
            return attr_val
        if not isinstance(attr_val, torch.Tensor):
            return attr_val
        # fx searches all of the model's parameters on every access (quadratic); a map
        # from each tensor to its path gives the same get_attr node at once.
        if self._paths is None:
            self._paths = {id(p): k for k, p in self._root.named_parameters()}
            if self.proxy_buffer_attributes:
                for k, b in self._root.named_buffers():
                    self._paths.setdefault(id(b), k)
        is_param = isinstance(attr_val, nn.Parameter)
        path = self._paths.get(id(attr_val))
        if path is None or not (is_param or self.proxy_buffer_attributes):
            return super().getattr(attr, attr_val, parameter_proxy_cache)
        if path not in parameter_proxy_cache:
            parameter_proxy_cache[path] = self.create_proxy("get_attr", path, (), {})
        return parameter_proxy_cache[path]

    def _to_meta(self, v):
        if isinstance(v, torch.Tensor) and v.device.type != "meta":
            key = id(v)
            if key not in self._meta:
                self._meta[key] = (v, v.detach().to("meta"))
            return self._meta[key][1]
        return v

    def _evaluate(self, n: fx.Node):
        memo = self._values
        args = fx.node.map_arg(n.args, memo.__getitem__)
        kwargs = fx.node.map_arg(n.kwargs, memo.__getitem__)
        if n.op == "placeholder":
            if n.args:  # an argument given its default value (see _defaults)
                return n.args[0]
            if self.input_size is None:
                raise TraceError("the input size is needed to answer a question about shapes")
            return torch.empty(1, *self.input_size, device="meta")
        if n.op == "get_attr":
            return self._to_meta(_fetch(self._root, str(n.target)))
        if _keeps_shape(n, self._root) and isinstance(args[0], torch.Tensor):
            return args[0]  # batch norm, activations: the input's shape (meta: no data)
        try:
            return self._run(n, args, kwargs, meta=True)
        except (NotImplementedError, RuntimeError, TypeError):
            # An operation without a meta kernel: run it on zeros of the same shapes.
            real = fx.node.map_aggregate(args, _zeros_like_meta)
            real_kw = fx.node.map_aggregate(kwargs, _zeros_like_meta)
            out = self._run(n, real, real_kw, meta=False)
            return fx.node.map_aggregate(out, self._to_meta)

    def _run(self, n: fx.Node, args, kwargs, meta: bool):
        if n.op == "call_module":
            mod = self._root.get_submodule(str(n.target))
            if not meta:
                return mod(*args, **kwargs)
            tensors = {k: self._to_meta(v) for k, v in mod.named_parameters()}
            tensors.update((k, self._to_meta(v)) for k, v in mod.named_buffers())
            return torch.func.functional_call(mod, tensors, tuple(args), dict(kwargs))
        if n.op == "call_method":
            obj, *rest = args
            return getattr(obj, str(n.target))(*rest, **kwargs)
        return n.target(*args, **kwargs)


_SAME_SHAPE_MODULES = (
    nn.BatchNorm2d,
    nn.ReLU,
    nn.ReLU6,
    nn.SiLU,
    nn.GELU,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Sigmoid,
    nn.Tanh,
    nn.LeakyReLU,
    nn.ELU,
    nn.Mish,
    nn.Identity,
    nn.Dropout,
)
_SAME_SHAPE_FUNCTIONS = frozenset(
    {
        torch.nn.functional.batch_norm,
        torch.nn.functional.relu,
        torch.nn.functional.relu6,
        torch.nn.functional.silu,
        torch.nn.functional.gelu,
        torch.nn.functional.hardswish,
        torch.nn.functional.hardsigmoid,
        torch.nn.functional.leaky_relu,
        torch.nn.functional.dropout,
        torch.relu,
        torch.sigmoid,
        torch.tanh,
    }
)


def _keeps_shape(n: fx.Node, root: nn.Module | None) -> bool:
    """Whether ``n`` gives a tensor of its first input's shape (elementwise, batch norm)."""
    if n.op == "call_module":
        return type(root.get_submodule(str(n.target))) in _SAME_SHAPE_MODULES
    if n.op == "call_function":
        return n.target in _SAME_SHAPE_FUNCTIONS and bool(n.args)
    return n.op == "call_method" and n.target in ("relu", "relu_", "sigmoid", "tanh")


def _zeros_like_meta(v):
    if isinstance(v, torch.Tensor) and v.device.type == "meta":
        return torch.zeros(v.shape, dtype=v.dtype)
    return v


def _fetch(root: nn.Module | None, target: str):
    obj = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _defaults(model: nn.Module) -> dict | None:
    """The arguments of ``forward`` that have defaults (``mask=None``, ``is_causal=False``):
    traced with those values, like the arguments of an ordinary call ``model(x)``."""
    try:
        sig = inspect.signature(type(model).forward)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    found = {
        k: p.default
        for k, p in list(sig.parameters.items())[1:]
        if p.kind in kinds and p.default is not inspect.Parameter.empty
    }
    return found or None


def _values_message(node: fx.Node) -> str:
    where = _user_frame()
    at = f" at {where.short}" if where else ""
    line = f" (`{where.text}`)" if where and where.text else ""
    return (
        f"cannot trace the model{at}{line}: its Python control flow (an if, a loop or a "
        f"conversion to a number) depends on the VALUES inside a tensor, not only on its "
        f"shape; a design runs the same operations for every input, so this cannot be "
        f"imported"
    )


def _failure_where(exc: BaseException) -> Where | None:
    where = None
    for fr in traceback.extract_tb(exc.__traceback__):
        if not fr.filename.startswith(_TORCH_DIR) and not fr.filename.startswith(
            os.path.dirname(__file__)
        ):
            where = Where(fr.filename, fr.lineno or 0)
    return where


def trace(model: nn.Module, input_size: tuple[int, int, int] | None = None) -> fx.Graph:
    """Trace ``model`` (in eval mode) into an fx graph with scopes and source locations.

    Parameters
    ----------
    model : torch.nn.Module
    input_size : (C, H, W), optional
        The concrete input size; questions about shapes in ``forward`` get its values.

    Raises
    ------
    TraceError
        If torch.fx cannot trace the model; the message names the user's line.
    """
    tracer = ScopeTracer(input_size)
    try:
        graph = tracer.trace(model, concrete_args=_defaults(model))
    except TraceError as exc:
        raise TraceError(exc.message) from None
    except Exception as exc:  # noqa: BLE001 - fx raises many kinds; all are reported
        where = _failure_where(exc)
        at = f" at {where.short}" if where else ""
        line = f" (`{where.text}`)" if where and where.text else ""
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "iterated" in msg:
            why = "a traced tensor is iterated over (for ... in tensor), which cannot be traced"
        else:
            why = f"{type(exc).__name__}: {msg}"
        raise TraceError(f"cannot trace the model{at}{line}: {why}") from None
    graph.cc_concrete = tracer.concrete  # shapes for the import's patterns (lazy, memoised)
    return graph
