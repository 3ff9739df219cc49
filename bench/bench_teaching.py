"""The teaching claims, measured (issue 13): sparsity by depth and localisation, random vs trained.

For the Tiny CNN on ``shapes`` held-out images (never seen in training): the mean fraction
of exact zeros of every ReLU output, random weights (seed 0) against trained ones, and how
often the effective receptive field's box (:mod:`engine.runtime.effective_rf`) lands on
the object (its centre within 20 % of the image size of the true box's centre), with the
mean area of both boxes. Prints markdown tables for docs/teaching.md.

``python -m bench teaching`` trains 400 steps first; ``python -m bench.bench_teaching
WEIGHTS.safetensors`` measures a Tiny CNN trained elsewhere (``main.py train``).
"""

from __future__ import annotations

import sys

import numpy as np

IMAGES = 50


def measure(state: dict | None, size: int = 64, images: int = IMAGES):
    """``(per-ReLU mean sparsity {node: (depth, value)}, hits, rf area, effective area)``."""
    from cli.features_outputs import localise
    from engine.recipes.defaults import HELD_OUT_START
    from engine.recipes.shapes import shape_image
    from engine.runtime.features import FeatureRunner
    from engine.runtime.weights import apply_partial
    from engine.templates.tiny import tiny_cnn

    g = tiny_cnn(size=size)
    runner = FeatureRunner(g, seed=0)
    if state is not None:
        apply_partial(runner.module, state)
    sums: dict[str, list[float]] = {}
    hits, rf_area, eff_area = 0, [], []
    for i in range(images):
        img, _label, (x0, y0, x1, y1) = shape_image(0, HELD_OUT_START + 20_000 + i, (size, size))
        r = runner.run(img)
        for n in r.order:
            if r.types[n] == "relu":
                sums.setdefault(n, []).append(r.stats[n].sparsity)
        loc = localise(r, runner)
        ex0, ey0, ex1, ey1 = loc["effective_box"]
        bx0, by0, bx1, by1 = loc["rf_box"]
        ok = (
            abs((ex0 + ex1 - x0 - x1) / 2) <= 0.2 * size
            and abs((ey0 + ey1 - y0 - y1) / 2) <= 0.2 * size
        )
        hits += ok
        rf_area.append((bx1 - bx0) * (by1 - by0) / size**2)
        eff_area.append((ex1 - ex0) * (ey1 - ey0) / size**2)
    depth = {n: runner.depth[n] for n in sums}
    return (
        {n: (depth[n], float(np.mean(v))) for n, v in sums.items()},
        hits,
        float(np.mean(rf_area)),
        float(np.mean(eff_area)),
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        from engine.runtime.weights import read_state_dict

        state = {k: v.numpy() for k, v in read_state_dict(argv[0]).items()}
        source = argv[0]
    else:
        from engine.templates.tiny import tiny_cnn
        from engine.training.loop import TrainConfig, train

        r = train(tiny_cnn(), TrainConfig(steps=400, batch=64, seed=0))
        state = r.state
        source = f"400 steps here, held-out accuracy {r.accuracy:.3f}"
    rand = measure(None)
    trained = measure(state)
    print(f"Tiny CNN on {IMAGES} held-out shapes images; trained weights: {source}\n")
    print("| ReLU | depth | zeros, random (seed 0) | zeros, trained |")
    print("|---|---|---|---|")
    for n, (d, v) in rand[0].items():
        print(f"| {n} | {d} | {v:.1%} | {trained[0][n][1]:.1%} |")
    print()
    print("| weights | effective box on the object | mean RF box area | mean effective box area |")
    print("|---|---|---|---|")
    for name, m in (("random, seed 0", rand), ("trained", trained)):
        print(f"| {name} | {m[1]}/{IMAGES} | {m[2]:.1%} of the image | {m[3]:.1%} of the image |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
