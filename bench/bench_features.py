"""Cost of capturing every feature map, and of re-running (``python -m bench.bench_features``).

Prints, for ResNet-50 at 224×224 with random weights:

1. capture ratio: a forward that returns every node's output (capture mode) against the
   plain forward, both in this process, interleaved, median of N runs (target ≤ 1.10);
   plus the whole :meth:`FeatureRunner.run` (preprocessing + statistics) against it;
2. the re-run memory effect: the same capture forward repeated in two fresh processes,
   one with glibc's default allocator settings and one after
   :func:`engine.features.tune_allocator`, with the minor page faults per run and the
   median time; the ratio default/tuned is the cost of allocating fresh pages each run;
3. the memory held: the maps' bytes against the analysis' activation total.

The machine is shared (2 cores, other jobs running): torch runs on ``--threads`` threads
(default 1, so a busy second core does not stall every parallel region) and each figure
is given as wall-clock and CPU time (``time.process_time``, which includes the kernel's
page-fault work but not the time other processes take).
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
    from engine.images import preprocess
    x, _ = preprocess(SAMPLE, 3, 224, mode="crop")
    return x


def _minflt() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _stime() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def child(tuned: bool, runs: int, hold: bool, threads: int) -> dict:
    """Repeat the capture forward; return times and page faults per run (JSON)."""
    import torch
    torch.set_num_threads(threads)
    from engine.features import tune_allocator
    from engine.torch_build import build_module
    if tuned:
        tune_allocator()
    g = _graph()
    module = build_module(g, seed=0, capture=True)
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
        with torch.inference_mode():
            out = module(x)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        faults.append(_minflt() - f0)
        kernel.append(_stime() - s0)
        kept = out  # the result lives until the next request (hold) or is dropped
        del out
    del kept
    return {"median": statistics.median(times[2:]), "cpu": statistics.median(cpu[2:]),
            "faults": statistics.median(faults[2:]), "kernel": statistics.median(kernel[2:]),
            "rss_mb": _rss_mb()}


def _run_child(tuned: bool, runs: int, hold: bool, threads: int) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_features", "--child",
           "tuned" if tuned else "default", "--runs", str(runs), "--threads", str(threads)]
    cmd += ["--hold"] if hold else []
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def capture_ratio(runs: int, threads: int) -> None:
    """Plain vs capture forward vs full run, interleaved in this process."""
    import torch
    from engine.analysis import analyze
    from engine.features import FeatureRunner
    from engine.torch_build import build_module
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
    for k, label in (("plain", "plain forward"), ("capture", "capture forward"),
                     ("run", "FeatureRunner.run")):
        print(f"  {label:<22} {w[k] * 1000:8.1f}  {w[k] / w['plain']:5.2f}×  {c[k] * 1000:8.1f}  "
              f"{c[k] / c['plain']:5.2f}×")
    print("  (target: capture ≤ 1.10× plain; run = preprocess + capture + statistics of "
          f"{len(runner.analysis.order)} nodes)")
    res = runner.run(image, mode="crop")
    maps = sum(m.nbytes for m in res.maps.values())
    total = analyze(g).totals.activation_bytes
    print(f"  memory held by one result: maps {maps / 2 ** 20:.1f} MiB = analysis activation "
          f"total {total / 2 ** 20:.1f} MiB ({maps / total:.3f}×; maps are views, no copies)")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one child measurement)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--child", choices=("default", "tuned"))
    ap.add_argument("--hold", action="store_true")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for the capture ratio (default 1)")
    ap.add_argument("--rerun-threads", type=int, default=2,
                    help="torch threads for the re-run measurement (default 2, as the worker: "
                         "the fresh pages come from the intra-op threads' arenas)")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child == "tuned", args.runs, args.hold, args.threads)))
        return 0
    capture_ratio(args.runs, args.threads)
    print(f"Re-running the capture forward (fresh processes, torch threads {args.rerun_threads}, "
          f"median per run):")
    for hold in (False, True):
        d = _run_child(False, args.runs, hold, args.rerun_threads)
        t = _run_child(True, args.runs, hold, args.rerun_threads)
        how = "previous result kept until the next run" if hold else \
            "previous result dropped before the next run"
        print(f"  {how}:")
        for name, r in (("glibc defaults", d), ("tune_allocator", t)):
            print(f"    {name}  wall {r['median'] * 1000:7.1f} ms  CPU {r['cpu'] * 1000:7.1f} ms "
                  f"(kernel {r['kernel'] * 1000:5.1f})  {r['faults']:6.0f} page faults/run "
                  f"= {r['faults'] * 4 / 1024:5.1f} MiB  RSS {r['rss_mb']:.0f} MiB")
        print(f"    defaults/tuned: wall {d['median'] / t['median']:.2f}×, CPU "
              f"{d['cpu'] / t['cpu']:.2f}×, page faults {d['faults']:.0f} vs {t['faults']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
