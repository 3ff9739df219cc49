"""Number formatting for every panel: ``157,184``, ``1.2 M``, ``3.1 MiB``, receptive fields."""

from __future__ import annotations

MINUS = "\u2212"  # a real minus sign, as typeset


def fmt_int(n: int | float) -> str:
    """Thousands separators: ``157184`` → ``157,184``; negatives with a real minus sign."""
    n = int(n)
    return (MINUS if n < 0 else "") + f"{abs(n):,}"


def fmt_signed(n: int | float) -> str:
    """An integer with its sign always shown: ``+1,024``, ``−229,888``, ``±0``."""
    n = int(n)
    if n == 0:
        return "\u00b10"
    return ("+" if n > 0 else MINUS) + f"{abs(n):,}"


def fmt_compact(n: int | float) -> str:
    """Short form for big counts: ``950``, ``12.3 k``, ``1.2 M``, ``4.1 G``."""
    n = float(n)
    sign = MINUS if n < 0 else ""
    a = abs(n)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= limit:
            v = a / limit
            text = f"{v:.1f}" if v < 100 else f"{v:.0f}"
            return f"{sign}{text} {suffix}"
    return f"{sign}{int(a)}"


def fmt_bytes(n: int | float) -> str:
    """Bytes in binary units: ``512 B``, ``2.0 KiB``, ``3.1 MiB``, ``1.5 GiB``."""
    n = float(n)
    sign = MINUS if n < 0 else ""
    a = abs(n)
    for limit, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if a >= limit:
            v = a / limit
            text = f"{v:.1f}" if v < 100 else f"{v:.0f}"
            return f"{sign}{text} {suffix}"
    return f"{sign}{int(a)} B"


def fmt_percent(delta: float, base: float) -> str:
    """The change ``delta`` relative to ``base`` as ``−59.4%``; empty when ``base`` is 0."""
    if not base:
        return ""
    p = 100.0 * delta / base
    if abs(p) < 0.05:
        return "\u00b10.0%"
    return ("+" if p > 0 else MINUS) + f"{abs(p):.1f}%"


def fmt_rf_size(rf) -> str:
    """The size of a receptive field: ``7×7`` (or ``?`` if unknown)."""
    if rf is None:
        return "?"
    (sh, _, _), (sw, _, _) = rf
    return f"{sh}×{sw}"


def fmt_rf(rf) -> str:
    """A receptive field in full: ``size 7×7, jump 2×2, start −3,−3``."""
    if rf is None:
        return "?"
    (sh, jh, st_h), (sw, jw, st_w) = rf
    start = fmt_int(st_h) if st_h == st_w else f"{fmt_int(st_h)},{fmt_int(st_w)}"
    jump = f"{jh}" if jh == jw else f"{jh}×{jw}"
    return f"size {sh}×{sw} · jump {jump} · start {start}"
