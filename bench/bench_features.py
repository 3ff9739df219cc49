"""Cost of capturing every feature map, and of re-running (``python -m bench.bench_features``).

Prints, for ResNet-50 at 224×224 with random weights:

1. capture ratio: a forward that returns every node's output (capture mode) against the
   plain forward, both in this process, interleaved, median of N runs (target ≤ 1.10);
   plus the whole :meth:`FeatureRunner.run` (preprocessing + statistics) against it;
2. the re-run memory effect: the capture forward (and the whole run) repeated in fresh
   processes, some with glibc's default allocator settings and some after
   :func:`engine.runtime.features.tune_allocator`: minor page faults per run (fresh 4 KiB pages the
   kernel must zero-fill), CPU and kernel time, RSS. glibc's defaults vary from process to
   process (sometimes almost no faults, sometimes 10,000+ per run), hence ``--repeats``;
3. the memory held: the maps' bytes against the analysis' activation total.

The machine is shared (2 cores, other jobs running): torch runs on ``--threads`` threads
(default 1, so a busy second core does not stall every parallel region) for the ratio,
and on as many threads as the worker uses for the re-run part. Figures are given as
wall-clock and CPU time (``time.process_time``, which includes the kernel's page-fault
work but not the time other processes take); page-fault counts do not depend on load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "resources" / "sample.png"


def _graph():
    from engine.templates import resnet50

    return resnet50()


def _input(graph):
    from engine.runtime.images import preprocess

    x, _ = preprocess(SAMPLE, 3, 224, mode="crop")
    return x


def _minflt() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _stime() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(tuned: bool, runs: int, hold: bool, threads: int, full: bool) -> dict:
    """Repeat the capture forward (or a whole FeatureRunner.run); times and page faults (JSON)."""
    import torch

    torch.set_num_threads(threads)
    from engine.runtime.features import FeatureRunner

    g = _graph()
    runner = FeatureRunner(g, seed=0, tune_memory=tuned)
    image = runner.run(SAMPLE, mode="crop").image
    x = torch.from_numpy(_input(g)).unsqueeze(0)
    times, cpu, faults, kernel = [], [], [], []
    kept = None
    for _ in range(runs + 2):
        if not hold:
            kept = None  # the caller dropped the previous result before asking again
        f0 = _minflt()
        s0 = _stime()
        c0 = time.process_time()
        t0 = time.perf_counter()
        if full:
            out = runner.run(image, mode="crop")
        else:
            with torch.inference_mode():
                out = runner.module(x)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        faults.append(_minflt() - f0)
        kernel.append(_stime() - s0)
        kept = out  # the result lives until the next request (hold) or is dropped
        del out
    del kept
    return {
        "median": statistics.median(times[2:]),
        "cpu": statistics.median(cpu[2:]),
        "faults": statistics.median(faults[2:]),
        "kernel": statistics.median(kernel[2:]),
        "rss_mb": _rss_mb(),
    }


def _run_child(tuned: bool, runs: int, hold: bool, threads: int, full: bool = False) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "bench.bench_features",
        "--child",
        "tuned" if tuned else "default",
        "--runs",
        str(runs),
        "--threads",
        str(threads),
    ]
    cmd += (["--hold"] if hold else []) + (["--full"] if full else [])
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def capture_ratio(runs: int, threads: int) -> None:
    """Plain vs capture forward vs full run, interleaved in this process."""
    import torch

    from engine.analysis.analyzer import analyze
    from engine.runtime.build import build_module
    from engine.runtime.features import FeatureRunner

    torch.set_num_threads(threads)
    g = _graph()
    runner = FeatureRunner(g, seed=0)  # tunes the allocator in this process too
    plain = build_module(g, seed=0, capture=False)
    x = torch.from_numpy(_input(g)).unsqueeze(0)
    wall = {"plain": [], "capture": [], "run": []}
    cpu = {"plain": [], "capture": [], "run": []}
    image = runner.run(SAMPLE, mode="crop").image
    for i in range(runs + 2):
        for kind in ("plain", "capture", "run") if i % 2 else ("run", "capture", "plain"):
            c0 = time.process_time()
            t0 = time.perf_counter()
            if kind == "run":
                res = runner.run(image, mode="crop")
            else:
                with torch.inference_mode():
                    res = (plain if kind == "plain" else runner.module)(x)
            dt = time.perf_counter() - t0
            dc = time.process_time() - c0
            del res
            if i >= 2:
                wall[kind].append(dt)
                cpu[kind].append(dc)
    w = {k: statistics.median(v) for k, v in wall.items()}
    c = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"ResNet-50 224×224, median of {runs} interleaved runs, torch threads {threads}")
    print("                           wall ms  ratio     CPU ms  ratio")
    for k, label in (
        ("plain", "plain forward"),
        ("capture", "capture forward"),
        ("run", "FeatureRunner.run"),
    ):
        print(
            f"  {label:<22} {w[k] * 1000:8.1f}  {w[k] / w['plain']:5.2f}×  {c[k] * 1000:8.1f}  "
            f"{c[k] / c['plain']:5.2f}×"
        )
    print(
        "  (target: capture ≤ 1.10× plain; run = preprocess + capture + statistics of "
        f"{len(runner.analysis.order)} nodes)"
    )
    res = runner.run(image, mode="crop")
    maps = sum(m.nbytes for m in res.maps.values())
    total = analyze(g).totals.activation_bytes
    print(
        f"  memory held by one result: maps {maps / 2**20:.1f} MiB = analysis activation "
        f"total {total / 2**20:.1f} MiB ({maps / total:.3f}×; maps are views, no copies)"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one child measurement)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--child", choices=("default", "tuned"))
    ap.add_argument("--hold", action="store_true")
    ap.add_argument("--full", action="store_true", help="child: whole FeatureRunner.run")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads for the capture ratio (default 1)"
    )
    ap.add_argument(
        "--rerun-threads",
        type=int,
        default=None,
        help="torch threads for the re-run measurement (default: as the worker, "
        "one less than the CPU cores, at least 1)",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="fresh processes per setting in the re-run measurement",
    )
    args = ap.parse_args(argv)
    if args.child:
        print(
            json.dumps(child(args.child == "tuned", args.runs, args.hold, args.threads, args.full))
        )
        return 0
    if args.rerun_threads is None:
        args.rerun_threads = max(1, (os.cpu_count() or 2) - 1)
    capture_ratio(args.runs, args.threads)
    print(
        f"Re-running (fresh processes ×{args.repeats} per setting, torch threads "
        f"{args.rerun_threads}, median of {args.runs} runs each):"
    )
    cases = (
        (False, False, "capture forward, previous result dropped before the next run"),
        (False, True, "capture forward, previous result kept until the next run"),
        (True, False, "whole FeatureRunner.run, previous result dropped"),
    )
    for full, hold, how in cases:
        print(f"  {how}:")
        got = {False: [], True: []}
        for _ in range(args.repeats):  # glibc's default behaviour varies between processes
            for tuned in (False, True):
                got[tuned].append(_run_child(tuned, args.runs, hold, args.rerun_threads, full))
        for tuned, name in ((False, "glibc defaults"), (True, "tune_allocator")):
            rs = got[tuned]
            faults = sorted(r["faults"] for r in rs)
            cpu = statistics.median(r["cpu"] for r in rs)
            kernel = statistics.median(r["kernel"] for r in rs)
            rss = max(r["rss_mb"] for r in rs)
            print(
                f"    {name}: page faults/run {' '.join(f'{f:.0f}' for f in faults)} "
                f"(≤ {faults[-1] * 4 / 1024:.1f} MiB fresh)  CPU {cpu * 1000:.1f} ms "
                f"(kernel {kernel * 1000:.1f})  RSS ≤ {rss:.0f} MiB"
            )
        d = statistics.median(r["cpu"] for r in got[False])
        t = statistics.median(r["cpu"] for r in got[True])
        print(f"    CPU time defaults/tuned: {d / t:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
