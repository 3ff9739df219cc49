"""The learning-rate schedule: a linear warm-up, then a cosine decay to zero.

Standalone (no imports from the project): the exported ``train.py`` carries this source.
"""

from __future__ import annotations

import math


def warmup_steps(total: int) -> int:
    """Warm-up length: 5 % of the steps, at least 1 and at most 100."""
    return max(1, min(100, total // 20))


def lr_at(step: int, total: int, base: float) -> float:
    """Learning rate of step ``step`` (0-based) of ``total``.

    Rises linearly from ``base / warm-up`` to ``base`` over :func:`warmup_steps`, then
    follows half a cosine from ``base`` down to 0 at step ``total``.
    """
    warm = warmup_steps(total)
    if step < warm:
        return base * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))
