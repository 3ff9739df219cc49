"""A comparison as text: the cells of the totals table, aligned text and Markdown.

Shared by ``main.py compare``, the compare view's table and its Markdown export, so the
three show the same numbers in the same words.
"""

from __future__ import annotations

from engine.analysis.compare import Comparison, DesignSummary
from engine.formatting import fmt_bytes, fmt_compact, fmt_int, fmt_percent, fmt_signed
from engine.nodes import fmt_shape

#: Summed rows: (label, totals key, kind) — kind says how to print the number.
SUM_ROWS = (
    ("params", "params", "count"),
    ("weights", "weights", "count"),
    ("biases", "biases", "count"),
    ("MACs", "macs", "compact"),
    ("activation memory", "activation_bytes", "bytes"),
    ("peak activation memory", "peak_activation_bytes", "bytes"),
)
#: The other rows, in order after the sums.
OTHER_ROWS = ("output receptive field", "output shape", "depth (nodes)", "conv/linear layers")


def value_text(kind: str, n: int) -> str:
    """``157,184``, ``123 M`` or ``4.4 MiB`` by ``kind`` (count, compact, bytes)."""
    if kind == "bytes":
        return fmt_bytes(n)
    if kind == "compact":
        return fmt_compact(n)
    return fmt_int(n)


def delta_text(kind: str, d: int, base: int) -> str:
    """``−229,888 (−59.4%)``; ``±0`` when equal."""
    if d == 0:
        return "\u00b10"
    text = fmt_signed(d) if kind == "count" else ("+" if d > 0 else "") + value_text(kind, d)
    pct = fmt_percent(d, base)
    return f"{text} ({pct})" if pct else text


def rf_text(rf) -> str:
    """A receptive field in short: ``7×7, jump 2`` (``-`` if unknown)."""
    if rf is None:
        return "-"
    (sh, jh, _), (sw, jw, _) = rf
    jump = f"{jh}" if jh == jw else f"{jh}×{jw}"
    return f"{sh}×{sw}, jump {jump}"


def _other(label: str, d: DesignSummary):
    """(text, comparable value) of a non-summed row."""
    if label == "output receptive field":
        rf = d.output_rf
        return rf_text(rf), (rf[0][0] * rf[1][0] if rf is not None else None)
    if label == "output shape":
        return fmt_shape(d.output_shape), d.output_shape
    if label == "depth (nodes)":
        return str(d.depth), d.depth
    return str(d.layers), d.layers


def cells(comp: Comparison) -> list[list[tuple[str, int | None]]]:
    """The table: a header row, then one row per quantity, as ``(text, sign)`` cells.

    Each non-baseline design has a value column and a change column; ``sign`` is the
    sign of the change (−1, 0, 1) in change cells and ``None`` elsewhere.
    """
    b = comp.baseline
    header: list[tuple[str, int | None]] = [("", None)]
    for i, d in enumerate(comp.designs):
        header.append((d.name + (" (baseline)" if i == b else ""), None))
        if i != b:
            header.append(("change", None))
    out = [header]
    base = comp.designs[b]
    for label, key, kind in SUM_ROWS:
        row: list[tuple[str, int | None]] = [(label, None)]
        for i, d in enumerate(comp.designs):
            row.append((value_text(kind, d.totals[key]), None))
            if i != b:
                diff = d.totals[key] - base.totals[key]
                row.append((delta_text(kind, diff, base.totals[key]), (diff > 0) - (diff < 0)))
        out.append(row)
    for label in OTHER_ROWS:
        row = [(label, None)]
        base_text, base_raw = _other(label, base)
        for i, d in enumerate(comp.designs):
            text, raw = _other(label, d)
            row.append((text, None))
            if i == b:
                continue
            if raw == base_raw:
                row.append(("same", 0))
            elif isinstance(raw, int) and isinstance(base_raw, int):
                if label == "output receptive field":
                    row.append(
                        ("larger" if raw > base_raw else "smaller", 1 if raw > base_raw else -1)
                    )
                else:
                    row.append((fmt_signed(raw - base_raw), 1 if raw > base_raw else -1))
            else:
                row.append(("differs", None))
        out.append(row)
    return out


def rows(comp: Comparison) -> list[list[str]]:
    """The table's texts (see :func:`cells`)."""
    return [[text for text, _ in row] for row in cells(comp)]


def table(comp: Comparison) -> str:
    """The comparison as an aligned text table (numbers right-aligned)."""
    texts = rows(comp)
    widths = [max(len(r[c]) for r in texts) for c in range(len(texts[0]))]
    lines = []
    for k, r in enumerate(texts):
        parts = [r[0].ljust(widths[0])]
        parts += [cell.rjust(w) for cell, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(comp: Comparison) -> str:
    """The comparison as a Markdown table (numbers right-aligned), for reports."""
    texts = rows(comp)
    head = "| " + " | ".join(_md_escape(c) or "quantity" for c in texts[0]) + " |"
    rule = "|" + "|".join([":---"] + ["---:"] * (len(texts[0]) - 1)) + "|"
    body = ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in texts[1:]]
    return "\n".join([head, rule, *body]) + "\n"
