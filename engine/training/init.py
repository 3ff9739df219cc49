"""Fine-tuning: the weights a training run starts from, read from a file.

``train --weights INIT`` and the Train panel's "Start from: a weights file…" both call
:func:`initial_state`. The file is read and matched like any other weights file
(:func:`engine.runtime.weights.read_state_dict`, module targets, torchvision's keys, old
flat names migrated), with one difference made for fine-tuning: when only the classifier
head (the last linear layer) has other shapes — ImageNet's 1000 classes against the 6 of
the shapes data — the head starts from the seeded random weights and a note says so.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.core.graph import GraphLike


def _head(module, graph: GraphLike) -> str | None:
    """The ``state_dict`` prefix of the last linear layer (``fc``), or ``None``."""
    g = getattr(graph, "graph", graph)
    sinks = [n for n in g.nodes if g.out_degree(n) == 0]
    if len(sinks) != 1 or g.nodes[sinks[0]].get("type") != "linear":
        return None
    keys = list(module.state_dict())
    return keys[-1].rpartition(".")[0] if keys else None


def initial_state(graph: GraphLike, path: str | os.PathLike) -> tuple[dict, list[str]]:
    """The tensors to start training ``graph`` from, read from ``path``, and the notes.

    Parameters
    ----------
    graph : GraphModel
        The design to train (ending in its classifier head).
    path : str or PathLike
        A ``.safetensors``, ``.pt`` or ``.pth`` state dict.

    Returns
    -------
    (dict, list of str)
        ``{model key: tensor}`` (the head left out when its shapes differ) and one line
        per note (a migration, auxiliary heads set aside, a new head).

    Raises
    ------
    WeightsError
        When the file cannot be read, or any layer but the head does not fit.
    """
    from engine.core.filesafety import limit_for
    from engine.runtime.build import build_module
    from engine.runtime.weights import WeightsError, check_state_dict, legacy_keys, read_state_dict
    from engine.weights.fit import fit_keys, migrate_state, shape_text

    path = str(path)
    module = build_module(graph, seed=0)
    state = read_state_dict(path, limit_for(sum(t.numel() for t in module.state_dict().values())))
    legacy = legacy_keys(graph)
    try:
        fit = check_state_dict(module, state, path, legacy)
    except WeightsError as exc:
        head = _head(module, graph)
        if head is None or exc.missing or exc.unexpected or not exc.mismatched:
            raise
        if any(k.rpartition(".")[0] != head for k, _want, _got in exc.mismatched):
            raise
        own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        found = {k: tuple(v.shape) for k, v in state.items()}
        fit = fit_keys(own, found, legacy, Path(path).name)
        fit.set_aside += [k for k in state if fit.rename.get(k, k).rpartition(".")[0] == head]
        _key, want, got = exc.mismatched[0]
        fit.notes.append(
            f"{Path(path).name}: the head '{head}' is {shape_text(got)} in the file and "
            f"{shape_text(want)} here (another class count): it starts from random weights"
        )
    return migrate_state(state, fit), fit.notes
