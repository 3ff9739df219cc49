"""``python main.py train FILE|--template NAME --data shapes|DIR [--steps N | --seconds S] [--weights INIT] -o WEIGHTS``.

Trains the design as a classifier (see :mod:`engine.training.loop`) on the built-in
``shapes`` data or a folder with one subfolder per class, shows progress (a bar on a
terminal, plain lines otherwise), writes the weights (``.safetensors`` by default, ``.pt``
by suffix; the exported code's ``state_dict`` keys) and ends with
``held-out accuracy: 0.973``. ``--weights INIT`` fine-tunes: training starts from that
file (:func:`engine.training.init.initial_state`; a head of another class count starts
random, with a note). Exit status 0 trained, 1 refused (graph errors, no
classifier head, wrong class count, data that does not fit the input, a class without
images), 2 unreadable input or bad usage (missing graph or data folder, bad numbers, an
unwritable output).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from cli import load_graph_arg, tolerant_stdout
from cli.safety import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNREADABLE,
    data_arg_problem,
    escape,
    int_range,
    output_file_problem,
    remove_stale_temporaries,
    report,
    seed,
)

BAR = 30


def _positive(what: str, hi: float):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0 or value > hi:
            raise argparse.ArgumentTypeError(
                f"{what} must be a positive finite number (at most {hi:g}), got {escape(text[:40])!r}"
            )
        return value

    parse.__name__ = what
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` arguments to ``parser``."""
    parser.add_argument("file", nargs="?", help="a .json graph file")
    parser.add_argument("--template", metavar="NAME", help="a built-in template (e.g. tiny_cnn)")
    parser.add_argument("--data", required=True, help="'shapes' or a folder of class subfolders")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int_range(1, 10_000_000, "--steps"), help="optimiser steps")
    budget.add_argument(
        "--seconds",
        type=_positive("--seconds", 7 * 24 * 3600),
        help="time budget in seconds (default 120 when --steps is not given)",
    )
    parser.add_argument(
        "--batch", type=int_range(1, 65536, "--batch"), default=64, help="batch size (64)"
    )
    parser.add_argument(
        "--lr", type=_positive("--lr", 10.0), default=3e-3, help="peak learning rate (0.003)"
    )
    parser.add_argument(
        "--seed", type=seed, default=0, help="seed of weights, batches and split (0)"
    )
    parser.add_argument(
        "--held-out",
        type=float,
        default=0.2,
        help="fraction of a folder's images kept for the accuracy (0.2)",
    )
    parser.add_argument(
        "--threads",
        type=int_range(0, 256, "--threads"),
        default=0,
        help="torch threads (0: torch's default)",
    )
    parser.add_argument("-o", "--output", required=True, help="weights file (.safetensors or .pt)")
    parser.add_argument(
        "--weights",
        metavar="INIT",
        help="fine-tune: start from these weights (.safetensors, .pt or .pth; torchvision's "
        "keys fit its templates) instead of random ones; a head of another class count "
        "starts random",
    )


class _Progress:
    """A bar on a terminal, a plain line every tenth otherwise."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_line = 0
        self.last_draw = 0.0
        self.held = None

    def __call__(self, info: dict) -> None:
        if "held_out" in info:
            self.held = info["held_out"]
        step, total = info["step"], info["total"]
        held = f"  held-out {self.held:.3f}" if self.held is not None else ""
        text = (
            f"step {step}/{total}  loss {info['loss']:.4f}  batch acc {info['acc']:.3f}"
            f"{held}  {info['elapsed']:.0f} s"
        )
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw < 0.1 and step != total:
                return
            self.last_draw = now
            done = round(BAR * step / total)
            self.stream.write(f"\r[{'#' * done}{'.' * (BAR - done)}] {text}\x1b[K")
            if step == total:
                self.stream.write("\n")
            self.stream.flush()
        elif step * 10 // total > self.last_line or step == total:
            self.last_line = step * 10 // total
            print(text, file=self.stream, flush=True)

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Train and write the weights; return the exit status."""
    tolerant_stdout()
    from engine.core.errors import EngineError, FormatError

    if not 0.0 <= args.held_out <= 0.9:
        print(f"train: --held-out must be between 0 and 0.9, got {args.held_out}", file=sys.stderr)
        return EXIT_UNREADABLE
    out = Path(args.output)
    if out.is_dir():
        print(f"train: -o '{escape(out)}' is a folder; give a weights file name", file=sys.stderr)
        return EXIT_UNREADABLE
    if not out.parent.exists():
        print(f"train: the folder of '{escape(out)}' does not exist", file=sys.stderr)
        return EXIT_UNREADABLE
    if out.suffix.lower() not in (".safetensors", ".pt", ".pth"):
        print(
            f"train: -o '{escape(out.name)}' must end in .safetensors, .pt or .pth (the "
            f"weights file; the design is not written)",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    problem = output_file_problem(out)
    if problem:  # found before minutes of training, not after
        print(f"train: cannot write '{escape(out)}': {escape(problem)}", file=sys.stderr)
        return EXIT_UNREADABLE
    for stale in remove_stale_temporaries(out):
        print(f"train: removed a stale temporary file {escape(stale)}", file=sys.stderr)
    problem = data_arg_problem("train", args.data, "one subfolder per class")
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        model, source = load_graph_arg(args)
    except FormatError as exc:
        report("train", exc)
        return EXIT_UNREADABLE

    import torch

    from engine.runtime.weights import save_state
    from engine.training.loop import TrainConfig, train
    from engine.weights.files import weights_meta

    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(
        data=args.data,
        steps=args.steps,
        seconds=args.seconds,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        held_out=args.held_out,
    )
    init = None
    if args.weights is not None:
        from engine.training.init import initial_state

        try:
            init, notes = initial_state(model, args.weights)
        except EngineError as exc:
            report("train", exc)
            unreadable = not (
                getattr(exc, "missing", None)
                or getattr(exc, "unexpected", None)
                or getattr(exc, "mismatched", None)
            )
            return EXIT_UNREADABLE if unreadable else EXIT_REFUSED
        for note in notes:
            print(escape(note), file=sys.stderr)
    bar = _Progress(sys.stderr)
    print(
        f"training {escape(source)} on {escape(args.data)} ({torch.get_num_threads()} threads)",
        flush=True,
    )
    try:
        result = train(model, config, progress=bar, init_state=init)
    except EngineError as exc:
        report("train", exc)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        bar.end()
        print("train: interrupted; no weights written", file=sys.stderr)
        return EXIT_REFUSED
    if result.steps == 0:
        print(
            f"train: no optimiser step fitted in {args.seconds:g} s; no weights written "
            f"(give more --seconds, or --steps)",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    meta = weights_meta(result, seed=args.seed)
    try:
        save_state(result.state, out, metadata=meta)
    except OSError as exc:
        print(
            f"train: cannot write '{escape(out)}': {escape(exc.strerror or exc)}", file=sys.stderr
        )
        return EXIT_UNREADABLE
    print(escape(result.data))
    print(
        f"{result.steps} steps in {result.seconds:.1f} s ({result.samples_per_second:.0f} samples/s); "
        f"weights written to {escape(out)}"
    )
    if math.isfinite(result.accuracy):
        print(f"held-out accuracy: {result.accuracy:.3f}")
    else:
        print("held-out accuracy: not measured (no held-out images; --held-out 0)")
    return EXIT_OK
