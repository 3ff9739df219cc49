"""Shared by the worker tests: a small graph, jobs that sleep, and a statistics check.

The worker process imports ``worker_jobs:SlowJob`` (or ``FullShmJob``) by name, so these
live in a plain module rather than in a test file.
"""

from __future__ import annotations

import time

import pytest

from engine.core.graph import GraphModel
from engine.worker.client import FeatureJob


def small_graph(width: int = 8) -> GraphModel:
    """input 3×32×32 → conv → relu → maxpool → conv → relu → gap → flatten → linear."""
    m = GraphModel("small")
    m.add_node("input", {"channels": 3, "height": 32, "width": 32}, "input")
    m.add_node("conv", {"out_channels": width, "kernel_size": 3, "padding": 1}, "c1")
    m.add_node("relu", {}, "r1")
    m.add_node("maxpool", {"kernel_size": 2}, "p1")
    m.add_node("conv", {"out_channels": 16, "kernel_size": 3}, "c2")
    m.add_node("relu", {}, "r2")
    m.add_node("global_avgpool", {}, "gap")
    m.add_node("flatten", {}, "flat")
    m.add_node("linear", {"out_features": 10}, "fc")
    chain = ["input", "c1", "r1", "p1", "c2", "r2", "gap", "flat", "fc"]
    for a, b in zip(chain, chain[1:]):
        m.connect(a, b)
    return m


class SlowJob(FeatureJob):
    """A real feature job whose layers each sleep (so a run can be interrupted)."""

    DELAY = 0.05

    def run(self, request, progress):
        """Run with a sleeping pre-hook on every layer of the built module."""
        import torch

        def sleepy(_m, _a):
            time.sleep(self.DELAY)

        handle = torch.nn.modules.module.register_module_forward_pre_hook(sleepy)
        try:
            return super().run(request, progress)
        finally:
            handle.remove()


class StuckJob(FeatureJob):
    """A job stuck in one long step that cannot be aborted between layers."""

    def run(self, request, progress):
        """Say it started, then sleep far longer than any test waits."""
        progress(1, "stuck")
        time.sleep(30)
        return super().run(request, progress)


class FullShmJob(FeatureJob):
    """A real feature job in a worker whose shared memory fills up halfway through a write."""

    def __init__(self) -> None:
        import errno
        import os

        import engine.worker.messages as messages

        super().__init__()

        def write_half_then_full(fd, data, offset):
            os.pwrite(fd, data[: len(data) // 2], offset)  # a partial file is on disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        messages._write_at = write_half_then_full


def assert_same_stats(a: dict, b: dict) -> None:
    """Equal statistics; mean, std, min and max up to float summation order (threads differ)."""
    assert a.keys() == b.keys()
    for n in a:
        x, y = a[n], b[n]
        assert (x.sparsity, x.near_zero, x.argmax) == (y.sparsity, y.near_zero, y.argmax), n
        # The worker's thread count may differ from the test's: conv sums differ in the last bit.
        assert x.min == pytest.approx(y.min, rel=1e-5, abs=1e-7), n
        assert x.max == pytest.approx(y.max, rel=1e-5, abs=1e-7), n
        assert x.mean == pytest.approx(y.mean, rel=1e-5, abs=1e-7), n
        assert x.std == pytest.approx(y.std, rel=1e-5, abs=1e-7), n
