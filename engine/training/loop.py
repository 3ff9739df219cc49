"""Training a design: the checks, the loop (AdamW, warm-up + cosine) and the result.

:func:`train` builds the graph's module (:func:`engine.runtime.build.build_module`, so the
trained ``state_dict`` has the exported code's keys), trains it with cross-entropy on a
:class:`~engine.training.data.Dataset` and measures held-out accuracy. ``train()`` /
``eval()`` switch BatchNorm and Dropout; the same seed, data and thread count give the
same weights for a ``--steps`` budget. A ``--seconds`` budget runs until the time is up
and schedules the learning rate by elapsed time (warm-up over the first 5 %, then the
cosine), so its step count, and its weights, depend on the machine's speed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from engine.analysis.analyzer import Analysis, analyze
from engine.analysis.head import head_problem
from engine.core.errors import EngineError
from engine.core.graph import GraphLike
from engine.recipes.defaults import (
    DEFAULT_BATCH,
    DEFAULT_LR,
    DEFAULT_SECONDS,
    SHAPES_HELD_OUT,
    SHAPES_TRAIN,
    WEIGHT_DECAY,
)
from engine.recipes.schedule import lr_at, lr_at_fraction
from engine.training.data import Dataset, load_data

EVAL_BATCH = 256
#: Held-out images evaluated for the live curve (the final accuracy uses all of them).
LIVE_EVAL = 256
#: Fewest steps between two live evaluations of a time budget.
MIN_EVAL_GAP = 5


class TrainError(EngineError):
    """Training is refused: bad settings, no classifier head, or data that does not fit."""


@dataclass(frozen=True)
class TrainConfig:
    """What to train on and for how long.

    ``steps`` and ``seconds`` are exclusive; with neither, ``seconds`` is
    :data:`DEFAULT_SECONDS`.
    """

    data: str = "shapes"
    steps: int | None = None
    seconds: float | None = None
    batch: int = DEFAULT_BATCH
    lr: float = DEFAULT_LR
    seed: int = 0
    held_out: float = 0.2
    evals: int = 20  # held-out points on the live curve (0: none, only the final accuracy)
    shapes_train: int = SHAPES_TRAIN  # size of the shapes training pool
    shapes_held_out: int = SHAPES_HELD_OUT


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes
    ----------
    state : dict of str to numpy.ndarray
        The trained ``state_dict`` (exported-code keys), copies.
    classes : tuple of str
    accuracy : float
        On the whole held-out set (``nan`` when it is empty).
    held_out : int
        Held-out images.
    steps : int
    seconds : float
        Wall time of the steps (data preparation not included).
    samples_per_second : float
    history : list of (step, loss, batch accuracy)
    evals : list of (step, held-out accuracy on up to :data:`LIVE_EVAL` images)
    data : str
        The data set's one-line description.
    skipped : int
        Unreadable images left out.
    cancelled : bool
    localisation : dict
        Filled by the training worker after a shapes run
        (:func:`engine.training.job.localisation_table`): hit rates of every localisation
        method, random against trained weights; empty otherwise.
    """

    state: dict
    classes: tuple
    accuracy: float
    held_out: int
    steps: int
    seconds: float
    samples_per_second: float
    history: list = field(default_factory=list)
    evals: list = field(default_factory=list)
    data: str = ""
    data_name: str = ""
    skipped: int = 0
    cancelled: bool = False
    localisation: dict = field(default_factory=dict)
    maps: dict = field(default_factory=dict)  # always empty: the worker loop looks for maps


def check_config(config: TrainConfig) -> None:
    """Raise :class:`TrainError` naming the bad setting (budget, batch, lr, held-out)."""
    if config.steps is not None and config.seconds is not None:
        raise TrainError("give either a number of steps or a number of seconds, not both")
    if config.steps is not None and (isinstance(config.steps, bool) or config.steps < 1):
        raise TrainError(f"--steps must be a positive integer, got {config.steps}", None, "steps")
    if config.seconds is not None and not (
        math.isfinite(config.seconds) and 0 < config.seconds <= 7 * 24 * 3600
    ):
        raise TrainError(
            f"--seconds must be a positive number of seconds, got {config.seconds:g}",
            None,
            "seconds",
        )
    if not (math.isfinite(config.lr) and 0 < config.lr <= 10):
        raise TrainError(
            f"--lr must be a positive finite learning rate (e.g. 0.003), got {config.lr:g}",
            None,
            "lr",
        )
    if isinstance(config.batch, bool) or not 1 <= config.batch <= 65536:
        raise TrainError(f"--batch must be between 1 and 65536, got {config.batch}", None, "batch")
    if not 0.0 <= config.held_out <= 0.9:
        raise TrainError(f"the held-out fraction must be in [0, 0.9], got {config.held_out}")


def check_graph(graph: GraphLike) -> tuple[Analysis, str]:
    """Analyse ``graph``; refuse errors and anything but one input. Returns ``(analysis, input)``."""
    analysis = analyze(graph)
    if not analysis.order:
        raise TrainError("the graph is empty; start from the Tiny CNN template")
    if analysis.errors:
        lines = "\n".join(f"  - {m}" for _, m in analysis.errors)
        raise TrainError(
            f"the graph has {len(analysis.errors)} error(s); fix them before training:\n{lines}",
            analysis.errors[0][0],
        )
    g = analysis.graph
    inputs = [n for n in analysis.order if g.nodes[n]["type"] == "input"]
    if len(inputs) != 1:
        raise TrainError(f"training needs exactly one input node; the graph has {len(inputs)}")
    return analysis, inputs[0]


def _batches(n: int, batch: int, rng: np.random.Generator):
    """Endless index batches: a fresh permutation each epoch, batches never cross epochs."""
    batch = min(batch, n)
    while True:
        perm = rng.permutation(n)
        for i in range(0, n - batch + 1, batch):
            yield perm[i : i + batch]


def _to_input(images: np.ndarray, channels: int, mean: torch.Tensor, std: torch.Tensor, idx):
    """uint8 ``(B, H, W, K)`` → the float32 network input (same numbers as ``normalise``).

    One uint8 gather and transpose, one float conversion, then in-place ``/255``, ``-mean``,
    ``/std``: the arithmetic of :func:`engine.runtime.images.preprocess`, bit for bit.
    """
    x = torch.from_numpy(images[idx]).permute(0, 3, 1, 2).contiguous().float()
    if channels != 1 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1).contiguous()
    x.div_(255).sub_(mean).div_(std)
    if channels not in (1, 3):
        x = x[:, torch.arange(channels) % 3].contiguous()
    return x


def _norm_tensors(channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    from engine.runtime.images import (
        IMAGENET_MEAN,
        IMAGENET_MEAN_GRAY,
        IMAGENET_STD,
        IMAGENET_STD_GRAY,
    )

    if channels == 1:
        return (
            torch.tensor(IMAGENET_MEAN_GRAY).view(1, 1, 1, 1),
            torch.tensor(IMAGENET_STD_GRAY).view(1, 1, 1, 1),
        )
    return torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def evaluate(module: torch.nn.Module, data: Dataset, limit: int | None = None) -> float:
    """Held-out accuracy of ``module`` (in eval mode; its mode is restored)."""
    n = len(data.held_y) if limit is None else min(limit, len(data.held_y))
    if n == 0:
        return float("nan")
    mean, std = _norm_tensors(data.channels)
    was = module.training
    module.eval()
    right = 0
    with torch.inference_mode():
        for i in range(0, n, EVAL_BATCH):
            idx = np.arange(i, min(n, i + EVAL_BATCH))
            out = module(_to_input(data.held_x, data.channels, mean, std, idx))
            right += int((out.argmax(1).numpy() == data.held_y[idx]).sum())
    module.train(was)
    return right / n


def prepare(graph: GraphLike, config: TrainConfig, data: Dataset | None = None):
    """Check settings, graph and data; return ``(analysis, input_node, dataset)``."""
    check_config(config)
    analysis, inp = check_graph(graph)
    c, h, w = analysis.nodes[inp].shape
    if data is None:
        data = load_data(
            config.data,
            (h, w),
            c,
            config.seed,
            config.held_out,
            inp,
            shapes=(config.shapes_train, config.shapes_held_out),
        )
    elif data.train_x.shape[1:3] != (h, w):
        raise TrainError(
            f"the data's images are {data.train_x.shape[1]}×{data.train_x.shape[2]}, the "
            f"input node '{inp}' takes {h}×{w}"
        )
    problem = head_problem(analysis, len(data.classes))
    if problem:
        raise TrainError(problem)
    if len(data.train_y) == 0:
        raise TrainError(f"{data.name}: no training images left after the held-out split")
    return analysis, inp, data


def _step(module, opt, x, y, lr):
    for group in opt.param_groups:
        group["lr"] = lr
    out = module(x)
    loss = F.cross_entropy(out, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss, out


def train(
    graph: GraphLike,
    config: TrainConfig = TrainConfig(),
    progress: Callable[[dict], None] | None = None,
    data: Dataset | None = None,
    init_state: dict | None = None,
) -> TrainResult:
    """Train the graph as a classifier.

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        Must end in a linear layer with one output per class.
    config : TrainConfig
    progress : callable, optional
        Called after every step with ``{"step", "total", "loss", "acc", "elapsed"}``
        (plus ``"held_out"`` at live evaluation points). It may raise to stop training
        (the exception propagates).
    data : Dataset, optional
        Use this data instead of loading ``config.data``.
    init_state : dict, optional
        Start from these weights (a state dict, exported-code keys) instead of the
        seeded random ones.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainError
        Bad settings, graph errors, no classifier head or a wrong class count.
    DataError, ImageError
        The data cannot be used.
    """
    from engine.runtime.build import build_module

    analysis, _inp, data = prepare(graph, config, data)
    module = build_module(graph, seed=config.seed, analysis=analysis)
    if init_state:
        module.load_state_dict({k: torch.as_tensor(v) for k, v in init_state.items()}, strict=False)
    mean, std = _norm_tensors(data.channels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        batches = _batches(len(data.train_y), config.batch, rng)
        timed = config.steps is None
        budget = (
            (DEFAULT_SECONDS if config.seconds is None else float(config.seconds)) if timed else 0.0
        )
        # A step budget schedules by step (reproducible); a time budget by elapsed time.
        total = int(config.steps) if not timed else None
        eval_every = max(1, total // max(1, config.evals)) if total else None
        next_eval = budget / max(1, config.evals)
        opt = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=WEIGHT_DECAY)
        module.train()
        history: list = []
        evals: list = []
        seen = 0
        t0 = time.perf_counter()
        step = 0
        last_eval = 0
        while True:
            elapsed = time.perf_counter() - t0
            if timed:
                if elapsed >= budget:
                    break
                lr = lr_at_fraction(elapsed / budget, config.lr)
            else:
                if step >= total:
                    break
                lr = lr_at(step, total, config.lr)
            idx = next(batches)
            x = _to_input(data.train_x, data.channels, mean, std, idx)
            y = torch.from_numpy(data.train_y[idx])
            loss, out = _step(module, opt, x, y, lr)
            step += 1
            seen += len(idx)
            loss_v = float(loss.detach())
            acc = float((out.detach().argmax(1) == y).float().mean())
            history.append((step, loss_v, acc))
            elapsed = time.perf_counter() - t0
            if timed:
                shown_total = max(step, round(step * budget / max(elapsed, 1e-9)))
                # Live evaluations: every 1/evals of the time, but never closer than
                # MIN_EVAL_GAP steps (slow steps must not turn into evaluations).
                due = config.evals > 0 and (
                    (elapsed >= next_eval and step - last_eval >= MIN_EVAL_GAP) or elapsed >= budget
                )
                if due:
                    next_eval = elapsed + budget / max(1, config.evals)
            else:
                shown_total = total
                due = config.evals > 0 and (step % eval_every == 0 or step == total)
            info = {
                "step": step,
                "total": shown_total,
                "loss": loss_v,
                "acc": acc,
                "elapsed": elapsed,
            }
            if due:
                last_eval = step
                held = evaluate(module, data, LIVE_EVAL)
                evals.append((step, held))
                info["held_out"] = held
            if timed and elapsed >= budget:
                info["total"] = step
            if progress is not None:
                progress(info)
        seconds_used = time.perf_counter() - t0
        module.eval()
        accuracy = evaluate(module, data)
    state = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    return TrainResult(
        state=state,
        classes=tuple(data.classes),
        accuracy=accuracy,
        held_out=int(len(data.held_y)),
        steps=step,
        seconds=seconds_used,
        samples_per_second=seen / max(seconds_used, 1e-9),
        history=history,
        evals=evals,
        data=data.describe(),
        data_name=data.name,
        skipped=len(data.skipped),
    )
