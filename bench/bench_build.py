"""Forward time of the built ResNet-50 template against a hand-written plain-torch ResNet-50.

    python -m bench.bench_build [--runs N] [--size S ...] [--threads T]

Both models run in the same process, alternately (so load on the shared machine hits
both alike), in eval mode under ``torch.inference_mode``; the ratio of medians is printed
per input size. The reference is written the way torchvision writes it (nested
``nn.Sequential`` blocks, in-place ReLU and ``+=``); the built model is the flat
generated code of :func:`engine.runtime.build.build_module`. Target: ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.runtime.build import build_module  # noqa: E402
from engine.templates import resnet50  # noqa: E402


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck: 1x1, 3x3 (with the stride), 1x1 ×4, shortcut, ReLU."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet50(nn.Module):
    """Hand-written ResNet-50 (layers [3, 4, 6, 3], 1000 classes)."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        stages = []
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            layers = []
            for i in range(blocks):
                layers.append(Bottleneck(cin, planes, stride if i == 0 else 1))
                cin = planes * 4
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _time(model: nn.Module, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    model(x)
    return time.perf_counter() - t0


def measure(size: int, runs: int) -> tuple[float, float]:
    """Median forward seconds (built, reference) at 3×size×size, batch 1."""
    graph = resnet50()
    inp = next(n for n in graph.nodes if graph.node_type(n) == "input")
    graph.set_params(inp, {"height": size, "width": size})
    built = build_module(graph).eval()
    ref = ResNet50().eval()
    n_built = sum(p.numel() for p in built.parameters())
    n_ref = sum(p.numel() for p in ref.parameters())
    assert n_built == n_ref, (n_built, n_ref)
    x = torch.randn(1, 3, size, size)
    tb, tr = [], []
    with torch.inference_mode():
        for _ in range(3):
            built(x)
            ref(x)
        for i in range(runs):
            if i % 2:
                tb.append(_time(built, x))
                tr.append(_time(ref, x))
            else:
                tr.append(_time(ref, x))
                tb.append(_time(built, x))
    return statistics.median(tb), statistics.median(tr)


def main(argv: list[str] | None = None) -> int:
    """Print the built / hand-written forward-time ratio for each size."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--size", type=int, nargs="+", default=[224, 64])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 1, "
        f"{args.runs} alternating runs, medians"
    )
    for size in args.size:
        b, r = measure(size, args.runs)
        print(
            f"ResNet-50 3x{size}x{size}: built {b * 1e3:8.2f} ms   hand-written "
            f"{r * 1e3:8.2f} ms   ratio {b / r:.3f}  (target <= 1.05)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
