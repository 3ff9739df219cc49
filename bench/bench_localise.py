"""Localisation speed: ``localise --count 100`` on the Tiny CNN, and one method's overlay in
the window for ResNet-18 at 224×224.

Run with ``python -m bench localise`` (headless: ``QT_QPA_PLATFORM=offscreen``). Targets:
``main.py localise --template tiny_cnn --data shapes --count 100`` under 10 s on 2 cores;
the image view showing a method's heat overlay and box within 100 ms of the run's result
arriving, and within 100 ms of choosing another method. References measured in the same
run: a bare ``python -c "import torch"`` (the command's start-up), and the image view
showing the same result without the localisation maps.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 7


def _child(argv: list[str]) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def bench_command() -> None:
    """``localise --count 100`` on the Tiny CNN against a bare torch import."""
    py = sys.executable
    bare = _child([py, "-c", "import torch"])
    run = _child(
        [py, "main.py", "localise", "--template", "tiny_cnn", "--data", "shapes", "--count", "100"]
    )
    print(
        f"localise --count 100, Tiny CNN: {run[0]:.2f} s wall, {run[1]:.2f} s CPU "
        f"(import torch alone: {bare[0]:.2f} s wall, {bare[1]:.2f} s CPU; ratio "
        f"{run[0] / bare[0]:.1f}x); target < 10 s; load average {os.getloadavg()[0]:.1f}"
    )


def bench_overlay() -> None:
    """ResNet-18 at 224×224: result → overlay shown, and a method switch, in the image view."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from engine.analysis.analyzer import analyze
    from engine.runtime.features import FeatureRunner
    from engine.runtime.localise import localise
    from engine.templates import build
    from widgets.rf_view import RFView

    g = build("resnet18")
    runner = FeatureRunner(g)
    result = runner.run(str(ROOT / "resources" / "sample.png"))
    t0 = time.perf_counter()
    done, skipped = localise(runner, result)
    worker_s = time.perf_counter() - t0
    result.extra["analysis"] = analyze(g)
    plain = type(result)(**{**result.__dict__, "extra": {"analysis": result.extra["analysis"]}})
    result.extra["localised"] = done
    result.extra["localise_skipped"] = skipped
    view = RFView()
    view.resize(420, 520)
    view.show()
    app.processEvents()

    def shown(r) -> float:
        t = time.perf_counter()
        view.set_result(r)
        view.repaint()
        view.plot.viewport().repaint()
        app.processEvents()
        return time.perf_counter() - t

    base = [shown(plain) for _ in range(REPEATS)]
    with_maps = [shown(result) for _ in range(REPEATS)]
    switch = []
    for i in range(REPEATS):
        t = time.perf_counter()
        view.set_method(("class_activation", "grad_cam", "effective", "receptive_field")[i % 4])
        view.plot.viewport().repaint()
        app.processEvents()
        switch.append(time.perf_counter() - t)
    med = statistics.median
    print(
        f"ResNet-18 224×224, image view: result with the overlay shown in "
        f"{1000 * med(with_maps):.1f} ms (max {1000 * max(with_maps):.1f}), without the maps "
        f"{1000 * med(base):.1f} ms; method switch {1000 * med(switch):.1f} ms "
        f"(max {1000 * max(switch):.1f}); target < 100 ms. (The worker's four methods took "
        f"{1000 * worker_s:.0f} ms before the result left it.)"
    )


def main() -> int:
    bench_command()
    bench_overlay()
    return 0


if __name__ == "__main__":
    sys.exit(main())
