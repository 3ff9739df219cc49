"""Import speed: ResNet-50 traced and converted into a design, against fx alone.

The model is ConvCanvas's own ResNet-50 export (torchvision is not in the app's
environment; the interop tests import torchvision's and give the same graph size).
Prints the median of 5 runs of ``import_module`` (trace, convert, analyse, lay out,
weights) and of ``torch.fx.symbolic_trace``, and their ratio. Torch is already imported.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import fx

from engine.interop.convert import import_module
from engine.runtime.build import build_module
from engine.templates import build


def _median(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    """Run the bench and print one line."""
    torch.set_num_threads(1)
    model = build_module(build("resnet50"))
    import_module(model)  # warm-up
    t_import = _median(lambda: import_module(model))
    t_fx = _median(lambda: fx.symbolic_trace(model))
    print(
        f"import ResNet-50: {t_import * 1000:.0f} ms; torch.fx.symbolic_trace alone "
        f"{t_fx * 1000:.0f} ms; ratio {t_import / t_fx:.1f}x (limit 500 ms)"
    )


if __name__ == "__main__":
    main()
