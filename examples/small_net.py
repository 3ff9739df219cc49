"""A small hand-written PyTorch CNN to try File → Import PyTorch Model… (or main.py import).

    .venv/bin/python main.py import examples/small_net.py:SmallNet --input 3x64x64 \
        -o small_net.json --weights small_net.safetensors

A stem, two residual blocks (the second with a squeeze-and-excitation gate) and a
classifier head: every operation is one of ConvCanvas's node types.
"""

import torch
from torch import nn


class Residual(nn.Module):
    """conv-bn-relu-conv-bn plus the input (a 1×1 projection when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, gate: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.gate = (
            nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Conv2d(cout, cout // 4, 1),
                nn.ReLU(),
                nn.Conv2d(cout // 4, cout, 1),
                nn.Hardsigmoid(),
            )
            if gate
            else None
        )
        self.proj = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.gate is not None:
            y = y * self.gate(y)
        return torch.relu(y + self.proj(x))


class SmallNet(nn.Module):
    """Stem, two residual blocks, global average pool and a linear classifier."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()
        )
        self.block1 = Residual(16, 16)
        self.block2 = Residual(16, 32, stride=2, gate=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block2(self.block1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))
