"""``python main.py compare FILE FILE... [--json]``: totals of designs side by side.

The first design is the baseline (or ``--baseline N``); every other design's column
shows its value and the change against the baseline, absolute and in percent.
``--template NAME`` (repeatable) adds built-in templates after the files.

Exit status: 0 ok, 1 when a design has errors (stderr names the design, the node and
the error; nothing is printed on stdout), 2 when a file cannot be read or the
arguments are wrong.
"""

from __future__ import annotations

import argparse
import json
import sys

from cli import tolerant_stdout
from engine.analysis.compare import Comparison, compare
from engine.core.errors import FormatError
from engine.formatting import fmt_bytes, fmt_compact, fmt_int, fmt_percent, fmt_signed
from engine.nodes import fmt_shape

#: Rows of the text table: (label, totals key, kind) — kind says how to print it.
ROWS = (
    ("params", "params", "count"),
    ("weights", "weights", "count"),
    ("biases", "biases", "count"),
    ("MACs", "macs", "compact"),
    ("activation memory", "activation_bytes", "bytes"),
    ("peak activation memory", "peak_activation_bytes", "bytes"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``compare`` arguments to ``parser``."""
    parser.add_argument("files", nargs="*", metavar="FILE", help=".json graph files")
    parser.add_argument(
        "--template",
        metavar="NAME",
        action="append",
        default=[],
        help="add a built-in template (repeatable), e.g. --template resnet_bottleneck",
    )
    parser.add_argument(
        "--baseline",
        type=int,
        default=0,
        metavar="N",
        help="index of the baseline design (default 0: the first)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON instead of the table"
    )


def _load_all(args: argparse.Namespace) -> tuple[list, list[str]]:
    """The models and their sources, files first; raises FormatError naming the file."""
    from engine.core.fileformat import load
    from engine.templates import TEMPLATES

    models, sources = [], []
    for path in args.files:
        models.append(load(path))
        sources.append(path)
    for key in args.template:
        if key not in TEMPLATES:
            raise FormatError(f"unknown template {key!r} (known: {', '.join(TEMPLATES)})")
        models.append(TEMPLATES[key].builder())
        sources.append(f"template {key}")
    return models, sources


def _value(kind: str, n: int) -> str:
    if kind == "bytes":
        return fmt_bytes(n)
    if kind == "compact":
        return fmt_compact(n)
    return fmt_int(n)


def _delta(kind: str, d: int, base: int) -> str:
    if d == 0:
        return "±0"
    text = fmt_signed(d) if kind == "count" else ("+" if d > 0 else "") + _value(kind, d)
    pct = fmt_percent(d, base)
    return f"{text} ({pct})" if pct else text


def rf_text(rf) -> str:
    """A receptive field in short: ``7×7, jump 2`` (``-`` if unknown)."""
    if rf is None:
        return "-"
    (sh, jh, _), (sw, jw, _) = rf
    jump = f"{jh}" if jh == jw else f"{jh}×{jw}"
    return f"{sh}×{sw}, jump {jump}"


def rows(comp: Comparison) -> list[list[str]]:
    """The table as text cells: a header row, then one row per quantity.

    Each non-baseline design has a value column and a change column.
    """
    b = comp.baseline
    header = [""]
    for i, d in enumerate(comp.designs):
        header.append(d.name + (" (baseline)" if i == b else ""))
        if i != b:
            header.append("change")
    out = [header]
    base = comp.designs[b]
    for label, key, kind in ROWS:
        row = [label]
        for i, d in enumerate(comp.designs):
            row.append(_value(kind, d.totals[key]))
            if i != b:
                row.append(_delta(kind, d.totals[key] - base.totals[key], base.totals[key]))
        out.append(row)
    extra = (
        ("output receptive field", lambda d: rf_text(d.output_rf), lambda d: d.output_rf),
        ("output shape", lambda d: fmt_shape(d.output_shape), lambda d: d.output_shape),
        ("depth (nodes)", lambda d: str(d.depth), lambda d: d.depth),
        ("conv/linear layers", lambda d: str(d.layers), lambda d: d.layers),
    )
    for label, text, raw in extra:
        row = [label]
        for i, d in enumerate(comp.designs):
            row.append(text(d))
            if i != b:
                same = raw(d) == raw(base)
                if isinstance(raw(d), int) and not same:
                    row.append(fmt_signed(raw(d) - raw(base)))
                elif (
                    label == "output receptive field"
                    and not same
                    and d.output_rf
                    and base.output_rf
                ):
                    grew = (
                        d.output_rf[0][0] * d.output_rf[1][0]
                        > base.output_rf[0][0] * base.output_rf[1][0]
                    )
                    row.append("larger" if grew else "smaller")
                else:
                    row.append("same" if same else "differs")
        out.append(row)
    return out


def table(comp: Comparison) -> str:
    """The comparison as an aligned text table (numbers right-aligned)."""
    cells = rows(comp)
    widths = [max(len(r[c]) for r in cells) for c in range(len(cells[0]))]
    lines = []
    for k, r in enumerate(cells):
        parts = [r[0].ljust(widths[0])]
        parts += [cell.rjust(w) for cell, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the comparison; return the exit status (0 ok, 1 invalid design, 2 unreadable)."""
    tolerant_stdout()
    try:
        models, sources = _load_all(args)
    except FormatError as exc:
        print(f"compare: {exc.message}", file=sys.stderr)
        return 2
    if len(models) < 2:
        print("compare: give at least two designs (FILEs or --template NAMEs)", file=sys.stderr)
        return 2
    if not 0 <= args.baseline < len(models):
        print(
            f"compare: --baseline {args.baseline} is not one of the {len(models)} designs "
            f"(0 to {len(models) - 1})",
            file=sys.stderr,
        )
        return 2
    comp = compare(models, [m.name for m in models], sources, args.baseline)
    bad = [d for d in comp.designs if d.errors]
    if bad:
        for d in bad:
            print(
                f"compare: design {d.name!r} ({d.file}) has {len(d.errors)} error(s):",
                file=sys.stderr,
            )
            for node, message in d.errors:
                print(f"  {node}: {message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(comp.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(table(comp))
    return 0
