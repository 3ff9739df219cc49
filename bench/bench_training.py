"""Training speed and window responsiveness (issue 13).

1. Samples per second of :func:`engine.training.loop.train` against a hand-written PyTorch
   loop of the same model (the exported Tiny CNN), batch, optimiser and thread count, on
   the same images (the hand-written loop gets them already normalised, as tensors).
   Rounds alternate (ours, reference, ...) and the median ratio is printed.
2. The longest event-loop stall of a window while the training worker runs, against the
   same loop idle, measured in the same run (a 5 ms timer's largest gap).

``python -m bench training``.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

ROUNDS = 5
STEPS = 20
BATCH = 64


def _reference(graph, data, steps: int, batch: int, lr: float) -> float:
    """A plain loop: exported module, AdamW, cross-entropy, pre-normalised tensors."""
    import torch
    import torch.nn.functional as F

    from engine.recipes.defaults import WEIGHT_DECAY
    from engine.runtime.build import build_module
    from engine.training.data import normalise

    model = build_module(graph, seed=0)
    model.train()
    x_all = torch.from_numpy(normalise(data.train_x, data.channels))
    y_all = torch.from_numpy(data.train_y)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y_all), generator=g)
    t0 = time.perf_counter()
    for step in range(steps):
        i = (step * batch) % (len(y_all) - batch + 1)
        idx = perm[i : i + batch]
        loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def speed() -> None:
    import torch

    from engine.templates.tiny import tiny_cnn
    from engine.training.data import shapes_data
    from engine.training.loop import TrainConfig, train

    g = tiny_cnn()
    data = shapes_data((64, 64), 3, seed=0, train=1024, held_out=64)
    ours, ref = [], []
    for _ in range(ROUNDS):
        r = train(g, TrainConfig(steps=STEPS, batch=BATCH, evals=0), data=data)
        ours.append(r.samples_per_second)
        ref.append(_reference(g, data, STEPS, BATCH, 3e-3))
    ratios = [a / b for a, b in zip(ours, ref)]
    print(
        f"Tiny CNN 3×64×64, batch {BATCH}, {torch.get_num_threads()} threads, {STEPS} steps × "
        f"{ROUNDS} rounds: train() {statistics.median(ours):.0f} samples/s, hand-written "
        f"{statistics.median(ref):.0f} samples/s, median ratio {statistics.median(ratios):.3f}, "
        f"best/best {max(ours) / max(ref):.3f} "
        f"(rounds: {', '.join(f'{x:.3f}' for x in ratios)}; target ≥ 0.9)"
    )


def stall() -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from widgets.app import create_window

    win = create_window([], autorun=False, live=False)
    win.show()
    from engine.templates.tiny import tiny_cnn

    win.set_model(tiny_cnn())
    win.inside_host.ensure_panel()
    panel = win.train_host.show_panel()
    panel.budget_kind.setCurrentIndex(0)
    panel.budget.setValue(20)
    panel.extra_config = {"shapes_train": 512, "shapes_held_out": 64}

    def gaps(seconds: float, during: bool) -> np.ndarray:
        ticks: list[float] = []
        state = {"on": not during}
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()) if state["on"] else None)
        timer.start()
        if during:
            panel.controller.progressed.connect(lambda *_: state.update(on=True))
            panel.controller.finished.connect(lambda *_: (state.update(on=False), app.quit()))
            panel.controller.failed.connect(lambda *_: app.quit())
            panel.start()
        else:
            QTimer.singleShot(int(seconds * 1000), app.quit)
        app.exec()
        timer.stop()
        return np.diff(ticks)

    idle = gaps(10.0, during=False)
    busy = gaps(0.0, during=True)
    print(
        f"event loop, 5 ms timer: idle longest gap {idle.max() * 1000:.1f} ms (p99 "
        f"{np.percentile(idle, 99) * 1000:.1f}); while training longest {busy.max() * 1000:.1f} ms "
        f"(p99 {np.percentile(busy, 99) * 1000:.1f}, {len(busy)} ticks); target < 50 ms"
    )
    win.train_host.controller.close()
    win.inside_host.panel.close_worker()


def main() -> int:
    speed()
    stall()
    return 0


if __name__ == "__main__":
    sys.exit(main())
