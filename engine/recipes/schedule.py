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


def lr_at_fraction(fraction: float, base: float, warmup: float = 0.05) -> float:
    """Learning rate at ``fraction`` (0–1) of a time budget: the same shape as :func:`lr_at`.

    Linear warm-up over the first ``warmup`` of the time, then half a cosine to 0 at 1.
    """
    f = min(max(fraction, 0.0), 1.0)
    if f < warmup:
        return base * max(f / warmup, 0.01)
    t = (f - warmup) / (1.0 - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * t))
