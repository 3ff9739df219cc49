"""ONNX speed: export of ResNet-50 and import of a 600-node file, against references.

- Export: ``export_onnx`` of the ResNet-50 template (build, torch.onnx dynamo export,
  constant folding, naming, write; limit 10 s) against ``torch.onnx.export`` of the same
  module alone with torch's defaults, measured in the same run.
- Import: ``import_onnx`` of a 602-node file (100 residual blocks, Conv-BN-Relu-Conv-BN-
  Add-Relu, written with onnx.helper; limit 1 s) against ``onnx.load`` of that file alone.

Run by hand: ``python -m bench.bench_onnx``.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def _median(fn, runs: int, clock=time.perf_counter) -> float:
    times = []
    for _ in range(runs):
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times)


def residual_file(path: Path, blocks: int = 100, channels: int = 16, side: int = 32) -> int:
    """Write a chain of residual blocks as ONNX; return its node count."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for b in range(blocks):
        p = f"layer{b}"
        for k in (1, 2):
            w = rng.standard_normal((channels, channels, 3, 3)).astype(np.float32) * 0.05
            inits.append(numpy_helper.from_array(w, f"{p}.conv{k}.weight"))
            for s, v in (
                ("weight", 1.0),
                ("bias", 0.0),
                ("running_mean", 0.0),
                ("running_var", 1.0),
            ):
                inits.append(
                    numpy_helper.from_array(np.full(channels, v, np.float32), f"{p}.bn{k}.{s}")
                )
        src = prev
        nodes += [
            helper.make_node("Conv", [src, f"{p}.conv1.weight"], [f"{p}/c1"], name=f"{p}.conv1",
                             kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization", [f"{p}/c1"] + [f"{p}.bn1.{s}" for s in ("weight", "bias", "running_mean", "running_var")],
                             [f"{p}/b1"], name=f"{p}.bn1"),
            helper.make_node("Relu", [f"{p}/b1"], [f"{p}/r1"], name=f"{p}.relu1"),
            helper.make_node("Conv", [f"{p}/r1", f"{p}.conv2.weight"], [f"{p}/c2"], name=f"{p}.conv2",
                             kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization", [f"{p}/c2"] + [f"{p}.bn2.{s}" for s in ("weight", "bias", "running_mean", "running_var")],
                             [f"{p}/b2"], name=f"{p}.bn2"),
            helper.make_node("Add", [f"{p}/b2", src], [f"{p}/a"], name=f"{p}.add"),
            helper.make_node("Relu", [f"{p}/a"], [f"{p}/out"], name=f"{p}.relu2"),
        ]  # fmt: skip
        prev = f"{p}/out"
    nodes.append(helper.make_node("GlobalAveragePool", [prev], ["gap"], name="avgpool"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["y"], name="flatten"))
    g = helper.make_graph(
        nodes,
        "residual",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", channels, side, side])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return len(nodes)


def bench_import(folder: Path) -> str:
    """The import line."""
    import onnx

    from engine.onnx.convert import import_onnx

    path = folder / "residual.onnx"
    n = residual_file(path)
    import_onnx(path)  # warm-up
    t_import = _median(lambda: import_onnx(path), 5)
    t_load = _median(lambda: onnx.load(str(path)), 5)
    return (
        f"import of a {n}-node ONNX file: {t_import * 1000:.0f} ms (limit 1000 ms); "
        f"onnx.load alone {t_load * 1000:.0f} ms; ratio {t_import / t_load:.1f}x"
    )


def bench_export(folder: Path) -> str:
    """The export line."""
    import torch

    from engine.interop.onnx_export import export_onnx
    from engine.runtime.build import build_module
    from engine.templates import build

    g = build("resnet50")
    export_onnx(g, folder / "warm.onnx")  # warm-up (torch.onnx's first call registers ops)
    t_export = _median(lambda: export_onnx(g, folder / "r50.onnx"), 3)
    cpu = _median(lambda: export_onnx(g, folder / "r50.onnx"), 1, time.process_time)
    module = build_module(g)
    x = torch.randn(2, 3, 224, 224)

    def plain():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (x,), str(folder / "plain.onnx"), dynamo=True, verbose=False)

    t_plain = _median(plain, 3)
    return (
        f"export of ResNet-50: {t_export:.1f} s, CPU {cpu:.1f} s (limit 10 s); torch.onnx.export alone "
        f"{t_plain:.1f} s; ratio {t_export / t_plain:.2f}x"
    )


def main() -> None:
    """Run the bench and print one line per measurement."""
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(bench_import(folder))
        print(bench_export(folder))


if __name__ == "__main__":
    main()
