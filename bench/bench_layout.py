"""Layout speed: the wrapped layout (Auto-layout, templates) against the plain layered one.

Run with ``python -m bench.bench_layout`` (or ``python -m bench layout``). For chains of
200, 1,000 and 3,000 nodes and for collapsed ResNet-50 and GoogLeNet it prints the
median time of :func:`engine.blocks.layout.block_layout` (layered layout, then rows cut
to a 1600×1000 window) and its ratio to :func:`engine.core.layout.layered_layout` alone,
measured in the same run. Target: the wrapping costs at most about as much again as the
layered layout (ratio ≤ 3), so that it stays linear in the columns.
"""

from __future__ import annotations

import statistics
import time

from engine.blocks.layout import block_layout
from engine.core.graph import GraphModel
from engine.core.layout import layered_layout
from engine.templates import build


def chain(n: int) -> GraphModel:
    """An input and ``n - 1`` ReLUs in a row."""
    m = GraphModel(f"chain {n}")
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "n0", (0, 0))
    for i in range(1, n):
        m.add_node("relu", {}, f"n{i}", (0, 0))
        m.connect(f"n{i - 1}", f"n{i}")
    return m


def median_ms(fn, repeat: int) -> float:
    """The median wall-clock milliseconds of ``repeat`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    """Print the times and ratios."""
    cases = [(f"chain of {n}", chain(n)) for n in (200, 1000, 3000)]
    cases += [(key, build(key)) for key in ("resnet50", "googlenet")]
    for name, model in cases:
        repeat = 3 if len(model) > 1000 else 9
        wrapped = median_ms(lambda m=model: block_layout(m), repeat)
        layered = median_ms(lambda m=model: layered_layout(m), repeat)
        print(
            f"{name:16s} {len(model):5d} nodes  wrapped {wrapped:8.1f} ms  "
            f"layered {layered:8.1f} ms  ratio {wrapped / layered:5.2f}"
        )


if __name__ == "__main__":
    main()
