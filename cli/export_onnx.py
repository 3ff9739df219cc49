"""``python main.py export FILE -o model.onnx [--opset N] [--fold] [--seed S | --weights W]``.

Builds the design's torch model with its weights (``--weights FILE``, else the weights
file the design names beside it, else random weights from ``--seed``) and writes it with
``torch.onnx.export`` (:mod:`engine.interop.onnx_export`): initialisers named by the
state-dict keys, BatchNorm kept (``--fold`` fuses it), dynamic batch, the chosen opset.
Exit status: 0 written; 1 the graph cannot be built, the weights do not fit, or the
``onnx``/``onnxscript`` packages are missing (the message gives the install command);
2 the graph or weights cannot be read or the output cannot be written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cli.safety import EXIT_REFUSED, EXIT_UNREADABLE, escape, int_range, report


def add_onnx_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ONNX options to the ``export`` command."""
    parser.add_argument(
        "--format",
        choices=("python", "onnx"),
        help="python (default) or onnx (the default when OUT ends in .onnx)",
    )
    parser.add_argument(
        "--opset", type=int_range(18, 23, "opset"), default=18, help="ONNX opset (18 to 23)"
    )
    parser.add_argument(
        "--fold",
        action="store_true",
        help="ONNX: fuse BatchNorm into the convolutions (for deployment)",
    )
    parser.add_argument(
        "--seed",
        type=int_range(0, 2**63 - 1, "seed"),
        default=0,
        help="ONNX: seed of the random weights (default 0)",
    )
    parser.add_argument(
        "--weights",
        metavar="FILE",
        help="ONNX: weights to carry (.safetensors or .pt state dict); default: the "
        "design's own weights file if it names one, else random weights from --seed",
    )
    parser.add_argument(
        "--weights-partial",
        action="store_true",
        help="ONNX: layers the --weights file lacks keep their random weights from --seed",
    )


def wants_onnx(args: argparse.Namespace) -> bool:
    """Whether the command writes ONNX (``--format onnx`` or an ``.onnx`` output)."""
    fmt = getattr(args, "format", None)
    if fmt is not None:
        return fmt == "onnx"
    return str(getattr(args, "output", "")).lower().endswith(".onnx")


def _design_weights(path: str) -> tuple[dict | None, str]:
    from engine.core.fileformat import read_weights_ref
    from engine.weights.files import load_design_weights

    try:
        ref = read_weights_ref(path)
    except Exception:  # a bad entry was reported when loading the design
        return None, ""
    if ref is None:
        return None, ""
    state, _meta = load_design_weights(path, ref)
    return state, f"weights {ref['file']}"


def run_onnx(args: argparse.Namespace) -> int:
    """Export ``args.file`` as ONNX to ``args.output``; return the exit status."""
    from cli import load_graph_arg
    from engine.core.errors import FormatError

    if args.output == "-":
        print("export: ONNX is binary; give the file with -o model.onnx", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        model, source_name = load_graph_arg(args)
    except FormatError as exc:
        report("export", exc)
        return EXIT_UNREADABLE
    name = escape(Path(source_name).name if args.template is None else source_name)
    from engine.interop.onnx_export import INSTALL_HINT, missing_packages

    missing = missing_packages()
    if missing:
        print(
            f"export: ONNX export needs the {' and '.join(missing)} package(s); install "
            f"with:\n  {INSTALL_HINT}",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    from engine.codegen.emit import InvalidGraphError
    from engine.interop.onnx_export import OnnxExportError, export_onnx
    from engine.runtime.weights import WeightsError, read_state_dict
    from engine.weights.files import DesignWeightsError

    t0 = time.perf_counter()
    try:
        if args.weights:
            state, source = read_state_dict(args.weights), f"weights {Path(args.weights).name}"
        elif args.file is not None:
            state, source = _design_weights(args.file)
        else:  # a template: random weights
            state, source = None, ""
        info = export_onnx(
            model, args.output, seed=args.seed, state=state, opset=args.opset, fold=args.fold,
            strict=state is not None and not getattr(args, "weights_partial", False),
        )  # fmt: skip
    except (WeightsError, DesignWeightsError) as exc:
        report("export", exc)
        return EXIT_UNREADABLE if isinstance(exc, DesignWeightsError) else EXIT_REFUSED
    except InvalidGraphError as exc:
        report(f"export: {name}", exc)
        return EXIT_REFUSED
    except OnnxExportError as exc:
        report("export", exc)
        return EXIT_REFUSED
    except OSError as exc:
        print(f"export: cannot write {escape(args.output)}: {escape(exc.strerror or exc)}",
              file=sys.stderr)  # fmt: skip
        return EXIT_UNREADABLE
    print(
        f"wrote {escape(info.path)} (ONNX opset {info.opset}, {info.nodes} nodes, "
        f"{info.parameters:,} parameters, {source or f'random weights, seed {args.seed}'}"
        f"{', BatchNorm folded' if info.folded else ''}; {time.perf_counter() - t0:.1f} s)"
    )
    return 0
