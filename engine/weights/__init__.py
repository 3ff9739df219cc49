"""Weights files without torch: what a file holds, and how its keys meet a model's.

The weights module is two halves with one job:

- here (no torch, usable by the editor, the panels and the command line's checks):
  :mod:`~engine.weights.header` lists a ``.safetensors`` file's tensors (dtype, shape)
  and metadata from its JSON header alone; :mod:`~engine.weights.fit` matches a file's
  ``{key: shape}`` against a model's (module targets are the keys; files of the earlier
  flat-name release are migrated; torchvision's training-only auxiliary heads are set
  aside) and writes the message of a file that does not fit;
- :mod:`engine.runtime.weights` (torch): the one entry point that reads tensors
  (:func:`~engine.runtime.weights.read_state_dict`: the ``safetensors`` library, or
  ``torch.load(..., weights_only=True)`` for ``.pt`` / ``.pth``), writes them, and loads
  them into a live model all-or-nothing.
"""

from engine.weights.fit import Fit, closest_design, fit_keys, migrate_state, mismatch_lines
from engine.weights.header import TensorInfo, WeightsHeader, is_safetensors, read_header

__all__ = [
    "Fit",
    "TensorInfo",
    "WeightsHeader",
    "closest_design",
    "fit_keys",
    "is_safetensors",
    "migrate_state",
    "mismatch_lines",
    "read_header",
]
