"""Training defaults shared by the loop, the command line, the window and the exported script."""

from __future__ import annotations

DEFAULT_SECONDS = 120.0
DEFAULT_BATCH = 64
DEFAULT_LR = 3e-3
WEIGHT_DECAY = 5e-4
#: ImageNet's per-channel mean and standard deviation (RGB), the default normalisation.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Images of the ``shapes`` training pool and held-out set (by default).
SHAPES_TRAIN = 6000
SHAPES_HELD_OUT = 600
#: Index of the first held-out ``shapes`` image (disjoint from the training indices).
HELD_OUT_START = 1_000_000_000
