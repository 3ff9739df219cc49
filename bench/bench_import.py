"""Import speed: models traced and converted into a design, against the tracer alone.

Prints, per model, the median of 5 runs of ``import_module`` (trace at the concrete input
size, patterns, convert, analyse, lay out, weights) and of ``torch.fx.symbolic_trace``
alone, their ratio, and the target. Torch (and timm) are already imported.

- ResNet-50: ConvCanvas's own ResNet-50 template, built (always; limit 0.5 s);
- timm's ResNet-50, EfficientNet-B0 (limit 1 s) and ConvNeXt-Atto: only where timm is
  installed, i.e. from the interop environment::

      ENV=$(PYTHON=python3.11 bash tests/interop/build_env.sh)
      PYTHONPATH=$PWD $ENV/bin/python -m bench.bench_import

  (``fx.symbolic_trace`` cannot trace timm's shape-dependent models; for those the
  reference is ConvCanvas's tracer alone, ``engine.interop.trace.trace``.)
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import fx

from engine.interop.convert import import_module
from engine.interop.trace import trace
from engine.runtime.build import build_module
from engine.templates import build

SIZE = (3, 224, 224)


def _median(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _row(label: str, model: torch.nn.Module, limit: float | None) -> str:
    import_module(model, SIZE)  # warm-up
    t_import = _median(lambda: import_module(model, SIZE))
    try:
        fx.symbolic_trace(model)
        ref, what = _median(lambda: fx.symbolic_trace(model)), "fx.symbolic_trace"
    except Exception:  # noqa: BLE001 - shape-dependent code: fx alone cannot trace it
        ref, what = _median(lambda: trace(model, SIZE)), "the concrete-shape tracer"
    cap = f" (limit {limit * 1000:.0f} ms)" if limit else ""
    return (
        f"import {label}: {t_import * 1000:.0f} ms; {what} alone {ref * 1000:.0f} ms; "
        f"ratio {t_import / ref:.1f}x{cap}"
    )


def main() -> None:
    """Run the bench and print one line per model."""
    torch.set_num_threads(1)
    print(_row("ResNet-50 (template)", build_module(build("resnet50")), 0.5))
    try:
        import timm
    except ImportError:
        print("timm is not installed here: run from the interop environment for timm's models")
        return
    for name, label, limit in (
        ("resnet50", "timm ResNet-50", 0.5),
        ("efficientnet_b0", "timm EfficientNet-B0", 1.0),
        ("convnext_atto", "timm ConvNeXt-Atto", None),
    ):
        print(_row(label, timm.create_model(name, pretrained=False).eval(), limit))


if __name__ == "__main__":
    main()
