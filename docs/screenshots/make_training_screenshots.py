"""Re-create the training screenshots (issue 13), from the repository root:

    .venv/bin/python docs/screenshots/make_training_screenshots.py [WEIGHTS.safetensors]

* ``train_panel.png``: Run → Train… mid-run on the Tiny CNN, with its curves;
* ``trained_localisation.png``: ``main.py features --weights`` on a held-out shapes image:
  the receptive-field box (red), the effective box (cyan) and the gradient heat overlay;
* ``sparsity_random_vs_trained.png``: ReLU sparsity by depth, random against trained.

WEIGHTS is a Tiny CNN trained on shapes (``main.py train --template tiny_cnn --data shapes
-o WEIGHTS``); without it the last two shots are skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
os.environ["CONVCANVAS_NO_AUTOSAVE_PROMPT"] = "1"
os.environ.setdefault("CONVCANVAS_DATA_DIR", "/tmp/ccshots")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def train_panel_shot(weights: str | None = None) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from widgets.app import create_window

    win = create_window([], autorun=False, live=False)
    win.resize(1500, 950)
    win.show()
    win.load_template("tiny_cnn")
    inside = win.inside_host.ensure_panel()
    inside.result_shown.connect(lambda _r: app.quit())
    if weights is not None:  # the trained series of the sparsity plot, from earlier weights
        from safetensors.numpy import load_file

        win.doc.set_weights(load_file(weights), "loaded", "loaded from tiny.safetensors")
        win.train_host.ensure_panel()
        inside.run()
        app.exec()
        win.doc.reset_weights()
    inside.run()  # the random-weights series
    app.exec()
    inside.result_shown.disconnect()
    panel = win.train_host.show_panel()
    win.train_host.dock.setFloating(True)
    win.train_host.dock.resize(1300, 520)
    panel.budget_kind.setCurrentIndex(0)
    panel.budget.setValue(60)
    panel.extra_config = {"shapes_train": 2000, "shapes_held_out": 300}
    done = {"shot": False}

    def maybe_shoot(pct, _points) -> None:
        if pct >= 55 and not done["shot"]:
            done["shot"] = True
            QTimer.singleShot(
                200, lambda: (panel.grab().save(str(HERE / "train_panel.png")), panel.cancel())
            )

    panel.controller.progressed.connect(maybe_shoot)
    panel.controller.cancelled.connect(app.quit)
    panel.controller.finished.connect(lambda _r: app.quit())
    panel.controller.failed.connect(lambda m: (print(m), app.quit()))
    panel.start()
    app.exec()
    win.train_host.controller.close()
    win.inside_host.panel.close_worker()
    print("train_panel.png")


def cli_shots(weights: str) -> None:
    from PIL import Image

    from engine.recipes.defaults import HELD_OUT_START
    from engine.recipes.shapes import shape_image

    tmp = Path(tempfile.mkdtemp())
    img, _, _ = shape_image(0, HELD_OUT_START + 31, (64, 64))
    Image.fromarray(img).resize((256, 256), Image.Resampling.NEAREST).save(tmp / "shape.png")
    out = tmp / "out"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "features",
            "--template",
            "tiny_cnn",
            "--image",
            str(tmp / "shape.png"),
            "--out",
            str(out),
            "--weights",
            weights,
        ],
        check=True,
    )
    shutil.copy(out / "localisation.png", HERE / "trained_localisation.png")
    shutil.copy(out / "sparsity_by_depth.png", HERE / "sparsity_random_vs_trained.png")
    print("trained_localisation.png sparsity_random_vs_trained.png")


if __name__ == "__main__":
    t0 = time.perf_counter()
    train_panel_shot(sys.argv[1] if len(sys.argv) > 1 else None)
    if len(sys.argv) > 1:
        cli_shots(sys.argv[1])
    print(f"{time.perf_counter() - t0:.0f} s")
