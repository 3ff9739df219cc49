"""Training defaults shared by the loop, the command line, the window and the exported script."""

from __future__ import annotations

DEFAULT_SECONDS = 120.0
DEFAULT_BATCH = 64
DEFAULT_LR = 3e-3
WEIGHT_DECAY = 5e-4
