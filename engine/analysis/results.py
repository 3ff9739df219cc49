"""Per-node and whole-network results of the analysis (plain data, no graph logic)."""

from __future__ import annotations

from engine.nodes import fmt_shape


class NodeResult:
    """What the analysis says of one node.

    Attributes
    ----------
    shape : tuple or None
        ``(C, H, W)`` or ``(F,)``; ``None`` when the node is in error or waiting.
    weights, biases, other : int
        Learnable parameters: conv/linear weight tensors, their biases, and the rest (BN).
    macs : int
        Multiply-accumulates of one forward pass (conv and linear).
    activation_bytes : int
        Size of the output tensor in float32.
    rf : tuple or None
        ``((size_h, jump_h, start_h), (size_w, jump_w, start_w))`` in input pixels.
    error : str or None
        Why this node has no output, naming the node and what to do.
    waiting_on : str or None
        The broken upstream node this node waits on.
    depth : int
        Longest path from an input, in nodes (inputs have depth 0).
    """

    __slots__ = (
        "shape",
        "weights",
        "biases",
        "other",
        "macs",
        "activation_bytes",
        "rf",
        "error",
        "waiting_on",
        "depth",
    )

    def __init__(
        self,
        shape: tuple[int, ...] | None = None,
        weights: int = 0,
        biases: int = 0,
        other: int = 0,
        macs: int = 0,
        activation_bytes: int = 0,
        rf: tuple | None = None,
        error: str | None = None,
        waiting_on: str | None = None,
        depth: int = 0,
    ) -> None:
        self.shape = shape
        self.weights = weights
        self.biases = biases
        self.other = other
        self.macs = macs
        self.activation_bytes = activation_bytes
        self.rf = rf
        self.error = error
        self.waiting_on = waiting_on
        self.depth = depth

    @property
    def params(self) -> int:
        """All learnable parameters of the node, as torch counts them."""
        return self.weights + self.biases + self.other

    @property
    def ok(self) -> bool:
        """Whether the node has an output."""
        return self.shape is not None

    def same_output(self, other: NodeResult) -> bool:
        """Whether the parts that successors read (shape, rf, state, depth) are equal."""
        return (
            self.shape == other.shape
            and self.rf == other.rf
            and self.error == other.error
            and self.waiting_on == other.waiting_on
            and self.depth == other.depth
        )

    def to_dict(self, node: str, type_name: str) -> dict:
        """The JSON form used by ``main.py summary --json``."""
        rf = None
        if self.rf is not None:
            (sh, jh, st_h), (sw, jw, st_w) = self.rf
            rf = {"size": [sh, sw], "jump": [jh, jw], "start": [st_h, st_w]}
        error = self.error
        if error is None and self.waiting_on is not None:
            error = f"waiting on '{self.waiting_on}'"
        return {
            "id": node,
            "type": type_name,
            "shape": list(self.shape) if self.shape is not None else None,
            "params": self.params,
            "weights": self.weights,
            "biases": self.biases,
            "macs": self.macs,
            "activation_bytes": self.activation_bytes,
            "rf": rf,
            "error": error,
        }

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        state = self.error or (f"waiting on {self.waiting_on}" if self.waiting_on else "ok")
        return f"NodeResult({fmt_shape(self.shape)}, params={self.params}, {state})"


class Totals:
    """Whole-network sums over the nodes that have an output."""

    __slots__ = (
        "params",
        "weights",
        "biases",
        "other",
        "macs",
        "activation_bytes",
        "peak_activation_bytes",
        "output_rf",
        "output",
    )

    def __init__(self) -> None:
        self.params = self.weights = self.biases = self.other = 0
        self.macs = self.activation_bytes = self.peak_activation_bytes = 0
        self.output_rf = None
        self.output: str | None = None

    def to_dict(self) -> dict:
        """The JSON form used by ``main.py summary --json``."""
        return {
            "params": self.params,
            "weights": self.weights,
            "biases": self.biases,
            "macs": self.macs,
            "activation_bytes": self.activation_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
        }
