"""``python main.py summary FILE [--json]``: per-node table and totals of a graph file.

Exit status: 0 when every node has an output, 1 when the graph has errors (listed on
stderr; the table or JSON is still printed) or is empty, 2 when the file cannot be read.
Ids, names and messages are printed with control characters escaped (:mod:`cli.safety`).
"""

from __future__ import annotations

import argparse
import json
import sys

from cli import load_graph_arg, tolerant_stdout
from cli.safety import EXIT_REFUSED, EXIT_UNREADABLE, escape, report
from engine.analysis.analyzer import Analysis, analyze
from engine.core.errors import FormatError

COLUMNS = ("id", "type", "output", "params", "MACs", "receptive field", "error")
RIGHT = {"params", "MACs"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``summary`` arguments to ``parser``."""
    parser.add_argument("file", nargs="?", help="a .json graph file")
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON instead of the table"
    )
    parser.add_argument(
        "--template",
        metavar="NAME",
        help="summarise a built-in template instead of a file (e.g. inception3a_reduced)",
    )


def rf_text(rf: dict | None) -> str:
    """``{"size": [7, 7], "jump": [2, 2], "start": [-3, -3]}`` → ``7×7 /2 @-3``."""
    if rf is None:
        return "-"
    (sh, sw), (jh, jw), (st_h, st_w) = rf["size"], rf["jump"], rf["start"]
    jump = f"{jh}" if jh == jw else f"{jh},{jw}"
    start = f"{st_h}" if st_h == st_w else f"{st_h},{st_w}"
    return f"{sh}×{sw} /{jump} @{start}"


def human(n: float, unit: str = "", base: int = 1000) -> str:
    """``25557032`` → ``25.56 M``; with ``base=1024`` and unit ``B``: ``MiB`` and so on."""
    prefixes = ["", "K", "M", "G", "T", "P"]
    i = 0
    x = float(n)
    while abs(x) >= base and i < len(prefixes) - 1:
        x /= base
        i += 1
    if i == 0:
        return f"{int(n)} {unit}".rstrip()
    suffix = prefixes[i] + ("i" if base == 1024 else "")
    return f"{x:.2f} {suffix}{unit}"


def table(analysis: Analysis) -> str:
    """The per-node table with aligned columns."""
    rows = []
    for nd in analysis.to_dict()["nodes"]:
        shape = "×".join(str(d) for d in nd["shape"]) if nd["shape"] is not None else "-"
        rows.append(
            (
                escape(nd["id"]),
                nd["type"],
                shape,
                f"{nd['params']:,}",
                f"{nd['macs']:,}",
                rf_text(nd["rf"]),
                escape(nd["error"] or ""),
            )
        )
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(COLUMNS)]

    def line(cells) -> str:
        out = []
        for name, cell, w in zip(COLUMNS, cells, widths):
            out.append(cell.rjust(w) if name in RIGHT else cell.ljust(w))
        return "  ".join(out).rstrip()

    lines = [line(COLUMNS), line(["-" * w for w in widths])]
    lines.extend(line(r) for r in rows)
    return "\n".join(lines)


def totals_text(analysis: Analysis) -> str:
    """The totals block."""
    t = analysis.totals

    def count(n: int) -> tuple[str, str]:
        return f"{n:,}", (human(n) if n >= 1000 else "")

    def size(n: int) -> tuple[str, str]:
        return f"{n:,} B", (human(n, "B", 1024) if n >= 1024 else "")

    items = [
        ("params", *count(t.params)),
        ("weights", *count(t.weights)),
        ("biases", *count(t.biases)),
    ]
    if t.other:
        items.append(("other (BatchNorm)", *count(t.other)))
    items += [
        ("MACs", *count(t.macs)),
        ("activation memory", *size(t.activation_bytes)),
        ("peak activation memory", *size(t.peak_activation_bytes)),
    ]
    if t.output_rf is not None:
        (sh, jh, st_h), (sw, jw, st_w) = t.output_rf
        rf = rf_text({"size": [sh, sw], "jump": [jh, jw], "start": [st_h, st_w]})
        items.append(("output receptive field", rf, f"at '{escape(t.output)}'"))
    wl = max(len(i[0]) for i in items)
    wv = max(len(i[1]) for i in items)
    lines = [f"  {k.ljust(wl)}  {v.rjust(wv)}" + (f"  ({h})" if h else "") for k, v, h in items]
    return "Totals\n" + "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the summary; return the exit status (0 ok, 1 graph errors, 2 unreadable)."""
    tolerant_stdout()
    try:
        model, source = load_graph_arg(args)
    except FormatError as exc:
        report("summary", exc)
        return EXIT_UNREADABLE
    a = analyze(model)
    if args.json:
        print(json.dumps(a.to_dict(), indent=1))
    else:
        print(f"{escape(model.name)} ({escape(source)}): {len(model)} nodes")
        print(table(a))
        print()
        print(totals_text(a))
    if not len(model):
        print(
            f"summary: {escape(source)}: the graph is empty; add an input node and some layers",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    errors = a.errors
    if errors:
        print(f"summary: {escape(source)}: the graph has {len(errors)} error(s):", file=sys.stderr)
        for node, message in errors:
            print(f"  {escape(node)}: {escape(message)}", file=sys.stderr)
        return EXIT_REFUSED
    return 0
