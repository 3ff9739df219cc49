"""Test settings shared by every test: headless Qt, and small helpers."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CONVCANVAS_NO_AUTOSAVE_PROMPT", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def one_torch_thread():
    """Run small torch models on one thread (steadier on a shared 2-core machine)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

# Every hypothesis test draws the same examples on every run (CI must not flake); a test
# may still ask for more examples or another deadline with its own @settings.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("convcanvas", derandomize=True, deadline=None,
                                      print_blob=True)
_hypothesis_settings.load_profile("convcanvas")
