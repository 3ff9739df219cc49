"""One design's training state, as the Train panel shows it.

Every design tab has its own :class:`TrainState` (kept by
:class:`~widgets.train_host.TrainHost`): the loss and accuracy points of its last run,
its sparsity-by-depth series (random and trained), its progress and status line. The
Train panel shows the current tab's state, so a switch never shows another design's data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

IDLE_TEXT = "Train the design on the built-in shapes or on your images."


@dataclass
class TrainState:
    """The training curves, sparsity series, progress and status of one design."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    accs: list[float] = field(default_factory=list)
    held: list[tuple[int, float]] = field(default_factory=list)
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    progress: int = 0
    status: str = IDLE_TEXT
    last_result: object = None

    def clear_run(self) -> None:
        """Forget the last run's curves (a new run starts)."""
        self.steps, self.losses, self.accs, self.held = [], [], [], []
        self.progress = 0
