"""Re-create the training screenshots (from the repository root, under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \
        docs/screenshots/make_training_screenshots.py [WEIGHTS.safetensors]

and the window shot on a small laptop screen, saved as ``train_panel@1366x768.png``:

    xvfb-run -a -s "-screen 0 1366x768x24" env SHOT_SIZE=1366x768 \
        .venv/bin/python docs/screenshots/make_training_screenshots.py [WEIGHTS.safetensors]

* ``train_panel``: the main window with Run → Train… mid-run on the Tiny CNN (a short
  step budget): its curves, the ETA, and sparsity by depth random against trained;
* ``trained_localisation``: ``main.py features --weights`` on a held-out shapes image:
  the receptive-field box (red), the effective box (cyan) and the gradient heat overlay;
* ``sparsity_random_vs_trained``: ReLU sparsity by depth, random against trained.

The last two are the command line's own figures (made at the default size only: they
do not depend on the screen). WEIGHTS is a Tiny CNN trained on shapes (``main.py train
--template tiny_cnn --data shapes --steps 800 -o WEIGHTS``); without it the script trains
one first with ``--steps 400`` (97 % held-out; a few minutes on a busy machine).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shots import DEFAULT_SIZE, HERE, ROOT, SIZE, app, close, save, settle, wait_for, window

#: The shot's training run: short (the shot is taken mid-run, then it is cancelled).
SHOT_STEPS = 150
SHOT_AT_PERCENT = 55


def train_weights(out: Path, steps: int = 400) -> str:
    """Train the Tiny CNN on shapes with the command line; return the weights path."""
    subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "train", "--template", "tiny_cnn"]
        + ["--data", "shapes", "--steps", str(steps), "-o", str(out)],
        check=True,
    )
    return str(out)


def train_panel_shot(weights: str) -> None:
    """The window, Train dock open, mid-run; sparsity of the earlier trained weights too."""
    from safetensors.numpy import load_file

    qapp = app()
    win = window(qapp, autorun=False)
    win.load_template("tiny_cnn")
    inside = win.inside_host.ensure_panel()
    host = win.train_host
    host.ensure_panel()  # it records the feature runs' sparsity from now on
    seen = []
    inside.result_shown.connect(seen.append)
    # The trained series, from the earlier weights; then the random one.
    win.doc.set_weights(load_file(weights), "loaded", f"loaded from {Path(weights).name}")
    inside.run()
    wait_for(qapp, lambda: len(seen) == 1, 120)
    win.doc.reset_weights()
    inside.run()
    wait_for(qapp, lambda: len(seen) == 2, 120)
    inside.result_shown.disconnect(seen.append)
    panel = host.show_panel()
    settle(qapp, 0.5)
    panel.budget_kind.setCurrentIndex(panel.budget_kind.findData("steps"))
    panel.budget.setValue(SHOT_STEPS)
    panel.extra_config = {"shapes_train": 2000, "shapes_held_out": 300}
    percent = [0]
    panel.controller.progressed.connect(lambda pct, _points: percent.__setitem__(0, pct))
    panel.start()
    if not wait_for(qapp, lambda: percent[0] >= SHOT_AT_PERCENT, 600):
        print("training did not reach", SHOT_AT_PERCENT, "%:", panel.status.text())
    settle(qapp, 0.5)
    save(win, "train_panel")
    panel.cancel()
    wait_for(qapp, lambda: not panel.controller.busy, 30)
    close(qapp, win)


def cli_shots(weights: str) -> None:
    """The command line's localisation and sparsity figures for a held-out image."""
    from PIL import Image

    from engine.recipes.defaults import HELD_OUT_START
    from engine.recipes.shapes import shape_image

    tmp = Path(tempfile.mkdtemp())
    img, _, _ = shape_image(0, HELD_OUT_START + 31, (64, 64))
    Image.fromarray(img).resize((256, 256), Image.Resampling.NEAREST).save(tmp / "shape.png")
    out = tmp / "out"
    subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "features", "--template", "tiny_cnn"]
        + ["--image", str(tmp / "shape.png"), "--out", str(out), "--weights", weights],
        check=True,
    )
    shutil.copy(out / "localisation.png", HERE / "trained_localisation.png")
    shutil.copy(out / "sparsity_by_depth.png", HERE / "sparsity_random_vs_trained.png")
    print("saved trained_localisation.png sparsity_random_vs_trained.png")


def main(args: list[str]) -> int:
    t0 = time.perf_counter()
    weights = args[0] if args else train_weights(Path(tempfile.mkdtemp()) / "tiny.safetensors")
    train_panel_shot(weights)
    if SIZE == DEFAULT_SIZE:
        cli_shots(weights)
    print(f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
